"""Each signal of the risk core on its own: supply risk, policy shock, logistics, market, stock."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from mineral_sentinel.risk import MaterialState, Policy, apply_event, initial_state
from mineral_sentinel.risk.core import read
from mineral_sentinel.risk.explain import Reading
from mineral_sentinel.risk.measures import compute_view
from mineral_sentinel.risk.state import PolicyView
from mineral_sentinel.risk.supply_risk import hhi, supply_risk
from mineral_sentinel.risk.timeutil import add_working_days

from .risk_fixtures import CATALOG, POLICY, Events, calm_prices, day, fold

pytestmark = pytest.mark.unit

GALLIUM = CATALOG.material("gallium")


def reading_of(state: MaterialState, policy: Policy = POLICY) -> Reading:
    assert state.now is not None
    return read(state, CATALOG.material(state.material), CATALOG, policy, state.now)


# ---- EU-method supply risk -------------------------------------------------------------------


def test_hhi_with_fractional_shares_is_on_the_sr_scale():
    # one supplier with the worst governance: 1^2 * 10 * 1 = 10, the top of the SR scale
    monopoly = replace(GALLIUM, published_trade_factors={})
    catalog = replace(CATALOG, countries={})  # unlisted countries get WGI 5.0
    assert hhi({"CN": 1.0}, monopoly, catalog, {}, 0.5) == pytest.approx(5.0)
    assert hhi({"CN": 0.5, "US": 0.5}, monopoly, catalog, {}, 0.5) == pytest.approx(2.5)


def test_supply_risk_formula_by_hand():
    # gallium: GS {CN .98, JP .01 (FTA 0.8), RU .01}, EU {CN .71, DE .15, JP .14}, IR .98
    hhi_gs = 0.98**2 * 6.2 + 0.01**2 * 1.8 * 0.8 + 0.01**2 * 7.4
    hhi_eu = 0.71**2 * 6.2 + 0.15**2 * 1.6 + 0.14**2 * 1.8 * 0.8
    expected = (hhi_gs * 0.98 / 2 + hhi_eu * (1 - 0.98 / 2)) * (1 - 0.0) * 0.98
    value, stage = supply_risk(GALLIUM, CATALOG, {}, 0.5)
    assert stage == "processing"
    assert value == pytest.approx(expected)


def test_live_measure_raises_trade_factor_but_never_double_counts_published_one():
    nickel = CATALOG.material("nickel")  # Indonesia already carries t = 1.3
    base = hhi({"ID": 1.0}, nickel, CATALOG, {}, 0.5)
    weak = hhi({"ID": 1.0}, nickel, CATALOG, {"ID": 0.4}, 0.5)  # 1 + 0.2 < 1.3
    strong = hhi({"ID": 1.0}, nickel, CATALOG, {"ID": 1.0}, 0.5)  # 1.5 > 1.3
    assert weak == pytest.approx(base)
    assert strong == pytest.approx(base / 1.3 * 1.5)


def test_bottleneck_is_the_higher_stage_and_empty_eu_sourcing_falls_back_to_global():
    nickel = CATALOG.material("nickel")
    value, stage = supply_risk(nickel, CATALOG, {}, 0.5)
    from mineral_sentinel.risk.supply_risk import stage_supply_risk

    extraction = stage_supply_risk(nickel, CATALOG, "extraction", {}, 0.5)
    processing = stage_supply_risk(nickel, CATALOG, "processing", {}, 0.5)
    assert value == max(extraction, processing)
    assert stage == ("extraction" if extraction > processing else "processing")
    # extraction has no EU sourcing: HHI_EU = HHI_GS there
    gs = hhi(nickel.global_supply["extraction"], nickel, CATALOG, {}, 0.5, "extraction")
    assert extraction == pytest.approx(gs * (1 - 0.16) * 0.92)


# ---- policy shock ----------------------------------------------------------------------------


def _view_after(
    events: list[Any], material: str = "gallium", policy: Policy = POLICY
) -> tuple[PolicyView, MaterialState]:
    state, _ = fold(events, material=material, policy=policy)
    assert state.now is not None
    return compute_view(state, CATALOG.material(material), CATALOG, state.now, policy), state


def test_announced_is_a_leading_signal_weaker_than_effective():
    ev = Events()
    announced = ev.control(status="announced", announced_at=day(0), effective_at=day(30))
    view_a, _ = _view_after([announced])
    ev2 = Events()
    effective = ev2.control(status="effective", announced_at=day(0), effective_at=day(30))
    view_e, _ = _view_after([effective])
    assert view_a.pressure == pytest.approx(0.98 * 0.55 * 0.5)
    assert view_a.shortfall == 0.0  # nothing is physically missing yet
    assert view_e.pressure > view_a.pressure
    assert view_e.shortfall == pytest.approx(0.71 * 0.9)  # EU sourcing, licensing lag


def test_announced_measure_takes_effect_on_its_date_without_a_new_event():
    ev = Events()
    events = [
        ev.control(status="announced", announced_at=day(0), effective_at=day(10)),
        ev.price(day(11), 300.0),
    ]
    view, _ = _view_after(events)
    assert view.shortfall > 0.0


def test_licensing_lag_keeps_pressure_high_for_45_working_days():
    ev = Events()
    effective = ev.control(status="effective", announced_at=day(0), effective_at=day(1))
    lag_end = add_working_days(day(1).timestamp(), 45)
    assert (lag_end - day(1).timestamp()) / 86400 == 63  # 9 weeks
    in_lag, _ = _view_after([effective, ev.price(day(60), 1.0)])
    after, _ = _view_after([effective, ev.price(day(65), 1.0)])
    assert in_lag.pressure == pytest.approx(0.98 * 0.9)
    assert after.pressure == pytest.approx(0.98 * 0.55)
    assert in_lag.valid_until == lag_end


def test_severity_orders_measure_kinds():
    pressures = []
    for kind in ("other", "export_tax", "licensing", "quota", "ban"):
        ev = Events()
        c = ev.control(status="effective", measure=kind, announced_at=day(0), effective_at=day(0))
        view, _ = _view_after([c, ev.price(day(100), 1.0)])  # after any licensing lag
        pressures.append(view.pressure)
    assert pressures == sorted(pressures)
    assert len(set(pressures)) == 5


def test_suspended_then_lifted_release_pressure_and_resumption_restores_it():
    ev = Events()
    effective = ev.control(status="effective", announced_at=day(0), effective_at=day(1))
    suspended = ev.control(status="suspended", announced_at=day(0), effective_at=day(20))
    resumed = ev.control(status="effective", announced_at=day(0), effective_at=day(30))
    lifted = ev.control(status="lifted", announced_at=day(0), effective_at=day(40))
    assert _view_after([effective])[0].pressure > 0
    assert _view_after([effective, suspended])[0].pressure == 0.0
    assert _view_after([effective, suspended, resumed])[0].pressure > 0
    view, _state = _view_after([effective, suspended, resumed, lifted])
    assert view.pressure == 0.0 and view.shortfall == 0.0
    assert view.sr_live == pytest.approx(view.sr_baseline)


def test_expires_at_is_honoured_in_event_time():
    ev = Events()
    c = ev.control(
        status="effective",
        measure="ban",
        announced_at=day(0),
        effective_at=day(0),
        expires_at=day(10),
    )
    before, _ = _view_after([c, ev.price(day(9), 1.0)])
    after, _ = _view_after([c, ev.price(day(10), 1.0)])
    assert before.pressure == pytest.approx(0.98)
    assert before.valid_until == day(10).timestamp()
    assert after.pressure == 0.0


def test_measure_aimed_at_non_eu_destinations_weighs_less_and_causes_no_eu_shortfall():
    ev = Events()
    us_only = ev.control(
        status="effective",
        measure="ban",
        announced_at=day(0),
        effective_at=day(0),
        destinations=["US"],
    )
    eu_too = Events().control(
        status="effective",
        measure="ban",
        announced_at=day(0),
        effective_at=day(0),
        destinations=["US", "NL"],
    )
    view_us, _ = _view_after([us_only])
    view_eu, _ = _view_after([eu_too])
    assert view_us.pressure == pytest.approx(0.98 * 0.35)
    assert view_us.shortfall == 0.0
    assert view_eu.pressure == pytest.approx(0.98)


def test_older_measure_update_does_not_regress_newer_state():
    ev = Events()
    lifted = ev.control(status="lifted", announced_at=day(0), effective_at=day(20))
    stale_effective = ev.control(status="effective", announced_at=day(0), effective_at=day(5))
    view, state = _view_after([lifted, stale_effective])
    assert state.measures["cn-ga-ge-2023"].status == "lifted"
    assert view.pressure == 0.0


def test_one_export_control_applies_to_each_material_it_names():
    ev = Events()
    control = ev.control(
        status="announced",
        announced_at=day(0),
        effective_at=day(30),
        materials=["gallium", "germanium"],
    )
    for material in ("gallium", "germanium"):
        state, _out = apply_event(initial_state(material), control, CATALOG, POLICY)
        assert "cn-ga-ge-2023" in state.measures
    with pytest.raises(ValueError):
        apply_event(initial_state("nickel"), control, CATALOG, POLICY)


# ---- logistics -------------------------------------------------------------------------------


def test_days_at_risk_weight_status_and_drop_arrived_shipments():
    ev = Events()
    daily = 36.5 / 365  # 0.1 t/day
    state, _ = fold(
        [
            ev.shipment(day(0), "a", "delayed", 1.0),
            ev.shipment(day(0), "b", "held", 1.0),
            ev.shipment(day(0), "c", "cancelled", 1.0),
            ev.shipment(day(0), "d", "in_transit", 5.0),
        ]
    )
    r = reading_of(state)
    assert r.at_risk_t == pytest.approx(0.25 + 0.75 + 1.0)
    assert r.values[2] == pytest.approx(min(100.0, 100 * (2.0 / daily) / 30))
    state, _ = fold([ev.shipment(day(1), "b", "arrived", 1.0)], state=state)
    assert "b" not in state.shipments
    assert reading_of(state).at_risk_t == pytest.approx(1.25)


def test_cancelled_shipment_is_forgotten_after_its_memory_and_late_updates_cannot_resurrect():
    ev = Events()
    state, _ = fold(
        [ev.shipment(day(0), "c", "cancelled", 2.0), ev.shipment(day(0), "x", "arrived", 2.0)]
    )
    assert reading_of(state).at_risk_t == pytest.approx(2.0)
    state, _ = fold(
        [ev.price(day(31), 300.0), ev.shipment(day(-1), "x", "delayed", 2.0)], state=state
    )
    assert "c" not in state.shipments
    assert "x" not in state.shipments  # older than its arrival: ignored
    assert reading_of(state).at_risk_t == 0.0


def test_shipment_update_older_than_stored_is_ignored():
    ev = Events()
    state, _ = fold(
        [ev.shipment(day(5), "a", "in_transit", 3.0), ev.shipment(day(4), "a", "held", 3.0)]
    )
    assert state.shipments["a"].status == "in_transit"


# ---- market ----------------------------------------------------------------------------------


def test_first_price_of_a_series_carries_no_signal():
    ev = Events()
    state, outs = fold([ev.price(day(0), 300.0)])
    assert reading_of(state).values[3] == 0.0
    assert outs[0].snapshot is not None and outs[0].snapshot.score == 0.0


def test_jump_against_ewma_volatility_and_trailing_median_signals():
    ev = Events()
    state, _ = fold(calm_prices(ev, 0, 30))
    assert reading_of(state).values[3] == 0.0
    state, _ = fold([ev.price(day(30), 345.0)], state=state)  # +15% on ~0.8% moves
    assert reading_of(state).values[3] == 100.0


def test_falling_prices_are_not_supply_risk():
    ev = Events()
    state, _ = fold([*calm_prices(ev, 0, 30), ev.price(day(30), 240.0)])
    assert reading_of(state).values[3] == 0.0


def test_flat_prints_are_no_information():
    ev = Events()
    state, _ = fold(calm_prices(ev, 0, 30))
    series = next(iter(state.series.values()))
    var_before = series.var
    last = series.last_price
    state, _ = fold([ev.price(day(30 + i), last) for i in range(40)], state=state)
    assert series.var == var_before  # volatility did not drift towards zero
    assert series.n_returns == 29
    # a later ordinary move is still judged against the pre-flat volatility
    state, _ = fold([ev.price(day(71), last * 1.004)], state=state)
    assert reading_of(state).values[3] == 0.0


def test_flat_prints_do_not_count_as_calm():
    ev = Events()
    state, _ = fold([*calm_prices(ev, 0, 30), ev.price(day(30), 345.0)])
    shock = reading_of(state).values[3]
    state, _ = fold([ev.price(day(30.5), 345.0)], state=state)
    flat_reading = reading_of(state).values[3]
    # the flat print changed nothing but the clock: the shock only decays with time
    half_life_days = POLICY.market_stale_half_life_days
    assert flat_reading == pytest.approx(shock * 0.5 ** (0.5 / half_life_days))


def test_out_of_order_price_is_ignored_for_returns():
    ev = Events()
    state, _ = fold(calm_prices(ev, 0, 10))
    series = next(iter(state.series.values()))
    snapshot = (series.last_price, series.var, series.n_returns, list(series.window))
    state, outs = fold([ev.price(day(3), 900.0)], state=state)
    assert (series.last_price, series.var, series.n_returns, list(series.window)) == snapshot
    assert not outs[0]


def test_series_are_separate_and_bounded_with_lru_eviction():
    ev = Events()
    policy = Policy(max_series=3)
    events = [ev.price(day(i), 100.0 + i, source=f"agency{i}") for i in range(5)]
    state, _ = fold(events, policy=policy)
    assert len(state.series) == 3
    assert [s.source for s in state.series.values()] == ["agency2", "agency3", "agency4"]


def test_regional_spread_widening_is_a_signal_only_for_same_currency_and_unit():
    ev = Events()
    events = []
    for i in range(30):
        wiggle = 1 + (0.004 if i % 2 else -0.004)
        events.append(ev.price(day(i), 300.0 * wiggle, market="rotterdam"))
        events.append(ev.price(day(i).replace(hour=1), 250.0 / wiggle, market="china_domestic"))
    state, _ = fold(events)
    assert reading_of(state).values[3] == 0.0
    # Rotterdam steady, China domestic falls 25% over a week (exports blocked): spread widens
    late = []
    for i in range(30, 37):
        late.append(ev.price(day(i), 300.0, market="rotterdam"))
        late.append(
            ev.price(day(i).replace(hour=1), 250.0 * (1 - 0.04 * (i - 29)), market="china_domestic")
        )
    widened, _ = fold(late, state=state)
    assert max(s.signal for s in widened.spreads.values()) > 0
    assert reading_of(widened).values[3] > 0

    ev2 = Events()
    other = [
        ev2.price(day(i), 300.0 * (1.004 if i % 2 else 0.996), market="rotterdam")
        for i in range(30)
    ]
    other += [
        ev2.price(
            day(i).replace(hour=1),
            2000.0 * (0.6 if i > 29 else 1.0),
            market="china_domestic",
            currency="CNY",
        )
        for i in range(37)
    ]
    state2, _ = fold(other)
    assert not state2.spreads


# ---- stock position --------------------------------------------------------------------------


def test_days_of_cover_against_target_and_floor():
    ev = Events()
    state, _ = fold([ev.position(day(0), 6.0)])  # 0.1 t/day -> 60 days; target 90, floor 30
    r = reading_of(state)
    assert r.cover == pytest.approx(60.0)
    assert r.values[4] == pytest.approx(50.0)
    assert r.score == 0.0  # thin stock alone is a vulnerability, not a disruption
    state, _ = fold([ev.position(day(-1), 20.0)], state=state)  # older position: ignored
    assert reading_of(state).cover == pytest.approx(60.0)


def test_thin_stock_amplifies_a_disruption():
    ev = Events()
    shock = ev.control(status="announced", announced_at=day(0), effective_at=day(30))
    thick, _ = fold([Events().position(day(0), 9.0), shock])
    thin, _ = fold([Events().position(day(0), 3.0), shock])
    assert reading_of(thin).score > reading_of(thick).score


def test_score_stays_finite_and_bounded_under_everything_at_once():
    ev = Events()
    events = [
        *calm_prices(ev, 0, 30),
        ev.position(day(0), 0.0),
        ev.control(status="effective", measure="ban", announced_at=day(0), effective_at=day(0)),
        ev.shipment(day(30), "a", "cancelled", 1e6),
        ev.price(day(31), 1e6),
    ]
    state, _ = fold(events)
    r = reading_of(state)
    assert all(0.0 <= v <= 100.0 for v in r.values)
    assert 0.0 <= r.score <= 100.0 and math.isfinite(r.score)
    assert state.level == 3
