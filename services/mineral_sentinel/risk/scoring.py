"""From components to a score and a level.

The score is a noisy-OR of the disruption components, 100 * (1 - prod(1 - w_i * c_i / 100)):
any single channel of disruption (a ban, a port closure, a price spike) can drive the score on
its own up to its weight, several channels compound, and the result stays in 0..100 and never
falls when any component rises. A weighted mean would let a total export ban of a
98%-concentrated material drown in four calm components.

Levels use hysteresis: a level is entered at its threshold and left only below the threshold
minus `hysteresis`, and only after `min_dwell_hours` of event time at the current level;
escalation is immediate.

The score alone does not decide the level: each level asks something of an operator
(docs/severity.md), so it also needs the evidence that justifies the ask. A severity ceiling
derived from the evidence present caps the level the score would give:
- `critical` (act) needs physical exposure: a restriction in force (or in its licensing lag) on
  supply the EU sources, inbound tonnes at risk of at least `exposure_at_risk_days`, or cover
  below the floor;
- `warning` (prepare) needs EU-relevant evidence: a measure that reaches the EU (announced or in
  force), a price signal of at least `evidence_market`, at least `evidence_at_risk_days` of
  inbound tonnes at risk, or cover near the floor;
- `watch` (monitor) needs only the score, so a measure that names no EU destination raises at
  most `watch` on its own.
The ceiling is applied with the hysteresis: a level above it is never entered, and one that is
held when its evidence goes away is left after the minimum dwell, like any downgrade.
"""

from __future__ import annotations

from .policy import Policy
from .timeutil import HOUR

COMPONENT_NAMES: tuple[str, ...] = ("policy_shock", "supply_risk", "logistics", "market", "stock")


def combine(values: tuple[float, ...], weights: tuple[float, ...]) -> float:
    """Noisy-OR of component values (each 0..100) with weights already clamped to 0..1.

    The last component (stock) is a vulnerability, not a disruption: its weight is scaled by the
    disruption score of the others, so a thin stock never raises an alert on its own but makes
    any disruption count for more. Still monotone in every component and within 0..100."""
    remaining = 1.0
    last = len(values) - 1
    for index in range(last):
        value = values[index]
        if value > 0.0:
            remaining *= 1.0 - weights[index] * (value if value < 100.0 else 100.0) / 100.0
    vulnerability = values[last]
    if vulnerability > 0.0 and remaining < 1.0:
        disruption = 1.0 - remaining
        remaining *= 1.0 - weights[last] * min(vulnerability, 100.0) / 100.0 * disruption
    score = 100.0 * (1.0 - remaining)
    return 0.0 if score < 0.0 else score


def entry_level(score: float, policy: Policy) -> int:
    if score >= policy.enter_critical:
        return 3
    if score >= policy.enter_warning:
        return 2
    if score >= policy.enter_watch:
        return 1
    return 0


def next_level(current: int, since: float, score: float, now: float, policy: Policy) -> int:
    """The level after observing `score` at `now`, given `current` held since `since`."""
    up = entry_level(score, policy)
    if up > current:
        return up
    if current == 0 or score >= policy.leave(current):
        return current
    if now - since < policy.min_dwell_hours * HOUR:
        return current
    return lower_level(current, score, policy)


def lower_level(current: int, score: float, policy: Policy) -> int:
    """The level reached when leaving `current` with `score` (may skip levels)."""
    level = current - 1
    while level > 0 and score < policy.leave(level):
        level -= 1
    return level


EXPOSURE_TEXT: dict[str, str] = {
    "restriction": "a restriction in force on supply the EU sources",
    "logistics": "EU-bound tonnes at risk",
    "cover": "cover below the floor",
}
EVIDENCE_TEXT: dict[str, str] = {
    "measure": "a measure reaching the EU",
    "market": "a price signal",
    "logistics": "EU-bound tonnes at risk",
    "cover": "cover near the floor",
}


def physical_exposure(
    shortfall: float, at_risk_days: float, cover: float | None, floor_days: float, policy: Policy
) -> str:
    """What makes EU supply physically short or about to be ('' for nothing): allows `critical`.

    `shortfall` only counts measures in force (or in their licensing lag) that reach the EU."""
    if shortfall > 0.0:
        return "restriction"
    if at_risk_days >= policy.exposure_at_risk_days:
        return "logistics"
    if cover is not None and cover < floor_days:
        return "cover"
    return ""


def eu_evidence(
    reaches_eu: bool,
    market: float,
    at_risk_days: float,
    cover: float | None,
    floor_days: float,
    target_days: float,
    policy: Policy,
) -> str:
    """The first EU-relevant evidence present ('' for none): allows `warning`."""
    if reaches_eu:
        return "measure"
    if market >= policy.evidence_market:
        return "market"
    if at_risk_days >= policy.evidence_at_risk_days:
        return "logistics"
    if cover is not None and cover <= floor_days + policy.near_floor_band * (
        target_days - floor_days
    ):
        return "cover"
    return ""


def severity_ceiling(exposure: str, evidence: str) -> int:
    """The highest level the evidence allows: critical, warning, else watch."""
    if exposure:
        return 3
    return 2 if evidence else 1


def gated_level(
    current: int, since: float, score: float, now: float, ceiling: int, policy: Policy
) -> int:
    """`next_level` capped by `ceiling`: a level above the ceiling is never entered; a level
    held above it (its evidence went away) is left for the ceiling after the minimum dwell."""
    level = next_level(current, since, score, now, policy)
    if level <= ceiling:
        return level
    if current <= ceiling:
        return ceiling
    if now - since < policy.min_dwell_hours * HOUR:
        return current
    return ceiling
