"""Benchmark of one risk worker against a plain aiokafka consume-then-produce loop (`make bench`).

Measured in one run on the same broker and the same messages:
  1. baseline: aiokafka consumes N pre-loaded price messages and produces each to an output topic;
  2. the worker: the same N messages pre-loaded into the prices topic, from first to last folded
     (intake validation, re-key hop, sequencer, core, outputs, table writes);
  3. latency at a steady rate: Kafka create time of each input -> create time of the risk
     snapshot it caused (matched by material and event time), p50/p99;
  4. worker RSS after N events and after BENCH_RSS_EVENTS events (memory must stay flat).
Sizes: BENCH_EVENTS (default 200,000), BENCH_RATE (5,000/s), BENCH_RATE_SECONDS (10),
BENCH_RSS_EVENTS (1,000,000; 0 skips). The catalog has 42 materials: events cycle over all.
BENCH_STORE (`rocksdb://`) picks the worker's table store (`memory://` tells RocksDB's share of
the memory apart).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from mineral_sentinel.catalog.loader import load_catalog
from mineral_sentinel.config import Settings
from mineral_sentinel.kafka_admin import ensure_topics
from mineral_sentinel.topics import PRICES, TopicSpec
from tests.bench import profiling
from tests.helpers.polling import wait_until
from tests.integration.risk_harness import RiskWorker

pytestmark = pytest.mark.bench

N = int(os.environ.get("BENCH_EVENTS", "200000"))
RATE = int(os.environ.get("BENCH_RATE", "5000"))
RATE_SECONDS = float(os.environ.get("BENCH_RATE_SECONDS", "10"))
RSS_EVENTS = int(os.environ.get("BENCH_RSS_EVENTS", "1000000"))
BASE_TS = 1704067200  # 2024-01-01
MATERIALS = sorted(load_catalog().materials)


def price_event(i: int) -> tuple[bytes, bytes, str, int]:
    """(key, value, material, event-time seconds): a swinging price per material, one per hour."""
    material = MATERIALS[i % len(MATERIALS)]
    k = i // len(MATERIALS)
    noise = random.Random(i).gauss(0.0, 0.05)
    price = 100.0 * (1.0 + 0.5 * math.sin(k / 3.0)) * (1.0 + noise)
    at = BASE_TS + k * 3600
    value = json.dumps(
        {
            "type": "price_observed",
            "event_id": f"bench-{i}",
            "material": material,
            "observed_at": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "price": round(price, 4),
            "currency": "USD",
            "unit": "kg",
            "source": "bench",
        },
        separators=(",", ":"),
    ).encode()
    return material.encode(), value, material, at


async def produce_range(
    bootstrap: str, topic: str, start: int, stop: int, rate: float | None = None
) -> dict[tuple[str, int], int]:
    """Produce events [start, stop); returns (material, event time) -> input create time (ms)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    sent: dict[tuple[str, int], int] = {}
    pending = []
    began = time.monotonic()
    try:
        for i in range(start, stop):
            key, value, material, at = price_event(i)
            if rate is not None:
                wait = began + (i - start) / rate - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)  # pacing the load, not synchronisation
            future = await producer.send(topic, value=value, key=key)
            pending.append((material, at, future))
            if len(pending) >= 20_000:
                for m, t, f in pending:
                    sent[(m, t)] = (await f).timestamp
                pending.clear()
        for m, t, f in pending:
            sent[(m, t)] = (await f).timestamp
    finally:
        await producer.stop()
    return sent


async def baseline(bootstrap: str, source: str, sink: str, count: int) -> float:
    """Plain aiokafka consume-then-produce of `count` messages; returns events/s."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    done = 0
    started: float | None = None
    try:
        futures = []
        while done < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                if started is None:
                    started = time.perf_counter()
                for record in records:
                    futures.append(await producer.send(sink, value=record.value, key=record.key))
                    done += 1
            if len(futures) > 20_000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
        assert started is not None
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def wait_processed(worker: RiskWorker, target: int, timeout: float) -> tuple[float, float]:
    """Poll the worker's fold counter; returns (time first seen > start, time target reached)."""
    metric = "sentinel_event_processing_seconds_count"
    start = worker.metric(metric)
    first: list[float] = []

    def reached() -> bool:
        value = worker.metric(metric)
        if value > start and not first:
            first.append(time.perf_counter())
        return value >= target

    wait_until(reached, timeout=timeout, interval=0.1, message=f"{target} events folded")
    return (first[0] if first else time.perf_counter()), time.perf_counter()


async def read_risk(
    bootstrap: str, topic: str, since_ms: int, until_count: int
) -> list[tuple[str, str, int]]:
    """(material, as_of, create time) of risk snapshots created after `since_ms`."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    out: list[tuple[str, str, int]] = []
    try:
        idle = 0
        while idle < 6:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            if not any(batches.values()):
                idle += 1
                continue
            idle = 0
            for records in batches.values():
                for r in records:
                    if r.timestamp >= since_ms and r.value is not None:
                        snap = json.loads(r.value)
                        out.append((snap["material"], snap["as_of"], r.timestamp))
    finally:
        await consumer.stop()
    return out


def stage_budget(worker: RiskWorker, events: int) -> dict[str, float]:
    """The worker's own stage counters (`sentinel_risk_stage_seconds_total`), µs per event."""
    text = worker.get("/metrics").text
    budget: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("sentinel_risk_stage_seconds_total{"):
            stage = line.split('stage="', 1)[1].split('"', 1)[0]
            budget[stage] = float(line.rsplit(" ", 1)[1]) * 1e6 / max(1, events)
    return budget


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def test_bench_risk_worker_against_plain_aiokafka(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    prices = PRICES.full_name(topic_prefix)
    await ensure_topics(
        kafka_bootstrap,
        [
            PRICES,
            TopicSpec("bench.baseline.in", "k", "delete", "b", "b"),
            TopicSpec("bench.baseline.out", "k", "delete", "b", "b"),
        ],
        prefix=topic_prefix,
        partitions=Settings().topic_partitions,
    )
    # 1. baseline
    await produce_range(kafka_bootstrap, f"{topic_prefix}bench.baseline.in", 0, N)
    base_rate = await baseline(
        kafka_bootstrap, f"{topic_prefix}bench.baseline.in", f"{topic_prefix}bench.baseline.out", N
    )
    # 2. the worker on the same messages, pre-loaded
    await produce_range(kafka_bootstrap, prices, 0, N)
    worker = RiskWorker(
        service_env, tmp_path / "worker.log", store=os.environ.get("BENCH_STORE", "rocksdb://")
    ).start()
    assert worker.process.process is not None
    pid = worker.process.process.pid
    profile = profiling.Profile(pid, tmp_path / "profile.txt") if profiling.ENABLED else None
    try:
        with profile or contextlib.nullcontext():
            first, last = wait_processed(worker, N, timeout=1800)
        worker_rate = N / (last - first)
        rss_after_n = rss_mb(pid)
        budget = stage_budget(worker, N)
        # 3. latency at a steady rate
        mark_ms = int(time.time() * 1000)
        steady = int(RATE * RATE_SECONDS)
        sent = await produce_range(kafka_bootstrap, prices, N, N + steady, rate=RATE)
        wait_processed(worker, N + steady, timeout=600)
        risk = await read_risk(
            kafka_bootstrap, f"{topic_prefix}minerals.risk.v1", mark_ms, len(sent)
        )
        latencies = []
        for material, as_of, created in risk:
            at = int(datetime.fromisoformat(as_of).timestamp())
            produced = sent.get((material, at))
            if produced is not None:
                latencies.append(float(created - produced))
        assert len(latencies) > steady // 10, f"only {len(latencies)} matched snapshots"
        # 4. memory after many more events
        rss_after_total = None
        if N + steady < RSS_EVENTS:
            await produce_range(kafka_bootstrap, prices, N + steady, RSS_EVENTS)
            wait_processed(worker, RSS_EVENTS, timeout=3600)
            rss_after_total = rss_mb(pid)
    finally:
        worker.stop()

    print()
    print(f"events: {N:,} price events over {len(MATERIALS)} materials, one worker, 2 shared cores")
    print(f"baseline aiokafka consume->produce: {base_rate:,.0f} events/s")
    print(f"risk worker (validate, re-key, fold, emit): {worker_rate:,.0f} events/s")
    print(f"ratio worker/baseline: {worker_rate / base_rate:.2f}")
    print(f"worker stage budget, µs per input event (1e6/rate = {1e6 / worker_rate:.1f}):")
    for stage, micros in sorted(budget.items(), key=lambda kv: -kv[1]):
        print(f"  {stage:<18} {micros:8.1f}")
    if profile is not None:
        print(profile.top())
    print(
        f"latency produce->risk output at {RATE:,}/s for {RATE_SECONDS:.0f} s "
        f"({len(latencies):,} snapshots matched): p50 {percentile(latencies, 0.5):.0f} ms, "
        f"p99 {percentile(latencies, 0.99):.0f} ms"
    )
    print(f"worker RSS after {N:,} events: {rss_after_n:.0f} MiB")
    if rss_after_total is not None:
        print(f"worker RSS after {RSS_EVENTS:,} events: {rss_after_total:.0f} MiB")
