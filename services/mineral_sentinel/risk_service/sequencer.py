"""Restore per-material file order across input topics: a small pure re-order buffer.

Kafka keeps order within a partition, not across the four input topics, but the core is
order-sensitive. `sentinel replay` numbers each material's events in file order; this module
releases them to the core strictly in that order, parking early arrivals. Messages without a
sequence (live producers, HTTP) are released on arrival. The buffer is bounded: past `limit`
parked events the run's parked events are released in sequence order, skipping the gap (counted
by the caller as a forced release). The state lives in the table value next to the core state, so
a crash never loses parked events or forgets which sequence numbers were already applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_RUNS = 16
"""Runs remembered per material (least recently used forgotten)."""


@dataclass(slots=True)
class SequencerState:
    next_seq: dict[str, int] = field(default_factory=dict)
    """run id -> next sequence number to apply; insertion order = recency."""
    pending: dict[str, dict[int, bytes]] = field(default_factory=dict)
    """run id -> sequence number -> parked payload."""

    def parked(self) -> int:
        return sum(len(p) for p in self.pending.values())


@dataclass(frozen=True, slots=True)
class Decision:
    release: tuple[bytes, ...] = ()
    """Payloads to apply now, in order."""
    redelivered: bool = False
    """The offered payload was applied before (an at-least-once redelivery)."""
    forced: int = 0
    """Payloads released past a gap because the buffer overflowed."""


def offer(
    state: SequencerState,
    run: str | None,
    seq: int | None,
    payload: bytes,
    *,
    limit: int,
) -> Decision:
    """Offer one payload; returns what may be applied now (updates `state` in place)."""
    if run is None or seq is None:
        return Decision(release=(payload,))
    expected = state.next_seq.pop(run, 1)
    state.next_seq[run] = expected  # move to most recent
    while len(state.next_seq) > MAX_RUNS:
        oldest = next(iter(state.next_seq))
        del state.next_seq[oldest]
        state.pending.pop(oldest, None)
    if seq < expected:
        return Decision(redelivered=True)
    parked = state.pending.setdefault(run, {})
    if seq > expected:
        if seq in parked:
            return Decision()
        parked[seq] = payload
        if state.parked() <= limit:
            return Decision()
        return _force(state, run)
    released = [payload]
    expected += 1
    while expected in parked:
        released.append(parked.pop(expected))
        expected += 1
    state.next_seq[run] = expected
    if not parked:
        del state.pending[run]
    return Decision(release=tuple(released))


def _force(state: SequencerState, run: str) -> Decision:
    parked = state.pending.pop(run)
    order = sorted(parked)
    state.next_seq[run] = order[-1] + 1
    return Decision(release=tuple(parked[s] for s in order), forced=len(order))
