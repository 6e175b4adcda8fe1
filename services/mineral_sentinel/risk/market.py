"""Market signals per price series: shocks, moves against a trailing median, regional spreads.

A series is (material, source, market, grade, currency, unit) and a price is only ever compared
with its own series. The first print of a series carries no signal; a print not newer than the
series' latest is ignored (out of order); a flat print (same price as the last) is "no
information" in an illiquid assessment: it neither updates volatility (which would drift to zero
and make every later move look enormous) nor counts as calm (the last signal keeps decaying with
time only). Only upward moves signal supply risk; a regional spread (two markets, same currency
and unit) signals when it departs from its own EWMA baseline in either direction.
"""

from __future__ import annotations

import math

from ..contracts.events import PriceObserved
from .derived import derived
from .policy import Policy
from .state import MaterialState, PriceSeries, SpreadState
from .timeutil import DAY


def ramp(value: float, low: float, high: float) -> float:
    """0 at or below `low`, 100 at or above `high`, linear between."""
    if value <= low:
        return 0.0
    if value >= high:
        return 100.0
    return 100.0 * (value - low) / (high - low)


def series_id(event: PriceObserved) -> str:
    return "\x1f".join(event.series_key)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def apply_price(state: MaterialState, event: PriceObserved, at: float, policy: Policy) -> bool:
    """Fold one print into its series; returns False when the print was ignored.

    The per-print hot path: ramps, the median and the series id are inlined (same arithmetic
    as `ramp`, `median` and `series_id`, held equal to them by
    `tests/unit/test_risk_fast_paths.py`), and policy constants are bound once."""
    market = event.market or ""
    sid = f"{event.source}\x1f{market}\x1f{event.grade or ''}\x1f{event.currency}\x1f{event.unit}"
    price = event.price
    series_map = state.series
    series = series_map.get(sid)
    if series is None:
        while series_map and len(series_map) >= policy.max_series:  # the bound may shrink
            _evict(state, next(iter(series_map)))
        series_map[sid] = PriceSeries(
            source=event.source,
            market=market,
            grade=event.grade or "",
            currency=event.currency,
            unit=event.unit,
            last_t=at,
            last_price=price,
            last_event_id=event.event_id,
            var=policy.initial_volatility**2,
            window=[price],
        )
        return True
    if next(reversed(series_map)) != sid:  # most recently updated goes last (LRU order)
        del series_map[sid]
        series_map[sid] = series
    if at <= series.last_t:
        return False
    event_id = event.event_id
    series.last_t = at
    series.last_event_id = event_id
    previous = series.last_price
    if price == previous:
        return True
    log_return = math.log(price / previous)
    var = series.var
    sigma = math.sqrt(var)
    floor = policy.min_volatility
    if floor > sigma:
        sigma = floor
    z_signal = 0.0
    if series.n_returns >= policy.warmup_returns:
        z = log_return / sigma
        low, high = policy.z_low, policy.z_high
        if z <= low:
            z_signal = 0.0
        elif z >= high:
            z_signal = 100.0
        else:
            z_signal = 100.0 * (z - low) / (high - low)
    window = series.window
    size = len(window)
    move = 0.0
    if size >= 3:
        ordered = sorted(window)
        mid = size // 2
        move = price / (ordered[mid] if size % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0) - 1.0
    low, high = policy.move_low, policy.move_high
    if move <= low:
        move_signal = 0.0
    elif move >= high:
        move_signal = 100.0
    else:
        move_signal = 100.0 * (move - low) / (high - low)
    series.signal = move_signal if move_signal > z_signal else z_signal
    series.signal_t = at
    series.signal_event_id = event_id
    series.move = move
    lam = derived(policy).ewma_decay
    series.var = lam * var + (1.0 - lam) * log_return * log_return
    series.n_returns += 1
    window.append(price)
    if size >= policy.median_window:
        del window[0]
    series.last_price = price
    if len(series_map) > 1:
        _update_spreads(state, sid, series, at, policy, lam)
    return True


def _update_spreads(
    state: MaterialState, sid: str, series: PriceSeries, at: float, policy: Policy, lam: float
) -> None:
    fresh = policy.spread_fresh_days * DAY
    market, currency, unit = series.market, series.currency, series.unit
    price, event_id = series.last_price, series.last_event_id
    spreads = state.spreads
    for other_id, other in state.series.items():
        if (
            other_id == sid
            or other.market == market
            or other.currency != currency
            or other.unit != unit
            or at - other.last_t > fresh
        ):
            continue
        if sid < other_id:
            key, log_spread = f"{sid}\x1e{other_id}", math.log(price / other.last_price)
        else:
            key, log_spread = f"{other_id}\x1e{sid}", math.log(other.last_price / price)
        spread = spreads.get(key)
        if spread is None:
            spreads[key] = SpreadState(
                baseline=log_spread, n=1, signal=0.0, t=at, event_id=event_id
            )
            continue
        baseline = spread.baseline
        if spread.n >= policy.warmup_returns:
            deviation = abs(log_spread - baseline)
            low, high = policy.spread_low, policy.spread_high
            if deviation <= low:
                spread.signal = 0.0
            elif deviation >= high:
                spread.signal = 100.0
            else:
                spread.signal = 100.0 * (deviation - low) / (high - low)
        else:
            spread.signal = 0.0
        spread.t = at
        spread.event_id = event_id
        spread.baseline = lam * baseline + (1.0 - lam) * log_spread
        spread.n += 1


def _evict(state: MaterialState, sid: str) -> None:
    del state.series[sid]
    for key in [k for k in state.spreads if sid in k.split("\x1e")]:
        del state.spreads[key]


def market_component(state: MaterialState, now: float, policy: Policy) -> tuple[float, str]:
    """Strongest series or spread signal, halved per stale half-life; (value, event id)."""
    best = 0.0
    best_id = ""
    half_life = derived(policy).stale_half_life_s
    for series in state.series.values():
        if series.signal > best:
            value = series.signal * 0.5 ** ((now - series.signal_t) / half_life)
            if value > best:
                best, best_id = value, series.signal_event_id
    for spread in state.spreads.values():
        if spread.signal > best:
            value = spread.signal * 0.5 ** ((now - spread.t) / half_life)
            if value > best:
                best, best_id = value, spread.event_id
    return best, best_id


def prices_elevated(state: MaterialState, now: float, policy: Policy) -> bool:
    """Any recently informative series well above its trailing median (blocks replenishment)."""
    recent = policy.market_stale_half_life_days * DAY
    return any(
        s.move >= policy.elevated_move and now - s.signal_t <= recent for s in state.series.values()
    )
