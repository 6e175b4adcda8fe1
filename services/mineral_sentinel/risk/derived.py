"""Constants derived from a Policy, computed once per Policy object (the hot path reuses them).

A memo keyed by object identity that holds the Policy itself, so an id is never reused while
its entry exists; bounded, because tests build many policies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..catalog.model import MaterialProfile
from .policy import Policy, StockpileRules, protocol_version, stockpile_rules
from .scoring import COMPONENT_NAMES
from .timeutil import DAY, HOUR


@dataclass(frozen=True, slots=True)
class Derived:
    weights: tuple[float, ...]
    ewma_decay: float
    stale_half_life_s: float
    dwell_s: float
    escalate_at: tuple[float, float, float, float]
    """Per current level, the lowest score that enters a higher level (inf at the top)."""
    leave_at: tuple[float, float, float, float]
    """Per current level 1..3, `Policy.leave(level)` (index 0 unused)."""
    protocol: str
    """`protocol_version(policy)`."""
    rules: dict[str, tuple[MaterialProfile, StockpileRules]] = field(default_factory=dict)
    """Per material, the profile it was resolved with and its `StockpileRules` (filled lazily:
    resolved once per policy and material, not per event)."""


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
        escalate_at=(
            min(policy.enter(1), policy.enter(2), policy.enter(3)),
            min(policy.enter(2), policy.enter(3)),
            policy.enter(3),
            math.inf,
        ),
        leave_at=(-math.inf, policy.leave(1), policy.leave(2), policy.leave(3)),
        protocol=protocol_version(policy),
    )
    if len(_MEMO) >= 32:
        _MEMO.clear()
    _MEMO[id(policy)] = (policy, value)
    _LAST[:] = [(policy, value)]
    return value


def rules_for(policy: Policy, profile: MaterialProfile) -> StockpileRules:
    """The material's resolved protocol, memoised with the policy's derived constants."""
    memo = derived(policy).rules
    hit = memo.get(profile.code)
    if hit is not None and hit[0] is profile:
        return hit[1]
    rules = stockpile_rules(policy, profile.code, profile.floor_days, profile.target_days)
    memo[profile.code] = (profile, rules)
    return rules
