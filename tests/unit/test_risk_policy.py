"""Levels, alert lifecycle and stockpile recommendations of the risk core."""

from __future__ import annotations

from typing import Any

import pytest

from mineral_sentinel.risk import (
    MaterialState,
    Outputs,
    Policy,
    active_measures,
    apply_event,
    days_of_cover,
    dump_state,
    initial_state,
    last_recommendation,
    open_alert,
    snapshot_of,
)
from mineral_sentinel.risk.policy import stockpile_rules
from mineral_sentinel.risk.scoring import next_level
from mineral_sentinel.risk.stockpile import Decision, decide

from .risk_fixtures import CATALOG, POLICY, Events, calm_prices, day, fold

pytestmark = pytest.mark.unit
H = 3600.0


# ---- levels ----------------------------------------------------------------------------------


def test_escalation_is_immediate_and_may_skip_levels():
    assert next_level(0, 0.0, 80.0, 1.0, POLICY) == 3
    assert next_level(1, 0.0, 55.0, 1.0, POLICY) == 2


def test_hysteresis_keeps_a_level_until_the_score_drops_below_entry_minus_margin():
    since = 0.0
    late = 100 * H
    assert next_level(2, since, 45.0, late, POLICY) == 2  # below 50 but not below 40
    assert next_level(2, since, 39.0, late, POLICY) == 1
    assert next_level(2, since, 5.0, late, POLICY) == 0


def test_minimum_dwell_delays_a_downgrade_in_event_time():
    assert next_level(2, 0.0, 5.0, 47 * H, POLICY) == 2
    assert next_level(2, 0.0, 5.0, 48 * H, POLICY) == 0


# ---- alert lifecycle -------------------------------------------------------------------------


def _episode() -> tuple[list[Any], tuple[MaterialState, list[Outputs]]]:
    ev = Events()
    announced = ev.control(
        status="announced", announced_at=day(30), effective_at=day(60), event_id="ann"
    )
    effective = ev.control(
        status="effective", announced_at=day(30), effective_at=day(60), event_id="eff"
    )
    lifted = ev.control(
        status="lifted", announced_at=day(30), effective_at=day(200), event_id="lift"
    )
    events = [
        *calm_prices(ev, 0, 30),
        ev.position(day(0), 9.0),
        announced,
        *calm_prices(ev, 31, 20),
        effective,
        lifted,
        *calm_prices(ev, 201, 10),
    ]
    return events, fold(events)


def test_one_alert_per_episode_updated_in_place_then_resolved():
    _events, (state, outs) = _episode()
    alerts = [a for o in outs for a in o.alerts]
    assert len({a.alert_id for a in alerts}) == 1
    assert [a.sequence for a in alerts] == list(range(1, len(alerts) + 1))
    assert alerts[0].status == "firing" and alerts[0].evidence[0] == "ann"
    assert alerts[-1].status == "resolved"
    assert {a.severity for a in alerts} >= {"warning", "critical"}
    assert "policy_shock" in alerts[-1].causes
    assert all(a.started_at == alerts[0].started_at for a in alerts)
    assert open_alert(state) is None


def test_alert_id_is_a_function_of_material_and_opening_event():
    _, (_, outs1) = _episode()
    _, (_, outs2) = _episode()
    ids1 = [a.alert_id for o in outs1 for a in o.alerts]
    ids2 = [a.alert_id for o in outs2 for a in o.alerts]
    assert ids1 == ids2
    assert ids1[0].startswith("alr_gallium_")


def test_a_new_episode_after_resolution_gets_a_new_alert_id():
    _events, (state, outs) = _episode()
    ev = Events()
    again = ev.control(
        status="announced",
        announced_at=day(220),
        effective_at=day(260),
        measure_id="second",
        event_id="ann2",
    )
    state, outs2 = fold([again], state=state)
    first_id = next(a.alert_id for o in outs for a in o.alerts)
    new = outs2[0].alerts[0]
    assert new.alert_id != first_id and new.sequence == 1 and new.status == "firing"


def test_duplicate_event_id_changes_nothing_and_emits_nothing():
    ev = Events()
    events = [*calm_prices(ev, 0, 10)]
    state, _ = fold(events)
    before = dump_state(state)
    dup = ev.control(
        status="effective", announced_at=day(0), effective_at=day(0), event_id=events[3].event_id
    )
    _, out = apply_event(state, dup, CATALOG, POLICY)
    assert not out
    assert dump_state(state) == before


def test_seen_ids_are_a_bounded_ring():
    policy = Policy(seen_ids=5)
    ev = Events()
    state, _ = fold(calm_prices(ev, 0, 12), policy=policy)
    assert len(state.seen) == 5 and list(state.seen_ring) == [f"p{i}" for i in range(8, 13)]


def test_snapshot_on_first_event_then_only_on_material_change():
    ev = Events()
    state, outs = fold(calm_prices(ev, 0, 10))
    assert outs[0].snapshot is not None
    assert all(o.snapshot is None for o in outs[1:])
    snap = snapshot_of(state, CATALOG, POLICY)
    assert snap.level == "normal" and snap.as_of == day(9)


def test_snapshot_of_a_state_without_events_is_refused():
    with pytest.raises(LookupError):
        snapshot_of(initial_state("gallium"), CATALOG, POLICY)


def test_material_mismatch_and_unknown_material_raise_before_any_change():
    ev = Events("germanium")
    state = initial_state("gallium")
    with pytest.raises(ValueError):
        apply_event(state, ev.price(day(0), 1.0), CATALOG, POLICY)
    assert state.now is None and not state.seen
    from mineral_sentinel.risk import UnknownMaterialError

    with pytest.raises(UnknownMaterialError):
        apply_event(
            initial_state("unobtainium"), Events("unobtainium").price(day(0), 1.0), CATALOG, POLICY
        )


def test_accessors_for_the_api():
    _, (state, _) = _episode()
    assert active_measures(state) == []
    assert days_of_cover(state, CATALOG) == pytest.approx(90.0)
    rec = last_recommendation(state)
    assert rec is not None and rec.material == "gallium"


# ---- stockpile policy ------------------------------------------------------------------------

RULES = stockpile_rules(POLICY, "gallium", catalog_floor_days=20.0, catalog_target_days=60.0)
"""The default protocol for a material whose catalog floor is 20 d and target 60 d."""


def _decide(**overrides: Any) -> Decision:
    args: dict[str, Any] = dict(
        stock_t=900.0,
        daily_t=10.0,
        restriction_shortfall=0.0,
        at_risk_t=0.0,
        market=0.0,
        elevated=False,
        alert_id=None,
        rules=RULES,
    )
    args.update(overrides)
    decision = decide(**args)
    assert decision is not None  # without last_key a decision is always returned
    return decision


def test_emergency_release_at_the_7_percent_trigger_sized_shortfall_times_horizon():
    below = _decide(restriction_shortfall=0.069, alert_id="a")
    assert below.action == "hold"
    at = _decide(restriction_shortfall=0.07, alert_id="a")
    assert at.action == "release"
    assert at.quantity_t == pytest.approx(0.07 * 90 * 10.0, abs=1e-3)


def test_emergency_release_is_capped_to_keep_cover_at_the_floor():
    big = _decide(restriction_shortfall=0.9, alert_id="a")
    assert big.action == "release"
    assert big.days_after >= 20.0
    assert big.quantity_t == pytest.approx(900 - 200, abs=1e-3)
    at_floor = _decide(stock_t=200.0, restriction_shortfall=0.9, alert_id="a")
    assert at_floor.action == "hold" and "floor" in at_floor.rationale


def test_logistics_counts_towards_the_physical_shortfall():
    decision = _decide(at_risk_t=0.08 * 90 * 10.0, alert_id="a")
    assert decision.action == "release"


def test_price_spike_sale_is_a_smaller_tranche_from_above_target():
    spike = _decide(market=80.0, alert_id="a")
    assert spike.action == "release" and spike.key.startswith("release:price_spike")
    assert spike.quantity_t == pytest.approx(POLICY.price_spike_tranche_days * 10.0)
    assert spike.days_after >= 60.0
    below_target = _decide(stock_t=500.0, market=80.0, alert_id="a")
    assert below_target.action == "hold"


def test_replenish_only_when_calm_below_target_and_prices_not_elevated():
    assert _decide(stock_t=400.0).action == "replenish"
    assert _decide(stock_t=400.0).quantity_t == pytest.approx(200.0)
    assert _decide(stock_t=400.0, alert_id="a").action == "hold"
    assert _decide(stock_t=400.0, elevated=True).action == "hold"
    assert _decide(stock_t=400.0, market=30.0).action == "hold"
    assert _decide(stock_t=400.0, cooling_down=True).action == "hold"
    assert _decide(stock_t=700.0).action == "hold"


def test_decide_returns_nothing_when_the_key_is_unchanged():
    first = _decide(stock_t=400.0)
    common: dict[str, Any] = dict(
        stock_t=400.0,
        daily_t=10.0,
        restriction_shortfall=0.0,
        at_risk_t=0.0,
        market=0.0,
        alert_id=None,
        rules=RULES,
        last_key=first.key,
    )
    assert decide(elevated=False, **common) is None
    changed = decide(elevated=True, **common)
    assert changed is not None and changed.key == "hold:prices"


def test_recommendations_are_emitted_only_on_a_change_of_decision():
    ev = Events()
    _state, outs = fold(
        [ev.position(day(0), 9.0), *calm_prices(ev, 1, 20), ev.position(day(21), 9.0)]
    )
    recs = [r for o in outs for r in o.recommendations]
    assert [r.action for r in recs] == ["hold"]


def test_release_recommendation_is_linked_to_the_alert():
    _, (_, outs) = _episode()
    releases = [r for o in outs for r in o.recommendations if r.action == "release"]
    assert len(releases) == 1
    release = releases[0]
    alerts = [a for o in outs for a in o.alerts]
    assert release.alert_id == alerts[0].alert_id
    assert any(a.recommendation_id == release.recommendation_id for a in alerts)
    assert release.days_of_cover_after is not None and release.days_of_cover_after >= 30.0
