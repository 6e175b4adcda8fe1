"""Create the project's topics with the right partitions and cleanup policy (idempotent)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from .topics import TopicSpec


async def ensure_topics(
    bootstrap: str,
    specs: Iterable[TopicSpec],
    *,
    prefix: str = "",
    partitions: int = 8,
    replication: int = 1,
) -> list[str]:
    """Create any missing topic; returns the full names. Existing topics are left as they are."""
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
                topic_configs={"cleanup.policy": spec.cleanup},
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
