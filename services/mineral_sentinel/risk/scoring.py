"""From components to a score and a level.

The score is a noisy-OR of the disruption components, 100 * (1 - prod(1 - w_i * c_i / 100)):
any single channel of disruption (a ban, a port closure, a price spike) can drive the score on
its own up to its weight, several channels compound, and the result stays in 0..100 and never
falls when any component rises. A weighted mean would let a total export ban of a
98%-concentrated material drown in four calm components.

Levels use hysteresis: a level is entered at its threshold and left only below the threshold
minus `hysteresis`, and only after `min_dwell_hours` of event time at the current level;
escalation is immediate.
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
