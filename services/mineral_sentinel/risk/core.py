"""The pure risk core: `(state, event, catalog, policy) -> (state, outputs)`.

`apply_event` updates `state` IN PLACE and returns that same object (copying the state for every
event would dominate the cost of the hot path). Callers that need the state from before an event
keep `dump_state(state)`. Validation (material, duplicates) happens before any mutation, so a
rejected event leaves nothing behind; an unexpected exception further in (a bug) can leave the
event half-applied, and both callers undo it (`risk_service.processor.rebuilt`, the backtest).
Time is event time only: the state's clock is the latest event time seen and never moves
backwards; an older event is applied to the parts of the state it concerns (if it is newer than
what they hold) but the evaluation happens at the clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..catalog.model import Catalog, MaterialProfile
from ..contracts.events import (
    ExportControl,
    InputEvent,
    PriceObserved,
    ShipmentUpdated,
    StockpilePosition,
)
from ..contracts.outputs import Alert, RiskSnapshot, StockpileRecommendation
from . import alerts, explain, holders, stockpile
from .derived import Derived, derived, rules_for
from .explain import Reading
from .ids import recommendation_id
from .logistics import apply_shipment, prune_shipments, refresh_at_risk
from .market import apply_price, prices_elevated
from .measures import apply_export_control, compute_view, ended_at, prune_measures
from .policy import Policy
from .scoring import COMPONENT_NAMES, gated_level
from .state import Frame, MaterialState, MeasureState, PolicyView, RecommendationState
from .timeutil import DAY, HOUR, to_datetime


class UnknownMaterialError(KeyError):
    """The state's material is not in the catalog."""


@dataclass(frozen=True, slots=True)
class Outputs:
    """What one event caused; empty most of the time."""

    snapshot: RiskSnapshot | None = None
    alerts: tuple[Alert, ...] = ()
    recommendations: tuple[StockpileRecommendation, ...] = ()

    def __bool__(self) -> bool:
        return self.snapshot is not None or bool(self.alerts) or bool(self.recommendations)


NO_OUTPUTS = Outputs()


def _apply_control(state: MaterialState, event: ExportControl, at: float, policy: Policy) -> bool:
    return apply_export_control(state, event, at)


_Apply = Callable[[MaterialState, Any, float, Policy], bool]
_APPLY: dict[type, _Apply] = {
    PriceObserved: apply_price,
    ShipmentUpdated: apply_shipment,
    ExportControl: _apply_control,
    StockpilePosition: holders.apply_position,
}
"""Which part of the state each event type updates (the types are disjoint)."""


def _apply_for(kind: type) -> _Apply:
    """The handler of an event type or of the contract type it derives from."""
    for base in kind.__mro__:
        handler = _APPLY.get(base)
        if handler is not None:
            return handler
    raise TypeError(f"not an input event: {kind.__name__}")


def daily_need_t(profile: MaterialProfile) -> float | None:
    """Average daily net imports (CRMA Art. 23 base); consumption for a net exporter."""
    if profile.eu_net_imports_t > 0.0:
        return profile.eu_net_imports_t / 365.0
    if profile.eu_consumption_t > 0.0:
        return profile.eu_consumption_t / 365.0
    return None


def _profile(state: MaterialState, catalog: Catalog) -> MaterialProfile:
    profile = catalog.materials.get(state.material)
    if profile is None:
        raise UnknownMaterialError(state.material)
    return profile


def apply_event(
    state: MaterialState, event: InputEvent, catalog: Catalog, policy: Policy
) -> tuple[MaterialState, Outputs]:
    """Fold one event into the material's state (in place) and return what it caused."""
    event_id = event.event_id
    seen = state.seen
    if event_id in seen:
        return state, NO_OUTPUTS
    material = state.material
    kind = type(event)
    apply = _APPLY.get(kind) or _apply_for(kind)  # an exact-type lookup first: the hot path
    if isinstance(event, ExportControl):
        if material not in event.materials:
            raise ValueError(f"export control {event.measure_id} does not name {material}")
    elif event.material != material:
        raise ValueError(f"event for {event.material} applied to state of {material}")
    profile = catalog.materials.get(material)
    if profile is None:
        raise UnknownMaterialError(material)

    ring = state.seen_ring
    ring.append(event_id)
    seen.add(event_id)
    while len(ring) > policy.seen_ids:  # `while`: the bound may have shrunk since a restart
        seen.discard(ring.popleft())

    at = event.occurred_at.timestamp()
    previous = state.now
    if previous is None or at > previous:
        advanced = True
        state.now = now = at
    else:
        advanced = False
        now = previous
    first = previous is None

    changed = apply(state, event, at, policy)
    if now >= state.next_housekeeping:
        _housekeeping(state, now, policy)
    if first:
        state.level_since = now
    if not (changed or advanced):
        return state, NO_OUTPUTS
    return state, _evaluate(state, profile, catalog, policy, event_id, now, first, derived(policy))


def _housekeeping(state: MaterialState, now: float, policy: Policy) -> None:
    prune_shipments(state, now, policy)
    prune_measures(state, now, policy)
    state.next_housekeeping = now + policy.housekeeping_hours * HOUR


def read(
    state: MaterialState, profile: MaterialProfile, catalog: Catalog, policy: Policy, now: float
) -> Reading:
    """Evaluate every component at `now` (refreshing the caches that are due)."""
    return _read(state, profile, catalog, policy, now, derived(policy))


def _read(
    state: MaterialState,
    profile: MaterialProfile,
    catalog: Catalog,
    policy: Policy,
    now: float,
    consts: Derived,
) -> Reading:
    """`read` with the policy's derived constants already looked up.

    Runs for almost every event, so the helpers it stands for are inlined with the same
    arithmetic (`daily_need_t`, `logistics_component`, `market_component`, `combine`, the
    severity ceiling; held equal to them by `tests/unit/test_risk_fast_paths.py`), and what
    does not depend on `now` or on prices is kept in `state.frame`."""
    view = state.view
    if view is None or now >= view.valid_until:
        view = state.view = compute_view(state, profile, catalog, now, policy)
        view.shock_value = 100.0 * (1.0 - math.exp(-view.pressure / policy.shock_scale))
        view.sr_value = min(
            100.0,
            max(0.0, 100.0 * (view.sr_live - view.sr_baseline) / policy.sr_uplift_full_scale),
        )
    at_risk = state.at_risk_t
    if at_risk is None:
        at_risk = refresh_at_risk(state, policy)
    frame = state.frame
    if (
        frame is None
        or frame.view is not view
        or frame.at_risk_t != at_risk
        or frame.stock_t != state.stock_t
        or frame.profile is not profile
        or frame.policy is not policy
    ):
        frame = state.frame = _frame(state, profile, policy, view, at_risk, consts.weights)

    # market_component(state, now, policy)
    market_value = 0.0
    market_id = ""
    half_life = consts.stale_half_life_s
    for series in state.series.values():
        signal = series.signal
        if signal > market_value:
            value = signal * 0.5 ** ((now - series.signal_t) / half_life)
            if value > market_value:
                market_value, market_id = value, series.signal_event_id
    if state.spreads:
        for spread in state.spreads.values():
            signal = spread.signal
            if signal > market_value:
                value = signal * 0.5 ** ((now - spread.t) / half_life)
                if value > market_value:
                    market_value, market_id = value, spread.event_id

    # the rest of combine(values, weights): the market factor, then stock scaled by disruption
    remaining = frame.remaining
    if market_value > 0.0:
        remaining *= (
            1.0 - consts.weights[3] * (market_value if market_value < 100.0 else 100.0) / 100.0
        )
    stock_value = frame.stock_value
    if stock_value > 0.0 and remaining < 1.0:
        disruption = 1.0 - remaining
        remaining *= 1.0 - consts.weights[4] * min(stock_value, 100.0) / 100.0 * disruption
    score = 100.0 * (1.0 - remaining)
    if score < 0.0:
        score = 0.0
    # scoring.severity_ceiling(exposure, eu_evidence(...)): the market is the per-read part
    if frame.exposure:
        ceiling = 3
    elif frame.evidence or market_value >= policy.evidence_market:
        ceiling = 2
    else:
        ceiling = 1
    return Reading(
        (view.shock_value, view.sr_value, frame.logistics_value, market_value, stock_value),
        score,
        view,
        at_risk,
        frame.daily_t,
        frame.cover,
        market_id,
        ceiling,
    )


def _frame(
    state: MaterialState,
    profile: MaterialProfile,
    policy: Policy,
    view: PolicyView,
    at_risk: float,
    weights: tuple[float, ...],
) -> Frame:
    """The price-independent part of `read` (same arithmetic as the helpers it stands for).

    Floor and target are the material's resolved protocol's (`StockpileRules`), resolved here
    once per frame rather than per event."""
    rules = rules_for(policy, profile)
    # daily_need_t(profile)
    daily: float | None
    if profile.eu_net_imports_t > 0.0:
        daily = profile.eu_net_imports_t / 365.0
    elif profile.eu_consumption_t > 0.0:
        daily = profile.eu_consumption_t / 365.0
    else:
        daily = None
    # logistics_component(at_risk / daily, policy)
    logistics_value = (
        min(100.0, 100.0 * (at_risk / daily) / policy.logistics_full_days) if daily else 0.0
    )
    cover: float | None = None
    stock_value = 0.0
    stock_t = state.stock_t
    triggered = False
    if daily and stock_t is not None:
        cover = stock_t / daily
        target = rules.target_days
        if cover < target:
            span = target - rules.floor_days
            stock_value = 100.0 if span <= 0 else min(100.0, 100.0 * (target - cover) / span)
        # as in stockpile.decision_key
        shortfall = min(1.0, view.shortfall + at_risk / (daily * rules.horizon_days))
        triggered = shortfall >= rules.shortfall_trigger
    # scoring.physical_exposure and scoring.eu_evidence (without the market), in their order
    at_risk_days = at_risk / daily if daily else 0.0
    floor = rules.floor_days
    exposure = ""
    if view.shortfall > 0.0:
        exposure = "restriction"
    elif at_risk_days >= policy.exposure_at_risk_days:
        exposure = "logistics"
    elif cover is not None and cover < floor:
        exposure = "cover"
    evidence = ""
    if view.reaches_eu:
        evidence = "measure"
    elif at_risk_days >= policy.evidence_at_risk_days:
        evidence = "logistics"
    elif cover is not None and cover <= floor + policy.near_floor_band * (
        rules.target_days - floor
    ):
        evidence = "cover"
    # the first factors of combine(values, weights), in its order
    remaining = 1.0
    for index, value in enumerate((view.shock_value, view.sr_value, logistics_value)):
        if value > 0.0:
            remaining *= 1.0 - weights[index] * (value if value < 100.0 else 100.0) / 100.0
    return Frame(
        profile=profile,
        policy=policy,
        rules=rules,
        view=view,
        at_risk_t=at_risk,
        stock_t=stock_t,
        daily_t=daily,
        logistics_value=logistics_value,
        cover=cover,
        stock_value=stock_value,
        remaining=remaining,
        triggered=triggered,
        exposure=exposure,
        evidence=evidence,
    )


def _evaluate(
    state: MaterialState,
    profile: MaterialProfile,
    catalog: Catalog,
    policy: Policy,
    event_id: str,
    now: float,
    first: bool,
    consts: Derived,
) -> Outputs:
    reading = _read(state, profile, catalog, policy, now, consts)
    score = reading.score
    state.score = score
    current = state.level
    # gated_level's answer without the call when no escalation, no possible de-escalation and
    # the level is within the ceiling: a higher level is entered iff score >= the lowest entry
    # threshold above `current`.
    ceiling = reading.ceiling
    if (
        current <= ceiling
        and score < consts.escalate_at[current]
        and (current == 0 or score >= consts.leave_at[current])
    ):
        level = current
    else:
        level = gated_level(current, state.level_since, score, now, ceiling, policy)
    level_changed = level != current
    if level_changed:
        state.level = level
        state.level_since = now

    alert_changed = False
    alert = state.alert
    is_open = alert is not None and alert.status == "firing"
    if level > 0 or is_open:
        if alert is None or not is_open or level != alert.severity:
            changing = True
        else:
            threshold, known = policy.cause_threshold, alert.causes
            changing = False
            for name, value in zip(COMPONENT_NAMES, reading.values):  # noqa: B905 (both 5)
                if value >= threshold and name not in known:
                    changing = True
                    break
        if changing:
            causes = explain.causes(reading, policy)
            evidence = explain.evidence_ids(state, reading, profile, policy, causes)
            alert_changed = alerts.update_alert(
                state, level, score, causes, evidence, event_id, now, policy
            )

    recommendations: tuple[StockpileRecommendation, ...] = ()
    rec = (
        None
        if state.stock_t is None or not reading.daily_t
        else _recommend(state, reading, profile, policy, event_id, now)
    )
    if rec is not None:
        recommendations = (explain.recommendation_model(state, rec),)
        if rec.action != "hold":
            linked = alerts.link_recommendation(
                state, rec.recommendation_id, now, bump=not alert_changed
            )
            alert_changed = alert_changed or linked

    alert_out: tuple[Alert, ...] = ()
    if alert_changed:
        assert state.alert is not None
        state.alert.summary = explain.alert_summary(state, reading, profile, policy)
        alert_out = (explain.alert_model(state),)

    snap: RiskSnapshot | None = None
    emitted = state.emitted_score
    if (
        first
        or emitted is None
        or level_changed
        or alert_changed
        or abs(score - emitted) >= policy.snapshot_min_change
    ):
        snap = explain.snapshot(state, reading, profile, policy)
        state.emitted_score = score
        state.emitted_level = level
    if snap is None and not alert_out and not recommendations:
        return NO_OUTPUTS
    return Outputs(snap, alert_out, recommendations)


def _recommend(
    state: MaterialState,
    reading: Reading,
    profile: MaterialProfile,
    policy: Policy,
    event_id: str,
    now: float,
) -> RecommendationState | None:
    daily = reading.daily_t
    stock_t = state.stock_t
    if stock_t is None or not daily:
        return None
    alert = state.alert
    open_alert_id = alert.alert_id if alert is not None and alert.status == "firing" else None
    last = state.recommendation
    frame = state.frame
    rules = frame.rules if frame is not None else rules_for(policy, profile)
    if last is not None and last.protocol != rules.protocol:
        last = None  # decided under another protocol (or before they were named): re-issue
    if (
        last is not None
        and frame is not None
        and frame.triggered
        and frame.key is not None
        and frame.key_alert == open_alert_id
        and frame.view is reading.view
        and frame.key == last.key
    ):
        return None  # a triggered key depends on nothing that changed since it was computed
    cooling_down = (
        alert is not None
        and alert.status == "resolved"
        and now - alert.updated_at < rules.replenish_cooldown_days * DAY
    )
    market = reading.values[3]
    # `elevated` only matters to the decision when replenishment is otherwise possible (no
    # alert, below target, no cool-down, calm market component), so it is only computed then.
    elevated = (
        open_alert_id is None
        and stock_t < rules.target_days * daily
        and not cooling_down
        and market < rules.replenish_max_market
        and prices_elevated(state, now, policy)
    )
    if last is not None:
        if (
            frame is not None
            and frame.triggered
            and frame.key is not None
            and frame.key_alert == open_alert_id
            and frame.view is reading.view
        ):
            key = frame.key
        else:
            key = stockpile.decision_key(
                stock_t,
                daily,
                reading.view.shortfall,
                reading.at_risk_t,
                market,
                elevated,
                open_alert_id,
                cooling_down,
                rules,
            )
            if frame is not None and frame.triggered and frame.view is reading.view:
                frame.key_alert, frame.key = open_alert_id, key
        if key == last.key:
            return None
    decision = stockpile.decide(
        stock_t=stock_t,
        daily_t=daily,
        restriction_shortfall=reading.view.shortfall,
        at_risk_t=reading.at_risk_t,
        market=market,
        elevated=elevated,
        alert_id=open_alert_id,
        cooling_down=cooling_down,
        rules=rules,
    )
    if decision is None:
        return None
    allocations = holders.allocate(
        state.holdings,
        decision.action,
        decision.quantity_t,
        daily,
        rules.floor_days,
        rules.target_days,
    )
    rec = RecommendationState(
        key=decision.key,
        recommendation_id=recommendation_id(
            state.material, open_alert_id, decision.action, decision.key, event_id
        ),
        action=decision.action,
        quantity_t=decision.quantity_t,
        days_before=decision.days_before,
        days_after=decision.days_after,
        horizon_days=decision.horizon_days,
        rationale=decision.rationale
        + holders.allocation_text(allocations, decision.quantity_t, len(state.holdings)),
        alert_id=open_alert_id,
        issued_at=now,
        valid_until=now + decision.valid_days * DAY,
        allocations=allocations,
        rule=decision.rule,
        protocol=rules.protocol,
    )
    state.recommendation = rec
    return rec


# ---- read side for the HTTP API --------------------------------------------------------------


def snapshot_of(state: MaterialState, catalog: Catalog, policy: Policy) -> RiskSnapshot:
    """The current view without an event (refreshes caches only). Raises LookupError if the
    material has seen no event yet (there is no event time to date the snapshot)."""
    if state.now is None:
        raise LookupError(f"no event seen yet for {state.material}")
    profile = _profile(state, catalog)
    reading = read(state, profile, catalog, policy, state.now)
    return explain.snapshot(state, reading, profile, policy)


def active_measures(state: MaterialState) -> list[MeasureState]:
    """Measures that still apply at the state's event time (announced or in force)."""
    now = state.now if state.now is not None else -math.inf
    return [m for m in state.measures.values() if ended_at(m, now) is None]


def open_alert(state: MaterialState) -> Alert | None:
    alert = state.alert
    if alert is None or alert.status != "firing":
        return None
    return explain.alert_model(state)


def last_alert(state: MaterialState) -> Alert | None:
    """The open alert, or the last resolved one."""
    return None if state.alert is None else explain.alert_model(state)


def last_recommendation(state: MaterialState) -> StockpileRecommendation | None:
    rec = state.recommendation
    return None if rec is None else explain.recommendation_model(state, rec)


def days_of_cover(state: MaterialState, catalog: Catalog) -> float | None:
    daily = daily_need_t(_profile(state, catalog))
    if state.stock_t is None or not daily:
        return None
    return state.stock_t / daily


def level_name(state: MaterialState) -> str:
    return ("normal", "watch", "warning", "critical")[state.level]


def as_of(state: MaterialState) -> str | None:
    return None if state.now is None else to_datetime(state.now).isoformat()
