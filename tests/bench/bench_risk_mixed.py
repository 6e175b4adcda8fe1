"""Mixed load at a steady rate: latency from produce to risk snapshot and to alert (`make bench`).

The four input topics in realistic proportions (`feeds.synthetic.synthetic_stream`: 88 % prices
on two markets, 8 % shipments, 3 % stock positions, 1 % export controls that are announced,
take effect and are lifted), over every catalog material, produced at BENCH_MIXED_RATE events/s
(default 2,000) for BENCH_MIXED_SECONDS (60) into one running worker. Each snapshot and alert is
matched to the input that caused it by (material, event time); latency is the Kafka create time
of the output minus that of the input. Printed next to the same-run round trip of a plain
aiokafka consume-then-produce loop at the same rate (the floor of any Kafka pipeline here), and
with the worker's per-stage time budget in µs per event from its own stage counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from datetime import datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from mineral_sentinel.catalog.loader import load_catalog
from mineral_sentinel.config import Settings
from mineral_sentinel.feeds.synthetic import synthetic_stream
from mineral_sentinel.kafka_admin import ensure_topics
from mineral_sentinel.topics import INPUT_TOPIC_OF_TYPE, TopicSpec
from tests.bench import profiling
from tests.bench.bench_risk_service import percentile, stage_budget
from tests.helpers.polling import wait_until
from tests.integration.risk_harness import RiskWorker

pytestmark = pytest.mark.bench

RATE = float(os.environ.get("BENCH_MIXED_RATE", "2000"))
SECONDS = float(os.environ.get("BENCH_MIXED_SECONDS", "60"))


def event_time(doc: dict[str, object]) -> str:
    if doc["type"] == "price_observed":
        return str(doc["observed_at"])
    if doc["type"] == "stockpile_position":
        return str(doc["as_of"])
    if doc["type"] == "export_control":
        if doc["status"] == "announced":
            return str(doc["announced_at"])
        return max(str(doc["announced_at"]), str(doc["effective_at"]))
    return str(doc["occurred_at"])


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


async def produce_mixed(bootstrap: str, prefix: str, count: int) -> dict[tuple[str, int], int]:
    """Produce `count` mixed events at RATE; (material, event time s) -> create time (ms)."""
    materials = sorted(load_catalog().materials)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    sent: dict[tuple[str, int], int] = {}
    pending = []
    began = time.monotonic()
    try:
        for index, doc in enumerate(synthetic_stream(count, materials, seed=5)):
            wait = began + index / RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # pacing the load, not synchronisation
            spec = INPUT_TOPIC_OF_TYPE[str(doc["type"])]
            named = doc["materials"] if doc["type"] == "export_control" else [doc["material"]]
            key = str(doc["measure_id"] if doc["type"] == "export_control" else doc["material"])
            future = await producer.send(
                spec.full_name(prefix), json.dumps(doc).encode(), key=key.encode()
            )
            pending.append(([str(m) for m in named], epoch(event_time(doc)), future))
        for named, at, future in pending:
            created = (await future).timestamp
            for material in named:
                sent.setdefault((material, at), created)
    finally:
        await producer.stop()
    return sent


async def read_outputs(bootstrap: str, topic: str, stamp: str) -> list[tuple[str, int, int]]:
    """(material, event time s, create time ms) of every output on a topic."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    out: list[tuple[str, int, int]] = []
    try:
        quiet = 0
        while quiet < 6:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            if not any(batches.values()):
                quiet += 1
                continue
            quiet = 0
            for records in batches.values():
                for record in records:
                    if record.value is not None:
                        doc = json.loads(record.value)
                        out.append((doc["material"], epoch(doc[stamp]), record.timestamp))
    finally:
        await consumer.stop()
    return out


async def plain_round_trip(bootstrap: str, prefix: str, count: int) -> list[float]:
    """A plain aiokafka consume->produce hop at the same rate: per-message latency (ms)."""
    source, sink = f"{prefix}bench.rt.in", f"{prefix}bench.rt.out"
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        fetch_max_wait_ms=50,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()

    async def feed() -> None:
        began = time.monotonic()
        for i in range(count):
            wait = began + i / RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # pacing the load, not synchronisation
            await producer.send(source, str(time.time() * 1000).encode())

    latencies: list[float] = []
    feeding = asyncio.ensure_future(feed())
    try:
        forwarded: list[asyncio.Future[object]] = []
        while len(forwarded) < count:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batches.values():
                for record in records:
                    forwarded.append(await producer.send(sink, record.value))
                    latencies.append(time.time() * 1000 - float(record.value or b"0"))
        await feeding
        await asyncio.gather(*forwarded)
    finally:
        await consumer.stop()
        await producer.stop()
    return latencies


def summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no samples"
    return (
        f"{name}: p50 {percentile(values, 0.5):.0f} ms, p99 {percentile(values, 0.99):.0f} ms, "
        f"max {max(values):.0f} ms ({len(values):,} samples)"
    )


async def test_bench_mixed_load_latency(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    count = int(RATE * SECONDS)
    partitions = Settings().topic_partitions
    await ensure_topics(
        kafka_bootstrap,
        [TopicSpec(f"bench.rt.{x}", "k", "delete", "b", "b") for x in ("in", "out")],
        prefix=topic_prefix,
        partitions=partitions,
    )
    baseline = await plain_round_trip(kafka_bootstrap, topic_prefix, min(count, 20_000))
    worker = RiskWorker(service_env, tmp_path / "worker.log", store="rocksdb://").start()
    assert worker.process.process is not None
    pid = worker.process.process.pid
    profile = profiling.Profile(pid, tmp_path / "profile.txt") if profiling.ENABLED else None
    try:
        with profile or contextlib.nullcontext():
            sent = await produce_mixed(kafka_bootstrap, topic_prefix, count)
        wait_until(
            lambda: worker.metric("sentinel_events_consumed_total") >= count * 0.99,
            timeout=600,
            interval=0.5,
            message="the mixed load consumed",
        )
        budget = stage_budget(worker, count)
        late = worker.metric("sentinel_risk_late_events_total")
    finally:
        worker.stop()
    snaps = await read_outputs(kafka_bootstrap, f"{topic_prefix}minerals.risk.v1", "as_of")
    alerts = await read_outputs(kafka_bootstrap, f"{topic_prefix}minerals.alerts.v1", "updated_at")

    def latencies(outputs: list[tuple[str, int, int]]) -> list[float]:
        return [float(created - sent[(m, at)]) for m, at, created in outputs if (m, at) in sent]

    print()
    print(f"mixed load: {count:,} events at {RATE:,.0f}/s over {SECONDS:.0f} s, one worker")
    print(summary("plain aiokafka consume->produce hop, same rate", baseline))
    print(summary("produce -> risk snapshot", latencies(snaps)))
    print(summary("produce -> alert", latencies(alerts)))
    print(f"late events: {late:.0f}")
    print("worker stage budget, µs per input event:")
    for stage, micros in sorted(budget.items(), key=lambda kv: -kv[1]):
        print(f"  {stage:<18} {micros:8.1f}")
    if profile is not None:
        print("worker profile while the load was produced (py-spy):")
        print(profile.top())
