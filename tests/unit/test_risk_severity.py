"""Severity gates: what each level needs besides the score (docs/severity.md)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mineral_sentinel.risk import MaterialState, apply_event, initial_state
from mineral_sentinel.risk.core import read
from mineral_sentinel.risk.scoring import (
    entry_level,
    eu_evidence,
    gated_level,
    physical_exposure,
    severity_ceiling,
)

from .risk_fixtures import CATALOG, POLICY, Events, calm_prices, day, fold
from .test_risk_properties import event_lists

pytestmark = pytest.mark.unit
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
H = 3600.0
GALLIUM = CATALOG.material("gallium")  # 0.1 t/day of net imports, target 90 d, floor 30 d


def _reading(state: MaterialState) -> Any:
    assert state.now is not None
    return read(state, CATALOG.material(state.material), CATALOG, POLICY, state.now)


def _levels(outs: list[Any]) -> list[str]:
    return [o.snapshot.level for o in outs if o.snapshot is not None]


def _us_only_ban(ev: Events, at: float = 30, **kw: Any) -> Any:
    return ev.control(
        status="effective",
        measure="ban",
        announced_at=day(at),
        effective_at=day(at),
        destinations=["US"],
        **kw,
    )


# ---- the readable gate functions ------------------------------------------------------------


def test_physical_exposure_needs_a_restriction_in_force_tonnes_at_risk_or_cover_below_floor():
    assert physical_exposure(0.0, 0.0, 60.0, 30.0, POLICY) == ""
    assert physical_exposure(0.01, 0.0, 60.0, 30.0, POLICY) == "restriction"
    assert physical_exposure(0.0, 4.9, 60.0, 30.0, POLICY) == ""
    assert physical_exposure(0.0, 5.0, 60.0, 30.0, POLICY) == "logistics"
    assert physical_exposure(0.0, 0.0, 29.9, 30.0, POLICY) == "cover"
    assert physical_exposure(0.0, 0.0, None, 30.0, POLICY) == ""


def test_eu_evidence_is_a_measure_reaching_the_eu_prices_tonnes_at_risk_or_cover_near_floor():
    def evidence(**kw: Any) -> str:
        args: dict[str, Any] = {
            "reaches_eu": False,
            "market": 0.0,
            "at_risk_days": 0.0,
            "cover": 90.0,
            "floor_days": 30.0,
            "target_days": 90.0,
            "policy": POLICY,
        } | kw
        return eu_evidence(**args)

    assert evidence() == ""
    assert evidence(reaches_eu=True) == "measure"
    assert evidence(market=29.9) == ""
    assert evidence(market=30.0) == "market"
    assert evidence(at_risk_days=1.0) == "logistics"
    assert evidence(cover=45.0) == "cover"  # floor + a quarter of the 60-day band
    assert evidence(cover=45.1) == ""
    assert evidence(cover=None) == ""


def test_severity_ceiling_is_critical_with_exposure_warning_with_evidence_else_watch():
    assert severity_ceiling("restriction", "measure") == 3
    assert severity_ceiling("", "market") == 2
    assert severity_ceiling("", "") == 1


def test_gated_level_never_enters_above_the_ceiling_and_leaves_it_after_the_dwell():
    assert gated_level(0, 0.0, 90.0, 1.0, 1, POLICY) == 1
    assert gated_level(1, 0.0, 90.0, 1.0, 2, POLICY) == 2
    assert gated_level(0, 0.0, 90.0, 1.0, 3, POLICY) == 3
    # held at critical when the exposure went away: kept for the dwell, then the ceiling
    assert gated_level(3, 0.0, 90.0, 47 * H, 2, POLICY) == 3
    assert gated_level(3, 0.0, 90.0, 48 * H, 2, POLICY) == 2
    # the score's own downgrade still applies below the ceiling
    assert gated_level(3, 0.0, 5.0, 48 * H, 2, POLICY) == 0


# ---- a measure aimed only at non-EU destinations ---------------------------------------------


def test_a_ban_aimed_only_at_the_us_raises_at_most_watch_on_its_own():
    """The issue's case: China bans gallium exports to the US only, EU cargo keeps arriving,
    no EU price move: today's score is high, but the level is capped at watch."""
    ev = Events()
    events = [
        *calm_prices(ev, 0, 30),
        ev.position(day(0), 9.0),
        ev.shipment(day(29), "a", "booked", 0.8),
        _us_only_ban(ev),
        ev.shipment(day(31), "a", "arrived", 0.8),
        *calm_prices(ev, 31, 10),
    ]
    state, outs = fold(events)
    reading = _reading(state)
    assert entry_level(reading.score, POLICY) >= 2  # the score alone would say warning or more
    assert state.level == 1
    assert set(_levels(outs)) <= {"normal", "watch"}
    alerts = [a for o in outs for a in o.alerts]
    assert alerts and {a.severity for a in alerts} == {"watch"}
    assert "capped at watch" in alerts[0].summary
    assert "name no EU destination" in alerts[0].summary
    snap = [o.snapshot for o in outs if o.snapshot is not None][-1]
    assert snap.level_cap == "watch"
    assert snap.level_basis.startswith("capped at watch")


def test_a_non_eu_measure_escalates_with_an_eu_price_move_but_not_to_critical():
    ev = Events()
    events = [
        *calm_prices(ev, 0, 30),
        ev.position(day(0), 9.0),
        _us_only_ban(ev),
        ev.price(day(31), 300.0 * 1.6),  # European gallium +60% over its trailing median
    ]
    state, outs = fold(events)
    assert _reading(state).values[3] >= POLICY.evidence_market
    assert state.level == 2
    snap = [o.snapshot for o in outs if o.snapshot is not None][-1]
    assert snap.level_cap == "warning"
    assert "EU-relevant evidence: a price signal" in snap.level_basis


def test_a_non_eu_measure_escalates_to_critical_when_eu_bound_cargo_is_held():
    ev = Events()
    events = [
        *calm_prices(ev, 0, 30),
        ev.position(day(0), 9.0),
        _us_only_ban(ev),
        ev.shipment(day(31), "a", "held", 1.0),  # 0.75 t at risk = 7.5 days of net imports
    ]
    state, outs = fold(events)
    assert _reading(state).ceiling == 3
    assert state.level == 3
    assert [o.snapshot for o in outs if o.snapshot is not None][-1].level_basis.startswith(
        "critical allowed: EU-bound tonnes at risk"
    )


# ---- an announcement alone is at most a warning ----------------------------------------------


def test_an_announced_total_ban_is_a_warning_the_day_it_is_announced_and_critical_in_force():
    ev = Events()
    announced = ev.control(
        status="announced", measure="ban", announced_at=day(30), effective_at=day(40)
    )
    state, outs = fold([*calm_prices(ev, 0, 30), ev.position(day(0), 9.0), announced])
    assert entry_level(_reading(state).score, POLICY) == 3  # 98% of world supply announced
    assert state.level == 2
    alert = [a for o in outs for a in o.alerts][-1]
    assert alert.severity == "warning" and alert.updated_at == day(30)
    assert "capped at warning" in alert.summary
    # no new control event: the measure takes effect on its date, and the next print sees it
    state, outs = fold(calm_prices(ev, 31, 12), state=state)
    assert state.level == 3
    first_critical = next(o.snapshot for o in outs if o.snapshot and o.snapshot.level == "critical")
    assert first_critical.as_of == day(40)
    assert first_critical.level_basis.startswith("critical allowed: a restriction in force")


def test_licensing_in_its_lag_is_physical_exposure():
    ev = Events()
    licensing = ev.control(status="effective", announced_at=day(0), effective_at=day(30))
    state, _ = fold([*calm_prices(ev, 0, 30), ev.position(day(0), 9.0), licensing])
    assert _reading(state).view.shortfall > 0.0
    assert _reading(state).ceiling == 3
    assert state.level == 3


def test_an_announcement_with_cover_below_the_floor_may_be_critical():
    ev = Events()
    announced = ev.control(
        status="announced", measure="ban", announced_at=day(30), effective_at=day(90)
    )
    state, _ = fold([*calm_prices(ev, 0, 30), ev.position(day(0), 2.0), announced])  # 20 d
    assert _reading(state).ceiling == 3
    assert state.level == 3


def test_critical_from_held_cargo_falls_back_to_warning_once_it_arrives_after_the_dwell():
    ev = Events()
    announced = ev.control(
        status="announced", measure="ban", announced_at=day(30), effective_at=day(90)
    )
    events = [
        *calm_prices(ev, 0, 30),
        ev.position(day(0), 9.0),
        announced,
        ev.shipment(day(30.5), "a", "held", 1.0),
    ]
    state, _ = fold(events)
    assert state.level == 3
    state, _ = fold([ev.shipment(day(31), "a", "arrived", 1.0)], state=state)
    assert state.level == 3  # within the minimum dwell
    state, _ = fold(calm_prices(ev, 33, 2), state=state)
    assert state.level == 2


def test_a_lifted_measure_resolves_promptly_when_the_signals_calm():
    ev = Events()
    events = [
        *calm_prices(ev, 0, 30),
        ev.position(day(0), 9.0),
        ev.control(status="effective", measure="ban", announced_at=day(30), effective_at=day(30)),
        *calm_prices(ev, 31, 5),
        ev.control(status="lifted", measure="ban", announced_at=day(30), effective_at=day(36)),
        *calm_prices(ev, 37, 4),
    ]
    _, outs = fold(events)
    alerts = [a for o in outs for a in o.alerts]
    assert alerts[0].severity == "critical"
    assert alerts[-1].status == "resolved"
    assert alerts[-1].updated_at <= day(38)


# ---- properties ------------------------------------------------------------------------------

NON_EU = ("US", "JP", "CN", "RU", "AU")


def _outputs_json(outs: list[Any]) -> list[Any]:
    return [
        (
            o.snapshot and o.snapshot.model_dump_json(),
            [a.model_dump_json() for a in o.alerts],
            [r.model_dump_json() for r in o.recommendations],
        )
        for o in outs
    ]


@SETTINGS
@given(
    event_lists(max_size=20),
    st.lists(st.sampled_from(["US", "JP", "DE", "NL"]), max_size=3),
    st.sampled_from(NON_EU),
    st.sampled_from(["announced", "effective"]),
    st.sampled_from(["ban", "quota", "licensing"]),
)
def test_adding_a_non_eu_destination_to_a_measure_never_raises_severity(
    events, destinations, added, status, kind
):
    per_event = []
    for listed in (destinations, [*destinations, added]):
        ev = Events()
        probe = ev.control(
            status=status,
            measure=kind,
            announced_at=day(200),
            effective_at=day(210),
            destinations=listed,
            measure_id="probe",
            event_id="probe",
        )
        later = [ev.price(day(205), 1.0, event_id="p-late"), ev.price(day(230), 1.0, event_id="q")]
        state = initial_state("gallium")
        levels = []
        for event in [*events, probe, *later]:
            state, _ = apply_event(state, event, CATALOG, POLICY)
            levels.append(state.level)
        per_event.append(levels)
    assert all(b <= a for a, b in zip(*per_event, strict=True))


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.floats(0, 300),
            st.floats(0, 60),
            st.sampled_from(["ban", "quota", "licensing", "export_tax", "other"]),
            st.sampled_from(["announced", "effective", "suspended", "lifted"]),
            st.lists(st.sampled_from(NON_EU), max_size=3),
            st.floats(0, 1),
        ),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from(["gallium", "germanium", "nickel"]),
)
def test_measures_aimed_only_at_non_eu_destinations_raise_at_most_watch_on_their_own(
    measures, material
):
    """Calm prices, stock at target, no shipments: whatever the measures, at most watch."""
    ev = Events(material)
    profile = CATALOG.material(material)
    daily = profile.eu_net_imports_t / 365.0
    events: list[Any] = [
        *calm_prices(ev, 0, 400, step=0.002),
        ev.position(day(0), profile.target_days * daily),
    ]
    for index, (at, lag, kind, status, destinations, coverage) in enumerate(measures):
        events.append(
            ev.control(
                status=status,
                measure=kind,
                announced_at=day(at),
                effective_at=day(at + lag),
                destinations=destinations,
                coverage=coverage,
                measure_id=f"m{index % 3}",
            )
        )
    events.sort(key=lambda e: e.occurred_at if hasattr(e, "occurred_at") else e.observed_at)
    _, outs = fold(events, material=material)
    assert set(_levels(outs)) <= {"normal", "watch"}
    assert all(a.severity == "watch" for o in outs for a in o.alerts)


@SETTINGS
@given(event_lists())
def test_the_fast_path_level_is_the_gated_level_of_the_readable_functions(events):
    """After every event: the inlined ceiling equals scoring.severity_ceiling over the readable
    gates, and the level equals gated_level(previous level, its start, score, now, ceiling)."""
    state = initial_state("gallium")
    for event in events:
        level, since = state.level, state.level_since
        state, _ = apply_event(state, event, CATALOG, POLICY)
        assert state.now is not None
        reading = _reading(state)
        days = reading.at_risk_t / reading.daily_t if reading.daily_t else 0.0
        exposure = physical_exposure(
            reading.view.shortfall, days, reading.cover, GALLIUM.floor_days, POLICY
        )
        evidence = eu_evidence(
            reading.view.reaches_eu,
            reading.values[3],
            days,
            reading.cover,
            GALLIUM.floor_days,
            GALLIUM.target_days,
            POLICY,
        )
        assert reading.ceiling == severity_ceiling(exposure, evidence)
        if since == 0.0 and level == 0:
            since = state.level_since  # the first event starts the clock
        expected = gated_level(level, since, state.score, state.now, reading.ceiling, POLICY)
        assert state.level == expected
