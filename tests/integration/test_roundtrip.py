"""A first real round trip: 10,000 keyed messages through a Faust agent on the real broker."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from mineral_sentinel.kafka_admin import ensure_topics
from mineral_sentinel.topics import TopicSpec
from tests.helpers.kafka import group_lag, produce, read_topic
from tests.helpers.polling import async_wait_until
from tests.helpers.processes import ServiceProcess, free_port, python_module

pytestmark = pytest.mark.integration

MESSAGES = 10_000
KEYS = 100


async def test_faust_agent_round_trip_loses_nothing_and_keeps_key_order(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    specs = [TopicSpec(f"roundtrip.{d}", "k", "delete", "bytes", d) for d in ("in", "out")]
    await ensure_topics(kafka_bootstrap, specs, prefix=topic_prefix, partitions=4)
    worker = ServiceProcess(
        python_module("tests.integration.roundtrip_app"),
        {**service_env, "ROUNDTRIP_WEB_PORT": str(free_port())},
        tmp_path / "worker.log",
    ).start()
    try:
        sent = [(f"key-{i % KEYS}".encode(), f"{i}".encode()) for i in range(MESSAGES)]
        await produce(kafka_bootstrap, f"{topic_prefix}roundtrip.in", sent)
        records = await read_topic(
            kafka_bootstrap,
            f"{topic_prefix}roundtrip.out",
            expected=MESSAGES,
            timeout=120,
            settle=1.0,
            healthy=lambda: worker.running,
        )
        assert len(records) == MESSAGES, "exactly one output per input on a clean run"
        per_key: dict[bytes, list[int]] = defaultdict(list)
        for record in records:
            assert record.key is not None and record.value is not None
            body, tag = record.value.split(b"|")
            assert tag == b"copied"
            per_key[record.key].append(int(body))
        expected: dict[bytes, list[int]] = defaultdict(list)
        for key, value in sent:
            expected[key].append(int(value))
        assert per_key == expected, "every message arrived, in order per key"

        group = f"{topic_prefix}roundtrip"

        async def fully_committed() -> bool:
            lag = await group_lag(kafka_bootstrap, group, f"{topic_prefix}roundtrip.in")
            return bool(lag) and all(v == 0 for v in lag.values())

        await async_wait_until(
            fully_committed,
            timeout=60,
            interval=0.5,
            message="consumer group committed every offset",
        )
    finally:
        worker.stop()
    # After a clean stop a restarted consumer group has nothing left to read.
    lag = await group_lag(
        kafka_bootstrap, f"{topic_prefix}roundtrip", f"{topic_prefix}roundtrip.in"
    )
    assert lag and sum(lag.values()) == 0, lag
