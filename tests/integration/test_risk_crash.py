"""kill -9 the worker in the middle of a replay, start it again: the final risk state and the set
of outputs equal the backtest's, and any duplicate is a byte-identical re-emission."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.polling import wait_until
from tests.integration.risk_harness import (
    RiskWorker,
    assert_outputs_match_backtest,
    backtest,
    final_state_matches,
    replay_feeder,
)

pytestmark = pytest.mark.integration

SCENARIO = "china_gallium_germanium_2023.jsonl"


async def test_kill_9_mid_replay_then_restart_matches_the_backtest(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    expected = backtest(SCENARIO)
    worker = RiskWorker(service_env, tmp_path / "worker.log", store="rocksdb://").start()
    feeder = replay_feeder(service_env, SCENARIO, 300, tmp_path / "replay.log").start()
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
        duplicates = await assert_outputs_match_backtest(
            kafka_bootstrap, topic_prefix, expected, healthy=lambda: worker.running
        )
    finally:
        worker.stop()
        feeder.stop()
    print(f"byte-identical re-emissions after kill -9: {duplicates}")
