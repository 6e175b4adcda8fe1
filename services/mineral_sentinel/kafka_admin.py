"""Create the project's topics with the right partitions and cleanup policy (idempotent), and
wait until the broker's metadata shows every partition of them with a leader.

Why wait: a topic the broker has just created can be listed before its partitions are, and a
client that reads the metadata then sees the topic with no (or fewer) partitions. faust does so
at its first start, and its table check then fails with `PartitionsMismatch` between the
agent's topic and the table's changelog (seen in the demo on a loaded machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

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
    exact: Iterable[TopicSpec] = (),
    ready_timeout_s: float = 30.0,
) -> list[str]:
    """Create any missing topic and wait until all are usable; returns the full names. Existing
    topics are left as they are, but those in `exact` (co-partitioned: a table's source and
    changelog, a topic whose partition a key is routed to by count) must have `partitions`
    partitions: a ValueError says which does not.

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
        counts = await wait_until_led(admin, list(wanted), ready_timeout_s)
    finally:
        await admin.close()
    wrong = {
        name: counts[name]
        for name in (spec.full_name(prefix) for spec in exact)
        if counts.get(name, partitions) != partitions
    }
    if wrong:
        raise ValueError(
            f"topics with another partition count than the configured {partitions} "
            f"(SENTINEL_TOPIC_PARTITIONS): {wrong}; they must match, recreate them or "
            "configure their count"
        )
    return list(wanted)


async def wait_until_led(
    admin: AIOKafkaAdminClient, names: list[str], timeout_s: float
) -> dict[str, int]:
    """Poll the metadata until every topic has partitions, each with a leader; returns the
    partition count of each. TimeoutError (naming what is missing) after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        described = await admin.describe_topics(names)
        counts = {t["topic"]: n for t in described if (n := _led_partitions(t)) is not None}
        missing = sorted(set(names) - set(counts))
        if not missing:
            return counts
        if time.monotonic() >= deadline:
            raise TimeoutError(f"topics without a leader for every partition: {missing}")
        await asyncio.sleep(0.1)  # polling the broker's metadata, not synchronising tasks


def _led_partitions(topic: Mapping[str, Any]) -> int | None:
    """The partition count of a described topic, or None while it or a partition has no leader."""
    partitions = topic.get("partitions") or []
    if topic.get("error_code") or not partitions:
        return None
    if any(p.get("error_code") or p.get("leader", -1) < 0 for p in partitions):
        return None
    return len(partitions)


def _topic_configs(spec: TopicSpec, retention_ms: int | None) -> dict[str, str]:
    configs: dict[str, str] = {"cleanup.policy": spec.cleanup}
    if retention_ms is not None and spec.cleanup == "delete":
        configs["retention.ms"] = str(retention_ms)
    return configs


async def ensure_configured_topics(
    settings: Settings, specs: Iterable[TopicSpec], exact: Iterable[TopicSpec] = ()
) -> list[str]:
    """`ensure_topics` with broker, prefix, partitions, replication and retention from settings."""
    return await ensure_topics(
        settings.kafka_bootstrap,
        specs,
        exact=exact,
        prefix=settings.topic_prefix,
        partitions=settings.topic_partitions,
        replication=settings.topic_replication,
        retention_ms=int(settings.topic_retention_hours * 3600 * 1000),
    )


def ensure_topics_before_start(
    settings: Settings,
    specs: Iterable[TopicSpec],
    exact: Iterable[TopicSpec] = (),
    timeout_s: float = 60.0,
) -> None:
    """`ensure_configured_topics` from synchronous code, before a faust worker starts.

    Runs in a short-lived thread with its own event loop, so the loop faust creates later in the
    main thread is never touched (both services use this one path)."""
    wanted, exact_specs = list(specs), list(exact)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(ensure_configured_topics(settings, wanted, exact_specs))
        except BaseException as error:  # surfaced in the caller's thread
            failure.append(error)

    thread = threading.Thread(target=run, name="ensure-topics", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"creating topics on {settings.kafka_bootstrap} took over {timeout_s} s")
    if failure:
        raise failure[0]
