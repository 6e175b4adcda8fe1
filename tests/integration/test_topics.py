"""Topics are created with the cleanup policy of topics.py and the configured retention."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from mineral_sentinel.config import Settings
from mineral_sentinel.kafka_admin import ensure_configured_topics
from mineral_sentinel.topics import ALL_TOPICS

pytestmark = pytest.mark.integration


async def test_every_topic_gets_its_cleanup_policy_partitions_and_retention(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        topic_partitions=3,
        topic_retention_hours=2,
    )
    names = await ensure_configured_topics(settings, ALL_TOPICS)
    assert names == [spec.full_name(topic_prefix) for spec in ALL_TOPICS]
    assert await ensure_configured_topics(settings, ALL_TOPICS) == names, "idempotent"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics(names)}
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    finally:
        await admin.close()
    configs: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.resources:
            _, _, _, name, entries = resource[:5]
            configs[name] = {entry[0]: entry[1] for entry in entries}
    for spec in ALL_TOPICS:
        name = spec.full_name(topic_prefix)
        assert len(described[name]["partitions"]) == 3, name
        assert configs[name]["cleanup.policy"] == spec.cleanup, name
        if spec.cleanup == "delete":
            assert configs[name]["retention.ms"] == str(2 * 3600 * 1000), name
