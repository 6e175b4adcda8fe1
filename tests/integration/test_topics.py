"""Topics are created with the cleanup policy of topics.py and the configured retention."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # not in its __all__
    ConfigResource as ConfluentResource,
)

from mineral_sentinel.config import Settings
from mineral_sentinel.kafka_admin import ensure_configured_topics, ensure_topics_before_start
from mineral_sentinel.risk_service.topology import CO_PARTITIONED, RISK_TOPICS
from mineral_sentinel.topics import ALL_TOPICS
from mineral_sentinel.topics_cli import deployment_topics

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
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        # Read at once, by a client of its own: every partition already has a leader.
        described = {t["topic"]: t for t in await admin.describe_topics(names)}
        for name in names:
            leaders = [p["leader"] for p in described[name]["partitions"]]
            assert len(leaders) == 3 and min(leaders) >= 0, (name, leaders)
        assert await ensure_configured_topics(settings, ALL_TOPICS) == names, "idempotent"
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


def test_co_partitioned_topics_with_another_count_are_refused_clearly(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """The fold's topic and its table's changelog made with 2 partitions, then a worker
    configured for 3: a clear error naming both, not faust's PartitionsMismatch later."""

    def settings(partitions: int) -> Settings:
        return Settings(
            kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, topic_partitions=partitions
        )

    ensure_topics_before_start(settings(2), RISK_TOPICS, exact=CO_PARTITIONED)
    with pytest.raises(ValueError, match="SENTINEL_TOPIC_PARTITIONS") as refused:
        ensure_topics_before_start(settings(3), RISK_TOPICS, exact=CO_PARTITIONED)
    for spec in CO_PARTITIONED:
        assert f"'{spec.full_name(topic_prefix)}': 2" in str(refused.value)


def test_sentinel_topics_create_makes_every_deployment_topic_seen_by_librdkafka(
    service_env: dict[str, str], topic_prefix: str
) -> None:
    """The Job that Kubernetes and compose run before the workers: every topic of both
    services, read back by an independent client (librdkafka), idempotent, and a clear exit 2
    when the co-partitioned topics exist with another count."""
    env = {**os.environ, **service_env, "SENTINEL_TOPIC_PARTITIONS": "3"}
    command = [sys.executable, "-m", "mineral_sentinel.cli", "topics", "create"]
    for _ in range(2):  # the second run finds them all
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"{len(deployment_topics())} topics ready" in done.stdout
    admin = AdminClient({"bootstrap.servers": service_env["SENTINEL_KAFKA_BOOTSTRAP"]})
    listed = admin.list_topics(timeout=30).topics
    names = {spec.full_name(topic_prefix): spec for spec in deployment_topics()}
    ours = {name for name in listed if name.startswith(topic_prefix)}
    assert ours == set(names)
    for name in names:
        assert len(listed[name].partitions) == 3, name
    futures = admin.describe_configs([ConfluentResource("topic", name) for name in names])
    for resource, future in futures.items():
        assert future.result(timeout=30)["cleanup.policy"].value == names[resource.name].cleanup
    wrong = subprocess.run(
        command,
        env={**env, "SENTINEL_TOPIC_PARTITIONS": "4"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert wrong.returncode == 2
    assert "SENTINEL_TOPIC_PARTITIONS" in wrong.stderr and "Traceback" not in wrong.stderr
