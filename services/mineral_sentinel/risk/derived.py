"""Constants derived from a Policy, computed once per Policy object (the hot path reuses them).

A memo keyed by object identity that holds the Policy itself, so an id is never reused while
its entry exists; bounded, because tests build many policies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .policy import Policy
from .scoring import COMPONENT_NAMES
from .timeutil import DAY, HOUR


@dataclass(frozen=True, slots=True)
class Derived:
    weights: tuple[float, ...]
    ewma_decay: float
    stale_half_life_s: float
    dwell_s: float
    enter_min: float
    """Lowest entry threshold: below it, a state at level 0 stays at level 0."""


_MEMO: dict[int, tuple[Policy, Derived]] = {}
_LAST: list[tuple[Policy, Derived]] = []


def derived(policy: Policy) -> Derived:
    if _LAST and _LAST[0][0] is policy:  # the hot path: one policy per process
        return _LAST[0][1]
    hit = _MEMO.get(id(policy))
    if hit is not None and hit[0] is policy:
        _LAST[:] = [hit]
        return hit[1]
    value = Derived(
        weights=tuple(
            min(1.0, max(0.0, policy.weights.get(name, 0.0))) for name in COMPONENT_NAMES
        ),
        ewma_decay=math.pow(0.5, 1.0 / policy.ewma_half_life_prints),
        stale_half_life_s=policy.market_stale_half_life_days * DAY,
        dwell_s=policy.min_dwell_hours * HOUR,
        enter_min=min(policy.enter_watch, policy.enter_warning, policy.enter_critical),
    )
    if len(_MEMO) >= 32:
        _MEMO.clear()
    _MEMO[id(policy)] = (policy, value)
    _LAST[:] = [(policy, value)]
    return value
