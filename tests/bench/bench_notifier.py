"""Benchmark of the notifier's fan-out against a plain httpx POST loop (`make bench`).

Measured in one run against the same fast receiver (its own process, answering 204):
  1. the notifier: BENCH_ALERTS alerts (one material, sequences 1..N) fanned out to BENCH_SUBS
     subscriptions: match, task records on the delivery log, sign, send, attempt records --
     deliveries/s from the first alert produced to the last delivery received, and the p99 of
     alert produced -> delivery received (each alert carries its produce time in `summary`);
  2. baselines at the same concurrency (one coroutine per subscription posting bodies one after
     another, as each subscription's lane does): a plain aiohttp.ClientSession loop (the goal's
     yardstick) and a plain httpx.AsyncClient loop, each for BENCH_BASELINE_SECONDS (default
     60) or until every lane posted BENCH_ALERTS bodies.
Sizes: BENCH_ALERTS (default 100), BENCH_SUBS (default 1,000). BENCH_PROFILE=1 samples the
worker with py-spy during the fan-out and prints its top functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from mineral_sentinel.contracts.subscriptions import SigningSecret, Subscription
from mineral_sentinel.kafka_admin import ensure_topics
from mineral_sentinel.notifier.signing import secret_from_bytes
from mineral_sentinel.topics import ALERTS, NOTIFIER_TOPICS, OUTPUT_TOPICS, SUBSCRIPTIONS
from tests.bench import profiling
from tests.helpers.kafka import produce
from tests.helpers.polling import async_wait_until
from tests.helpers.processes import ServiceProcess, free_port, python_module
from tests.integration.notifier_harness import FAST, Notifier, alert

pytestmark = [pytest.mark.bench, pytest.mark.asyncio(loop_scope="session")]

ALERTS_N = int(os.environ.get("BENCH_ALERTS", "100"))
SUBS_N = int(os.environ.get("BENCH_SUBS", "1000"))
BASELINE_BUDGET_S = float(os.environ.get("BENCH_BASELINE_SECONDS", "60"))


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(math.ceil(q * len(ordered)) - 1, 0))]


def p99(values: list[float]) -> float:
    return quantile(values, 0.99)


async def stats(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        result: dict[str, Any] = (await client.get(f"{base}/stats")).json()
        return result


async def post_loop(
    post: Callable[[], Awaitable[None]], subs: int, per_sub: int, budget_s: float
) -> tuple[float, float, int]:
    """Deliveries/s and p99 request latency of `subs` lanes each awaiting `post` in turn.

    Each lane stops after `per_sub` posts or when the time budget is spent (plain httpx at high
    concurrency is slow enough that the full count can take many minutes); the rate is completed
    requests over elapsed time either way.
    """
    latencies: list[float] = []
    started = time.monotonic()
    deadline = started + budget_s

    async def lane() -> None:
        for _ in range(per_sub):
            if time.monotonic() >= deadline:
                return
            sent = time.monotonic()
            await post()
            latencies.append(time.monotonic() - sent)

    await asyncio.gather(*(lane() for _ in range(subs)))
    elapsed = time.monotonic() - started
    return len(latencies) / elapsed, p99(latencies), len(latencies)


async def baseline_aiohttp(
    url: str, body: bytes, subs: int, per_sub: int, budget_s: float
) -> tuple[float, float, int]:
    """A plain aiohttp POST loop at the notifier's concurrency (the goal's yardstick)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def post() -> None:
            async with session.post(url, data=body) as response:
                await response.read()
                assert response.status == 204

        return await post_loop(post, subs, per_sub, budget_s)


async def baseline(
    url: str, body: bytes, subs: int, per_sub: int, budget_s: float
) -> tuple[float, float, int]:
    """A plain httpx POST loop at the notifier's concurrency (the second baseline)."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=subs)
    async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:

        async def post() -> None:
            response = await client.post(url, content=body)
            assert response.status_code == 204

        return await post_loop(post, subs, per_sub, budget_s)


@pytest.mark.timeout(3600)
async def test_fan_out_throughput_and_latency_against_plain_httpx(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    receiver = ServiceProcess(
        python_module("tests.helpers.receiver", str(port)), {}, tmp_path / "receiver.log"
    ).start()
    base = f"http://127.0.0.1:{port}"
    notifier: Notifier | None = None
    try:

        async def receiver_up() -> bool:
            try:
                await stats(base)
                return True
            except httpx.HTTPError:
                return False

        await async_wait_until(receiver_up, timeout=30, message="receiver up")
        total = ALERTS_N * SUBS_N
        await ensure_topics(
            kafka_bootstrap, (*OUTPUT_TOPICS, *NOTIFIER_TOPICS), prefix=topic_prefix, partitions=8
        )
        now = datetime.now(UTC)
        secret = SigningSecret(value=secret_from_bytes(bytes(32)))
        subs = [
            Subscription(
                id=f"sub_bench{i:06d}",
                url=f"{base}/hook",
                created_at=now,
                updated_at=now,
                secrets=[secret],
            )
            for i in range(SUBS_N)
        ]
        await produce(
            kafka_bootstrap,
            SUBSCRIPTIONS.full_name(topic_prefix),
            [(s.id.encode(), s.model_dump_json().encode()) for s in subs],
        )
        env = {
            **service_env,
            **FAST,
            "SENTINEL_TOPIC_PARTITIONS": "8",
            "SENTINEL_WEBHOOK_TIMEOUT_S": "15",
            "SENTINEL_NOTIFIER_WEB_PORT": str(free_port()),
        }
        argv = [sys.executable, "-m", "mineral_sentinel.cli", "worker", "notifier"]
        process = ServiceProcess(argv, env, tmp_path / "notifier.log").start()
        notifier = Notifier(process, int(env["SENTINEL_NOTIFIER_WEB_PORT"]))
        await notifier.wait_ready(timeout=120)

        started_wall = time.time()
        alerts = [alert(n, summary=f"t={time.time():.6f}") for n in range(1, ALERTS_N + 1)]
        await produce(
            kafka_bootstrap,
            ALERTS.full_name(topic_prefix),
            [(a.material.encode(), a.model_dump_json().encode()) for a in alerts],
        )

        async def all_delivered() -> bool:
            if not process.running:
                raise AssertionError(process.log_text()[-3000:])
            return int((await stats(base))["count"]) >= total

        assert process.process is not None
        profile = (
            profiling.Profile(process.process.pid, tmp_path / "profile.txt")
            if profiling.ENABLED
            else None
        )
        with profile or contextlib.nullcontext():
            await async_wait_until(
                all_delivered, timeout=1800, interval=1.0, message="all delivered"
            )
        result = await stats(base)
        elapsed = result["last"] - started_wall
        rate = total / elapsed
        latency_p99 = p99(result["latencies"])
        latency_p50 = quantile(result["latencies"], 0.5)
        notifier.process.stop()
        notifier = None
        async with httpx.AsyncClient() as client:
            await client.post(f"{base}/reset")
        body = alerts[0].model_dump_json().encode()
        aio_rate, aio_p99, aio_n = await baseline_aiohttp(
            f"{base}/hook", body, SUBS_N, ALERTS_N, BASELINE_BUDGET_S
        )
        base_rate, base_p99, base_n = await baseline(
            f"{base}/hook", body, SUBS_N, ALERTS_N, BASELINE_BUDGET_S
        )
        print(
            f"\nnotifier fan-out: {ALERTS_N} alerts x {SUBS_N} subscriptions = {total} deliveries"
            f"\n  notifier : {rate:8.0f} deliveries/s, alert->delivery"
            f" p50 {latency_p50:.2f} s, p99 {latency_p99:.2f} s"
            f" (elapsed {elapsed:.1f} s)"
            f"\n  aiohttp  : {aio_rate:8.0f} deliveries/s, p99 request latency {aio_p99:.3f} s"
            f" (plain aiohttp POST loop, concurrency {SUBS_N}, {aio_n} requests)"
            f"\n  httpx    : {base_rate:8.0f} deliveries/s, p99 request latency {base_p99:.3f} s"
            f" (plain httpx POST loop, concurrency {SUBS_N}, {base_n} requests)"
            f"\n  ratio    : {rate / aio_rate:.2f} of aiohttp, {rate / base_rate:.2f} of httpx"
            " (goals: >= 2000/s and >= 0.5 of aiohttp)"
        )
        if profile is not None:
            print("notifier profile during the fan-out (py-spy):")
            print(profile.top(20))
        assert result["count"] == total, "no duplicates on a clean run"
    finally:
        if notifier is not None:
            notifier.process.stop()
        receiver.stop()
