"""kill -9 the worker in the middle of a replay, start it again: the final risk state and the set
of outputs equal the backtest's, and any duplicate is a byte-identical re-emission."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers.polling import wait_until
from tests.helpers.processes import ServiceProcess
from tests.integration.risk_harness import (
    SCENARIOS,
    RiskWorker,
    assert_same_outputs,
    backtest,
    final_state_matches,
    read_outputs,
)

pytestmark = pytest.mark.integration

SCENARIO = "china_gallium_germanium_2023.jsonl"


async def test_kill_9_mid_replay_then_restart_matches_the_backtest(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    expected = backtest(SCENARIO)
    worker = RiskWorker(service_env, tmp_path / "worker.log", store="rocksdb://").start()
    feeder = ServiceProcess(
        [
            sys.executable,
            "-m",
            "mineral_sentinel.cli",
            "replay",
            str(SCENARIOS / SCENARIO),
            "--no-progress",
            "--rate",
            "300",
        ],
        service_env,
        tmp_path / "replay.log",
    ).start()
    try:
        wait_until(
            lambda: worker.metric("sentinel_events_consumed_total") >= expected.events // 3,
            timeout=60,
            interval=0.1,
            message="a third of the scenario consumed",
        )
        assert feeder.running, "the crash must happen mid-replay"
        worker.kill()
        worker.restart()
        wait_until(lambda: not feeder.running, timeout=60, message="replay finished")
        assert feeder.process is not None and feeder.process.returncode == 0, feeder.log_text()

        wait_until(
            lambda: final_state_matches(worker, expected),
            timeout=30,
            interval=0.5,
            message="final state equals backtest",
        )
        # The table is written after the outputs are sent: every output exists by now.
        alive = lambda: worker.running  # noqa: E731
        alerts = await read_outputs(
            kafka_bootstrap,
            topic_prefix,
            "alerts",
            expected=len(expected.alerts),
            healthy=alive,
            settle=2.0,
        )
        recs = await read_outputs(
            kafka_bootstrap,
            topic_prefix,
            "recommendations",
            expected=len(expected.recommendations),
            healthy=alive,
            settle=0.3,
        )
        snaps = await read_outputs(
            kafka_bootstrap,
            topic_prefix,
            "risk",
            expected=len(expected.snapshots),
            healthy=alive,
            settle=0.3,
        )

    finally:
        worker.stop()
        feeder.stop()

    duplicates = {
        kind: assert_same_outputs(kind, records, models)
        for kind, records, models in (
            ("alerts", alerts, expected.alerts),
            ("recommendations", recs, expected.recommendations),
            ("risk", snaps, expected.snapshots),
        )
    }
    print(f"byte-identical re-emissions after kill -9: {duplicates}")
