"""The committed sample scenarios, run through the backtest with the real catalog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from mineral_sentinel.backtest import BacktestResult, run_backtest
from mineral_sentinel.catalog.loader import load_catalog
from mineral_sentinel.contracts.outputs import LEVEL_ORDER
from mineral_sentinel.feeds.synthetic import SCENARIOS
from mineral_sentinel.risk import Policy

pytestmark = pytest.mark.unit
SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"


@cache
def backtest(name: str) -> BacktestResult:
    lines = (SCENARIO_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return run_backtest(lines, load_catalog(), Policy())


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_committed_scenarios_are_what_the_seeded_generator_writes(name: str):
    committed = (SCENARIO_DIR / f"{name}.jsonl").read_text(encoding="utf-8")
    assert committed == "\n".join(SCENARIOS[name]().lines()) + "\n"
    assert len(committed.splitlines()) <= 5000


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_line_is_valid_and_every_alert_resolves(name: str):
    result = backtest(name)
    assert result.bad_lines == []
    open_ids: set[str] = set()
    for alert in result.alerts:
        (open_ids.add if alert.status == "firing" else open_ids.discard)(alert.alert_id)
    assert open_ids == set()


ANNOUNCEMENT = datetime(2023, 7, 3, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("material", ["gallium", "germanium"])
def test_gallium_and_germanium_reach_warning_within_a_day_of_the_announcement(material: str):
    result = backtest("china_gallium_germanium_2023")
    reached = [
        a.updated_at
        for a in result.alerts
        if a.material == material and LEVEL_ORDER[a.severity] >= LEVEL_ORDER["warning"]
    ]
    assert reached, f"{material} never reached warning"
    assert ANNOUNCEMENT <= reached[0] <= ANNOUNCEMENT + timedelta(days=1)
    earlier = [a for a in result.alerts if a.material == material and a.updated_at < ANNOUNCEMENT]
    assert earlier == []


def test_gallium_gets_a_release_that_keeps_cover_at_or_above_the_floor():
    result = backtest("china_gallium_germanium_2023")
    floor = load_catalog().material("gallium").floor_days
    releases = [
        r for r in result.recommendations if r.material == "gallium" and r.action == "release"
    ]
    assert releases
    for release in releases:
        assert release.quantity_t > 0
        assert release.days_of_cover_after is not None
        assert release.days_of_cover_after >= floor
        assert release.alert_id is not None


def test_calm_year_produces_no_warning_or_critical_alert():
    result = backtest("calm_year")
    assert len(result.states) == 10
    assert [a for a in result.alerts if a.severity in ("warning", "critical")] == []
    assert not [r for r in result.recommendations if r.action == "release"]


@pytest.mark.parametrize(
    ("name", "material", "start"),
    [
        ("china_graphite_2023", "natural_graphite", datetime(2023, 10, 20, 9, tzinfo=UTC)),
        ("indonesia_nickel_2019", "nickel", datetime(2019, 8, 30, 3, tzinfo=UTC)),
        ("drc_cobalt_2025", "cobalt", datetime(2025, 2, 22, 11, tzinfo=UTC)),
    ],
)
def test_historical_measures_raise_an_alert_on_their_first_day(name, material, start):
    result = backtest(name)
    first = [a for a in result.alerts if a.material == material and a.updated_at >= start]
    assert first and first[0].updated_at <= start + timedelta(days=1)
    assert max(LEVEL_ORDER[a.severity] for a in result.alerts) >= LEVEL_ORDER["warning"]
