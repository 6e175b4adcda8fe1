"""The core's inlined hot paths equal the readable functions they stand for (hypothesis).

`core._read`, `core._frame` and `market.apply_price` copy the arithmetic of `ramp`, `median`,
`series_id`, `daily_need_t`, `logistics_component`, `market_component`, `combine`,
`physical_exposure`, `eu_evidence` and `severity_ceiling` for speed, and `stockpile.decision_key`
repeats `decide`'s branches without the text. The readable functions are
the specification; these properties hold the copies to them, exactly (same operations in the
same order give the same floats), over random states and events.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mineral_sentinel.contracts.events import PriceObserved
from mineral_sentinel.risk import initial_state
from mineral_sentinel.risk.core import daily_need_t, read
from mineral_sentinel.risk.derived import derived, rules_for
from mineral_sentinel.risk.logistics import logistics_component
from mineral_sentinel.risk.market import apply_price, market_component, median, ramp, series_id
from mineral_sentinel.risk.scoring import (
    combine,
    eu_evidence,
    physical_exposure,
    severity_ceiling,
)
from mineral_sentinel.risk.state import MaterialState, PriceSeries
from mineral_sentinel.risk.stockpile import decide, decision_key
from mineral_sentinel.risk.timeutil import DAY

from .risk_fixtures import CATALOG, POLICY, Events, day, fold
from .test_risk_properties import SETTINGS, event_lists

pytestmark = pytest.mark.unit


def _clock(state: MaterialState) -> float:
    assert state.now is not None
    return state.now


@settings(SETTINGS, max_examples=300)  # enough to reach every branch of the ceiling
@given(event_lists(), st.floats(min_value=0.0, max_value=120.0))
def test_read_equals_the_readable_components(events: list[Any], later_days: float) -> None:
    state, _ = fold(events)
    profile = CATALOG.materials[state.material]
    now = _clock(state) + later_days * DAY
    reading = read(state, profile, CATALOG, POLICY, now)

    daily = daily_need_t(profile)
    assert reading.daily_t == daily
    shock, supply, logistics, market, stock = reading.values
    assert logistics == (logistics_component(reading.at_risk_t / daily, POLICY) if daily else 0.0)
    assert (market, reading.market_id) == market_component(state, now, POLICY)
    assert reading.score == combine(reading.values, derived(POLICY).weights)

    rules = rules_for(POLICY, profile)
    at_risk_days = reading.at_risk_t / daily if daily else 0.0
    exposure = physical_exposure(
        reading.view.shortfall, at_risk_days, reading.cover, rules.floor_days, POLICY
    )
    evidence = eu_evidence(
        reading.view.reaches_eu,
        market,
        at_risk_days,
        reading.cover,
        rules.floor_days,
        rules.target_days,
        POLICY,
    )
    assert reading.ceiling == severity_ceiling(exposure, evidence)
    assert all(0.0 <= value <= 100.0 for value in (shock, supply, logistics, stock))


def _expected_series(before: PriceSeries, price: float, at: float) -> dict[str, Any]:
    """One informative print on an existing series, written with the readable helpers."""
    log_return = math.log(price / before.last_price)
    sigma = max(math.sqrt(before.var), POLICY.min_volatility)
    z_signal = 0.0
    if before.n_returns >= POLICY.warmup_returns:
        z_signal = ramp(log_return / sigma, POLICY.z_low, POLICY.z_high)
    move = price / median(before.window) - 1.0 if len(before.window) >= 3 else 0.0
    move_signal = ramp(move, POLICY.move_low, POLICY.move_high)
    decay = derived(POLICY).ewma_decay
    window = [*before.window, price]
    if len(before.window) >= POLICY.median_window:
        window = window[1:]
    return {
        "signal": move_signal if move_signal > z_signal else z_signal,
        "move": move,
        "var": decay * before.var + (1.0 - decay) * log_return * log_return,
        "n_returns": before.n_returns + 1,
        "window": window,
        "signal_t": at,
    }


prints = st.lists(
    st.tuples(
        st.floats(min_value=0.01, max_value=5.0),  # days after the previous print
        st.floats(min_value=-0.6, max_value=1.5),  # relative move
        st.sampled_from(["fastmarkets", "argus"]),
        st.sampled_from(["rotterdam", "china", None]),
    ),
    min_size=1,
    max_size=40,
)


@SETTINGS
@given(prints, st.floats(min_value=1.0, max_value=1e4))
def test_apply_price_equals_ramp_median_and_series_id(
    steps: list[tuple[float, float, str, str | None]], level: float
) -> None:
    ev = Events()
    state = initial_state("gallium")
    t = 0.0
    prices: dict[tuple[str, str | None], float] = {}
    for gap, relative, source, market in steps:
        t += gap
        key = (source, market)
        price = max(1e-3, prices.get(key, level) * (1.0 + relative))
        prices[key] = price
        event: PriceObserved = ev.price(day(t), price, source=source, market=market)
        sid = series_id(event)
        at = event.observed_at.timestamp()
        before = copy.deepcopy(state.series.get(sid))
        apply_price(state, event, at, POLICY)
        after = state.series[sid]
        assert next(reversed(state.series)) == sid  # the fast path's id is `series_id`'s
        if before is None or before.last_price == price:
            continue
        got = {name: getattr(after, name) for name in _expected_series(before, price, at)}
        assert got == _expected_series(before, price, at)


tonnes = st.floats(min_value=0.0, max_value=1e5, allow_nan=False)


@SETTINGS
@given(
    stock=tonnes,
    daily=st.one_of(
        st.floats(min_value=1e-6, max_value=1e-3), st.floats(min_value=1e-3, max_value=1e3)
    ),
    restriction=st.floats(min_value=0.0, max_value=1.0),
    at_risk=tonnes,
    market=st.floats(min_value=0.0, max_value=100.0),
    elevated=st.booleans(),
    alert=st.sampled_from([None, "alert-1"]),
    cooling=st.booleans(),
    floor=st.floats(min_value=0.0, max_value=200.0),
    span=st.floats(min_value=0.0, max_value=200.0),
    horizon=st.integers(min_value=1, max_value=365),
)
def test_decision_key_equals_decides_key(
    stock: float,
    daily: float,
    restriction: float,
    at_risk: float,
    market: float,
    elevated: bool,
    alert: str | None,
    cooling: bool,
    floor: float,
    span: float,
    horizon: int,
) -> None:
    base = rules_for(POLICY, CATALOG.materials["gallium"])
    rules = dataclasses.replace(
        base, floor_days=floor, target_days=floor + span, horizon_days=horizon
    )
    position = {
        "stock_t": stock,
        "daily_t": daily,
        "restriction_shortfall": restriction,
        "at_risk_t": at_risk,
        "market": market,
        "elevated": elevated,
        "alert_id": alert,
        "cooling_down": cooling,
        "rules": rules,
    }
    decision = decide(**position)  # type: ignore[arg-type]
    assert decision is not None
    assert decision_key(**position) == decision.key  # type: ignore[arg-type]
