"""Create the project's topics with the right partitions and cleanup policy (idempotent)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from .config import Settings
from .topics import TopicSpec


async def ensure_topics(
    bootstrap: str,
    specs: Iterable[TopicSpec],
    *,
    prefix: str = "",
    partitions: int = 8,
    replication: int = 1,
    retention_ms: int | None = None,
) -> list[str]:
    """Create any missing topic; returns the full names. Existing topics are left as they are.

    `retention_ms` applies to `delete` topics only: compacted topics keep the latest value per
    key for as long as the key lives, whatever its age.
    """
    wanted = {spec.full_name(prefix): spec for spec in specs}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                name,
                num_partitions=partitions,
                replication_factor=replication,
                topic_configs=_topic_configs(spec, retention_ms),
            )
            for name, spec in wanted.items()
            if name not in existing
        ]
        if new:
            # A concurrent worker may have created some of them first.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
    finally:
        await admin.close()
    return list(wanted)


def _topic_configs(spec: TopicSpec, retention_ms: int | None) -> dict[str, str]:
    configs: dict[str, str] = {"cleanup.policy": spec.cleanup}
    if retention_ms is not None and spec.cleanup == "delete":
        configs["retention.ms"] = str(retention_ms)
    return configs


async def ensure_configured_topics(settings: Settings, specs: Iterable[TopicSpec]) -> list[str]:
    """`ensure_topics` with broker, prefix, partitions, replication and retention from settings."""
    return await ensure_topics(
        settings.kafka_bootstrap,
        specs,
        prefix=settings.topic_prefix,
        partitions=settings.topic_partitions,
        replication=settings.topic_replication,
        retention_ms=int(settings.topic_retention_hours * 3600 * 1000),
    )
