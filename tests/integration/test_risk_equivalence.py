"""`sentinel replay` of a sample scenario gives exactly the backtest's outputs.

Same ids, same bytes, same order per material. The replay is an ordinary producer (no headers);
the order comes from the event-time merge, as for any producer. Every scenario is also produced
by an independent client in `test_risk_any_producer.py`; this test covers the CLI's path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.risk_harness import (
    SCENARIOS,
    RiskWorker,
    backtest,
    by_material,
    expected_by_material,
    read_outputs,
    replay,
)

pytestmark = pytest.mark.integration

SCENARIO_FILES = ["china_gallium_germanium_2023.jsonl"]


@pytest.mark.parametrize("scenario", SCENARIO_FILES)
async def test_replay_through_kafka_equals_backtest(
    scenario: str,
    kafka_bootstrap: str,
    topic_prefix: str,
    service_env: dict[str, str],
    tmp_path: Path,
) -> None:
    expected = backtest(scenario)
    assert expected.alerts, "each sample scenario raises at least one alert"
    worker = RiskWorker(service_env, tmp_path / "worker.log").start()
    try:
        out = replay(service_env, SCENARIOS / scenario)
        assert f"replayed {expected.events} events" in out
        alive = lambda: worker.running  # noqa: E731
        alerts = await read_outputs(
            kafka_bootstrap, topic_prefix, "alerts", expected=len(expected.alerts), healthy=alive
        )
        recs = await read_outputs(
            kafka_bootstrap,
            topic_prefix,
            "recommendations",
            expected=len(expected.recommendations),
            healthy=alive,
        )
        snaps = await read_outputs(
            kafka_bootstrap, topic_prefix, "risk", expected=len(expected.snapshots), healthy=alive
        )
        dead = await read_outputs(
            kafka_bootstrap, topic_prefix, "dead", expected=0, settle=0.5, healthy=alive
        )
    finally:
        worker.stop()
    assert by_material(alerts) == expected_by_material(expected.alerts)
    assert by_material(recs) == expected_by_material(expected.recommendations)
    assert by_material(snaps) == expected_by_material(expected.snapshots)
    assert dead == []
