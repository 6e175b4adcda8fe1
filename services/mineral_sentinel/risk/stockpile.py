"""Stockpile policy after JOGMEC's three regimes and IEA collective-action practice (advisory).

- Emergency release when the physical shortfall share (effective restrictions on EU sourcing plus
  inbound tonnes delayed/held/cancelled over the horizon) reaches the trigger (7%, as the IEA):
  sized shortfall x horizon x daily net imports, capped so cover stays at or above the floor.
- Price-spike sale: a smaller tranche, only from stock above the target (no physical shortfall,
  so the emergency reserve is not touched).
- Replenish only when calm (no alert), below target and prices not elevated; never during an alert
  (the IEA defers refilling while an action is active; JOGMEC avoids buying into tight markets).
- Otherwise hold, with the reason. A recommendation is emitted only when the decision changes.

Every branch is a named rule (`RULES`, published as `StockpileRecommendation.rule`); the
thresholds come from the material's resolved `StockpileRules` (docs/policy.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..contracts.outputs import StockpileRule
from .policy import StockpileRules

RULES: dict[str, str] = {
    "release.emergency": "physical shortfall at or above the trigger: release, cover kept at "
    "or above the floor",
    "hold.at_floor": "physical shortfall at or above the trigger, but cover at or below the "
    "floor: hold",
    "release.price_spike": "market signal at or above the price-spike level and cover above "
    "the target: sell a tranche from stock above the target",
    "hold.alert": "alert open, shortfall below the trigger: no release, no replenishment",
    "hold.cooldown": "below target, but an alert resolved within the cool-down: defer buying",
    "replenish.below_target": "calm, below target, prices not elevated: buy back to target",
    "hold.prices_elevated": "below target, but prices elevated: defer buying",
    "hold.at_target": "cover at or above the target: nothing to do",
}
"""The rules of `decide`, in the order they are tried, with what each means."""


@dataclass(frozen=True, slots=True)
class Decision:
    key: str
    rule: StockpileRule
    action: str
    quantity_t: float
    days_before: float
    days_after: float
    horizon_days: int
    rationale: str
    valid_days: float


def decision_key(
    stock_t: float,
    daily_t: float,
    restriction_shortfall: float,
    at_risk_t: float,
    market: float,
    elevated: bool,
    alert_id: str | None,
    cooling_down: bool,
    rules: StockpileRules,
) -> str:
    """The decision key alone, mirroring `decide`'s branches with the same arithmetic (the hot
    path compares it with the last key and calls `decide` only when it changed: no text).
    `tests/unit/test_risk_fast_paths.py` holds it equal to `decide(...).key`."""
    cover = stock_t / daily_t
    shortfall = min(1.0, restriction_shortfall + at_risk_t / (daily_t * rules.horizon_days))
    episode = alert_id or ""
    target_days = rules.target_days
    if shortfall >= rules.shortfall_trigger:
        need = shortfall * rules.horizon_days * daily_t
        if _tonnes(min(need, stock_t - rules.floor_days * daily_t)) <= 0.0:
            return f"hold:floor:{episode}"
        return f"release:emergency:{episode}"
    if market >= rules.price_spike_component and cover > target_days:
        return f"release:price_spike:{episode}"
    if alert_id is not None:
        return f"hold:alert:{episode}"
    if cover < target_days:
        if cooling_down:
            return "hold:cooldown"
        if market < rules.replenish_max_market and not elevated:
            return "replenish"
        return "hold:prices"
    return "hold:target"


def _tonnes(value: float) -> float:
    """Round down to kilograms so that the cap (cover >= floor) survives float arithmetic."""
    return math.floor(max(0.0, value) * 1000.0) / 1000.0


def decide(
    *,
    stock_t: float,
    daily_t: float,
    restriction_shortfall: float,
    at_risk_t: float,
    market: float,
    elevated: bool,
    alert_id: str | None,
    cooling_down: bool = False,
    rules: StockpileRules,
    last_key: str | None = None,
) -> Decision | None:
    """The recommendation for the current position (pure; `daily_t` > 0), or None when its
    key equals `last_key` (the decision did not change: nothing to explain or emit)."""
    horizon = rules.horizon_days
    floor_days, target_days = rules.floor_days, rules.target_days
    valid_days = rules.recommendation_valid_days
    cover = stock_t / daily_t
    logistics_share = at_risk_t / (daily_t * horizon)
    shortfall = min(1.0, restriction_shortfall + logistics_share)
    episode = alert_id or ""
    if last_key is not None:
        key = decision_key(
            stock_t,
            daily_t,
            restriction_shortfall,
            at_risk_t,
            market,
            elevated,
            alert_id,
            cooling_down,
            rules,
        )
        if key == last_key:
            return None

    def hold(key: str, rule: StockpileRule, rationale: str) -> Decision:
        return Decision(key, rule, "hold", 0.0, cover, cover, horizon, rationale, valid_days)

    if shortfall >= rules.shortfall_trigger:
        need = shortfall * horizon * daily_t
        cap = stock_t - floor_days * daily_t
        quantity = _tonnes(min(need, cap))
        if quantity <= 0.0:
            return hold(
                f"hold:floor:{episode}",
                "hold.at_floor",
                f"physical shortfall {shortfall:.1%} >= trigger {rules.shortfall_trigger:.0%}, "
                f"but cover {cover:.0f} d is at or below the floor {floor_days:.0f} d: hold",
            )
        after = (stock_t - quantity) / daily_t
        return Decision(
            f"release:emergency:{episode}",
            "release.emergency",
            "release",
            quantity,
            cover,
            after,
            horizon,
            f"emergency release: physical shortfall {shortfall:.1%} of supply (restrictions "
            f"{restriction_shortfall:.1%}, logistics {logistics_share:.1%}) >= trigger "
            f"{rules.shortfall_trigger:.0%}; sized {shortfall:.1%} x {horizon} d x "
            f"{daily_t:,.1f} t/d, capped to keep cover >= floor {floor_days:.0f} d",
            horizon,
        )
    if market >= rules.price_spike_component and cover > target_days:
        quantity = _tonnes(min(rules.price_spike_tranche_days, cover - target_days) * daily_t)
        return Decision(
            f"release:price_spike:{episode}",
            "release.price_spike",
            "release",
            quantity,
            cover,
            (stock_t - quantity) / daily_t,
            horizon,
            f"price-spike sale: market signal {market:.0f}/100, no physical shortfall "
            f"({shortfall:.1%}); tranche of {quantity / daily_t:.1f} d from stock above the "
            f"target {target_days:.0f} d",
            valid_days,
        )
    if alert_id is not None:
        return hold(
            f"hold:alert:{episode}",
            "hold.alert",
            f"alert active: physical shortfall {shortfall:.1%} below trigger "
            f"{rules.shortfall_trigger:.0%}, no release; no replenishment during an alert",
        )
    if cover < target_days:
        if cooling_down:
            return hold(
                "hold:cooldown",
                "hold.cooldown",
                f"cover {cover:.0f} d below target {target_days:.0f} d; an alert resolved less "
                f"than {rules.replenish_cooldown_days:.0f} d ago: defer replenishment",
            )
        if market < rules.replenish_max_market and not elevated:
            quantity = _tonnes((target_days - cover) * daily_t)
            return Decision(
                "replenish",
                "replenish.below_target",
                "replenish",
                quantity,
                cover,
                (stock_t + quantity) / daily_t,
                horizon,
                f"calm market, cover {cover:.0f} d below target {target_days:.0f} d: "
                f"buy {quantity:,.1f} t back to target",
                valid_days,
            )
        return hold(
            "hold:prices",
            "hold.prices_elevated",
            f"cover {cover:.0f} d below target {target_days:.0f} d but prices elevated "
            f"(market {market:.0f}/100): defer replenishment",
        )
    return hold(
        "hold:target",
        "hold.at_target",
        f"cover {cover:.0f} d at or above target {target_days:.0f} d",
    )
