"""Test-side Kafka helpers: produce, read back until a count with a deadline, group offsets."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from .polling import DeadlineExceeded


async def produce(
    bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes]]
) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    count = 0
    try:
        batch = []
        for key, value in messages:
            batch.append(await producer.send(topic, value=value, key=key))
            count += 1
        for future in batch:
            await future
    finally:
        await producer.stop()
    return count


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    expected: int,
    timeout: float = 60.0,
    settle: float = 0.0,
    healthy: Callable[[], bool] | None = None,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read a topic from the beginning until `expected` records arrived (or the deadline).

    `settle` > 0 keeps reading that long after reaching the count, to catch extra records;
    `healthy()` returning False (e.g. the worker died) fails at once instead of at the deadline.
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + timeout
        reached_at: float | None = None
        while True:
            now = time.monotonic()
            if reached_at is None and len(records) >= expected:
                reached_at = now
            if reached_at is not None and now - reached_at >= settle:
                return records
            if healthy is not None and not healthy():
                raise AssertionError(f"gave up reading {topic}: producer side is not healthy")
            if now >= deadline:
                raise DeadlineExceeded(
                    f"read {len(records)} of {expected} records from {topic} in {timeout:.0f} s"
                )
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            for batch in batches.values():
                records.extend(batch)
    finally:
        await consumer.stop()


async def group_lag(bootstrap: str, group_id: str, topic: str) -> dict[int, int]:
    """Per partition: end offset minus the group's committed offset (what a restart would read)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        partitions = sorted(p["partition"] for p in described[0]["partitions"])
        committed = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return {tp.partition: ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in tps}
