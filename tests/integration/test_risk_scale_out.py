"""Two workers on 8 partitions split the materials; stop one mid-replay and the other takes over
its partitions (state recovered from the changelog) without losing or corrupting anything."""

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

SCENARIO = "calm_year.jsonl"


def local_materials(worker: RiskWorker) -> set[str]:
    response = worker.get("/v1/materials", params={"scope": "local"})
    return {row["material"] for row in response.json()} if response.status_code == 200 else set()


async def test_two_workers_split_materials_and_one_takes_over(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    expected = backtest(SCENARIO)
    env = {**service_env, "SENTINEL_TOPIC_PARTITIONS": "8"}
    first = RiskWorker(env, tmp_path / "a.log").start()
    second = RiskWorker(env, tmp_path / "b.log").start()
    feeder = replay_feeder(env, SCENARIO, 500, tmp_path / "replay.log")
    try:
        # Both members joined: once the second is ready the group has rebalanced across both.
        wait_until(first.ready, timeout=60, message="first worker ready after the rebalance")
        feeder.start()

        def split() -> bool:
            a, b = local_materials(first), local_materials(second)
            return bool(a) and bool(b) and not a & b

        wait_until(split, timeout=60, interval=0.2, message="materials split across workers")
        both = first.get("/v1/materials").json()
        assert {r["material"] for r in both} == local_materials(first) | local_materials(second)
        assert feeder.running, "take-over must happen mid-replay"
        second.stop()
        wait_until(lambda: not feeder.running, timeout=60, message="replay finished")
        wait_until(
            lambda: final_state_matches(first, expected),
            timeout=90,
            interval=0.5,
            message="surviving worker holds every material's final state",
        )
        assert local_materials(first) == set(expected.states)
        duplicates = await assert_outputs_match_backtest(
            kafka_bootstrap, topic_prefix, expected, healthy=lambda: first.running
        )
    finally:
        second.stop()
        first.stop()
        feeder.stop()
    print(f"byte-identical re-emissions after the take-over: {duplicates}")
