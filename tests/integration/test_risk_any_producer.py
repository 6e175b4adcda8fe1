"""Any producer, any partitioner, any interruption: the stream gives the backtest's outputs.

Every sample scenario is written by librdkafka (confluent-kafka, an independent client, no
project code on the write path) to the four input topics, and the alerts, recommendations and
final risk snapshots are compared with `sentinel backtest` of the same file:
(a) in file order while a worker runs (librdkafka's default partitioner);
(b) topic by topic, all prices then all shipments and so on, before the worker starts (Java's
    murmur2 partitioner);
(c) as (a) without keys, the worker killed -9 mid-way and restarted on its local state (static
    membership: it takes its partitions back without waiting for the session timeout);
(d) as (a) with two workers, one stopped gracefully mid-way.
(a) and (b) must match exactly; (c) and (d) may repeat an output, byte-identical (at least once).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from mineral_sentinel.backtest.runner import BacktestResult
from mineral_sentinel.config import Settings
from mineral_sentinel.kafka_admin import ensure_configured_topics
from mineral_sentinel.topics import INPUT_TOPICS
from tests.helpers import confluent
from tests.helpers.polling import wait_until
from tests.integration.risk_harness import (
    SCENARIOS,
    RiskWorker,
    assert_outputs_match_backtest,
    backtest,
    by_material,
    expected_by_material,
    final_state_differences,
    final_state_matches,
    read_outputs,
)

pytestmark = pytest.mark.integration

SCENARIO_FILES = sorted(p.name for p in SCENARIOS.glob("*.jsonl"))
FEED_SECONDS = 6.0
"""Paced runs last about this long, so that a worker can be stopped in the middle."""


def _feeder(
    bootstrap: str,
    prefix: str,
    scenario: str,
    *,
    order: confluent.Order = "file",
    keying: confluent.Keying = "contract",
    partitioner: str = "consistent_random",
    paced: bool = False,
) -> confluent.ConfluentFeeder:
    batch = confluent.messages(SCENARIOS / scenario, prefix, order=order, keying=keying)
    rate = max(100.0, len(batch) / FEED_SECONDS) if paced else None
    return confluent.ConfluentFeeder(bootstrap, batch, partitioner=partitioner, rate=rate)


async def _create_inputs(env: dict[str, str]) -> None:
    settings = Settings(
        kafka_bootstrap=env["SENTINEL_KAFKA_BOOTSTRAP"], topic_prefix=env["SENTINEL_TOPIC_PREFIX"]
    )
    await ensure_configured_topics(settings, INPUT_TOPICS)


async def _assert_exact(bootstrap: str, prefix: str, scenario: str, worker: RiskWorker) -> None:
    expected = backtest(scenario)
    alive = lambda: worker.running  # noqa: E731
    wanted: dict[str, Sequence[object]] = {
        "alerts": expected.alerts,
        "recommendations": expected.recommendations,
        "risk": expected.snapshots,
    }
    for kind, models in wanted.items():
        records = await read_outputs(bootstrap, prefix, kind, expected=len(models), healthy=alive)
        assert by_material(records) == expected_by_material(models), kind
    dead = await read_outputs(bootstrap, prefix, "dead", expected=0, settle=0.5, healthy=alive)
    assert dead == []
    assert worker.metric("sentinel_risk_late_events_total") == 0
    assert final_state_matches(worker, expected)


def _diagnosis(worker: RiskWorker, expected: BacktestResult) -> str:
    """Counters, the merge gauge per partition, and the worker's last warnings: enough to tell
    a stalled merge from a skipped envelope from a stuck hand-over, after the fact."""
    names = (
        "sentinel_events_consumed_total",
        "sentinel_event_processing_seconds_count",
        "sentinel_risk_late_events_total",
        "sentinel_events_redelivered_total",
        "sentinel_risk_duplicate_events_total",
        "sentinel_risk_reread_holes_total",
        "sentinel_risk_skipped_envelopes_total",
    )
    counters = ", ".join(f"{name} {worker.metric(name):.0f}" for name in names)
    gauges = [
        line
        for line in worker.get("/metrics").text.splitlines()
        if line.startswith("sentinel_risk_merge_buffered{")
    ]
    warnings = [
        line
        for line in worker.process.log_text().splitlines()
        if "WARNING" in line or "ERROR" in line
    ]
    differences = "; ".join(final_state_differences(worker, expected))
    return f"{differences}; {counters}; {gauges}; last warnings:\n" + "\n".join(warnings[-40:])


@pytest.mark.parametrize("scenario", SCENARIO_FILES)
async def test_a_file_order_while_the_worker_runs(
    scenario: str,
    kafka_bootstrap: str,
    topic_prefix: str,
    service_env: dict[str, str],
    tmp_path: Path,
) -> None:
    worker = RiskWorker(service_env, tmp_path / "worker.log").start()
    try:
        feeder = _feeder(kafka_bootstrap, topic_prefix, scenario).start()
        await asyncio.to_thread(feeder.join)
        await _assert_exact(kafka_bootstrap, topic_prefix, scenario, worker)
    finally:
        worker.stop()


@pytest.mark.parametrize("scenario", SCENARIO_FILES)
async def test_b_topic_by_topic_before_the_worker_starts(
    scenario: str,
    kafka_bootstrap: str,
    topic_prefix: str,
    service_env: dict[str, str],
    tmp_path: Path,
) -> None:
    await _create_inputs(service_env)
    feeder = _feeder(
        kafka_bootstrap, topic_prefix, scenario, order="topic", partitioner="murmur2_random"
    ).start()
    await asyncio.to_thread(feeder.join)
    worker = RiskWorker(service_env, tmp_path / "worker.log").start()
    try:
        await _assert_exact(kafka_bootstrap, topic_prefix, scenario, worker)
    finally:
        worker.stop()


@pytest.mark.parametrize("scenario", SCENARIO_FILES)
async def test_c_kill_9_mid_way_then_restart(
    scenario: str,
    kafka_bootstrap: str,
    topic_prefix: str,
    service_env: dict[str, str],
    tmp_path: Path,
) -> None:
    expected = backtest(scenario)
    # The production session timeout, and the static membership a StatefulSet pod has (its name).
    env = {
        **service_env,
        "SENTINEL_RISK_SESSION_TIMEOUT_S": "60",
        "SENTINEL_GROUP_INSTANCE_ID": "sentinel-risk-0",
    }
    worker = RiskWorker(env, tmp_path / "worker.log", store="rocksdb://").start()
    feeder = _feeder(kafka_bootstrap, topic_prefix, scenario, keying="none", paced=True).start()
    try:
        wait_until(
            lambda: worker.metric("sentinel_events_consumed_total") >= expected.events // 3,
            timeout=60,
            interval=0.1,
            message="a third of the scenario consumed",
        )
        assert feeder.running, "the crash must happen mid-way"
        worker.kill()
        killed = time.monotonic()
        worker.restart()
        back = time.monotonic() - killed
        # A dynamic member would wait for the dead one's 60 s session to expire.
        assert back < 30, f"ready {back:.1f} s after kill -9: the partitions were not taken back"
        await asyncio.to_thread(feeder.join)
        wait_until(
            lambda: final_state_matches(worker, expected),
            timeout=60,
            interval=0.5,
            message="final state equals the backtest's",
        )
        duplicates = await assert_outputs_match_backtest(
            kafka_bootstrap, topic_prefix, expected, healthy=lambda: worker.running
        )
    finally:
        worker.stop()
    print(
        f"{scenario}: ready {back:.1f} s after kill -9; byte-identical re-emissions: {duplicates}"
    )


@pytest.mark.parametrize("scenario", SCENARIO_FILES)
async def test_d_two_workers_one_stopped_mid_way(
    scenario: str,
    kafka_bootstrap: str,
    topic_prefix: str,
    service_env: dict[str, str],
    tmp_path: Path,
) -> None:
    expected = backtest(scenario)
    env = {**service_env, "SENTINEL_LOG_RATE_LIMIT_S": "0"}  # every line, to diagnose a failure
    first = RiskWorker(env, tmp_path / "a.log").start()
    second = RiskWorker(env, tmp_path / "b.log").start()
    feeder = _feeder(kafka_bootstrap, topic_prefix, scenario, paced=True)
    try:
        wait_until(first.ready, timeout=60, message="first worker ready after the rebalance")
        feeder.start()
        consumed = "sentinel_events_consumed_total"
        wait_until(  # a scenario of one material may give all its input partitions to one worker
            lambda: first.metric(consumed) + second.metric(consumed) >= expected.events // 3,
            timeout=60,
            interval=0.1,
            message="a third of the scenario consumed by the two workers",
        )
        assert feeder.running, "the stop must happen mid-way"
        second.stop()
        await asyncio.to_thread(feeder.join)
        try:
            wait_until(
                lambda: final_state_matches(first, expected),
                timeout=90,
                interval=0.5,
                message="the surviving worker holds every material's final state",
            )
        except AssertionError as error:
            raise AssertionError(f"{error}; {_diagnosis(first, expected)}") from error
        duplicates = await assert_outputs_match_backtest(
            kafka_bootstrap, topic_prefix, expected, healthy=lambda: first.running
        )
    finally:
        second.stop()
        first.stop()
    print(f"{scenario}: byte-identical re-emissions after the stop: {duplicates}")
