"""Which silence mutes a delivery: a pure decision over plain data (no clock, no Kafka).

A delivery is muted by a silence of the subscription's tenant whose window `[starts_at, ends_at)`
holds the moment the source message was produced, and whose every matcher matches. The moment
is the message's, not the worker's: a worker that reads the message late (lagging, restarted,
taking over partitions) decides the same, so nothing from a silence's window floods in once it
ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..contracts.outputs import LEVEL_ORDER, Severity
from ..contracts.silences import SILENCE_STATES, Silence, SilenceState
from ..contracts.subscriptions import EventType


@dataclass(frozen=True, slots=True)
class Candidate:
    """The facts of one would-be delivery that silences match on."""

    tenant: str
    subscription_id: str
    event_type: EventType
    material: str
    severity: Severity | None
    """An alert's severity; None for a recommendation."""
    at: datetime
    """When the source message was produced."""


def silence_matches(silence: Silence, candidate: Candidate) -> bool:
    """True when `silence` mutes `candidate` (same tenant, inside the window, every matcher)."""
    if silence.tenant != candidate.tenant:
        return False
    if not silence.starts_at <= candidate.at < silence.ends_at:
        return False
    if candidate.event_type == "subscription.test":
        return False  # a probe is an explicit request
    m = silence.matchers
    if m.event_types and candidate.event_type not in m.event_types:
        return False
    if m.materials and candidate.material not in m.materials:
        return False
    if m.subscription_ids and candidate.subscription_id not in m.subscription_ids:
        return False
    if m.min_severity is None and m.max_severity is None:
        return True
    if candidate.severity is None:
        return False  # a severity matcher only matches messages that have one
    level = LEVEL_ORDER[candidate.severity]
    if m.min_severity is not None and level < LEVEL_ORDER[m.min_severity]:
        return False
    return m.max_severity is None or level <= LEVEL_ORDER[m.max_severity]


def silenced_by(silences: Iterable[Silence], candidate: Candidate) -> str | None:
    """The id of the silence muting `candidate` (the earliest-starting one, then by id)."""
    muting = [s for s in silences if silence_matches(s, candidate)]
    if not muting:
        return None
    return min(muting, key=lambda s: (s.starts_at, s.id)).id


def count_by_state(silences: Iterable[Silence], now: datetime) -> dict[SilenceState, int]:
    """How many silences are pending, active and expired at `now` (every state, 0 included)."""
    counts: dict[SilenceState, int] = dict.fromkeys(SILENCE_STATES, 0)
    for silence in silences:
        counts[silence.state_at(now)] += 1
    return counts
