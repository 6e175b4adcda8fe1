"""Event-time merge of everything that feeds one by-material partition. Pure.

Why: the core is order-sensitive, Kafka orders records only within a partition, and the re-key
hop interleaves the streams of every input partition (read by any worker) in one partition. The
rule is Flink's for shuffles and Kafka Streams' for multi-partition tasks (KIP-353/KIP-695):

- every input partition is a *source*; the intake reads it in offset order and reports its
  *mark*: the event time of the newest record it forwarded (later records of that source are
  assumed not older), and whether the source is *idle* (caught up with the broker for longer
  than the idle time);
- a record is released when every non-idle source's mark is past it: its event time is
  strictly below the *frontier*, the minimum mark over the non-idle sources (a source not heard
  from yet holds everything back). Strictly below, because a source's next record may carry
  the same time with a smaller tie-break;
- released records leave in `OrderKey` order (event time, event id, digest), the order the
  backtest uses, so the result does not depend on which source was read first.

A record implies its source's mark (the record's time) and that the source is active. Marks only
move forward: a re-read after a restart or a rebalance may report older times, which must not
move the frontier back. The buffer is bounded: past `limit` records the oldest are released
regardless of the frontier (counted as forced; a source that is behind then delivers late).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..risk.ordering import OrderKey

T = TypeVar("T")

UNBOUNDED: int | None = None
"""The frontier when every source is idle: everything buffered may go."""


@dataclass(slots=True)
class SourceMark:
    time_us: int | None = None
    """Event time of the newest record forwarded from this source (None: none yet)."""
    idle: bool = False


@dataclass(slots=True)
class MergeState(Generic[T]):
    expected: set[str] = field(default_factory=set)
    """Sources that can feed this partition (every input partition)."""
    marks: dict[str, SourceMark] = field(default_factory=dict)
    heap: list[tuple[OrderKey, int, T]] = field(default_factory=list)
    arrivals: int = 0
    """Tie-break of last resort inside the heap (equal keys: arrival order), never compares T."""

    def buffered(self) -> int:
        return len(self.heap)


@dataclass(frozen=True, slots=True)
class Release(Generic[T]):
    items: tuple[tuple[OrderKey, T], ...] = ()
    forced: int = 0
    """How many of `items` left only because the buffer was over its limit."""


def new_merge(sources: Iterable[str]) -> MergeState[T]:
    return MergeState(expected=set(sources))


def offer_record(state: MergeState[T], source: str, key: OrderKey, item: T) -> None:
    """Buffer one record; it also says that `source` is active and has reached `key.time_us`."""
    mark = state.marks.get(source)
    if mark is None:
        mark = state.marks[source] = SourceMark()
        state.expected.add(source)
    if mark.time_us is None or key.time_us > mark.time_us:
        mark.time_us = key.time_us
    mark.idle = False
    state.arrivals += 1
    heapq.heappush(state.heap, (key, state.arrivals, item))


def offer_mark(state: MergeState[T], source: str, time_us: int | None, idle: bool) -> None:
    """A source's progress as its reader last reported it (marks never move back)."""
    mark = state.marks.get(source)
    if mark is None:
        mark = state.marks[source] = SourceMark()
        state.expected.add(source)
    if time_us is not None and (mark.time_us is None or time_us > mark.time_us):
        mark.time_us = time_us
    mark.idle = idle


def frontier(state: MergeState[T]) -> int | None:
    """Records strictly older than this may be released; None means no bound (all idle).

    A non-idle source with no mark yet gives the lowest possible frontier: nothing is released
    until it reports, because it may hold the oldest record of all."""
    lowest: int | None = UNBOUNDED
    marks = state.marks
    for source in state.expected:
        mark = marks.get(source)
        if mark is None:
            return _NOTHING
        if mark.idle:
            continue
        if mark.time_us is None:
            return _NOTHING
        if lowest is None or mark.time_us < lowest:
            lowest = mark.time_us
    return lowest


_NOTHING = -(2**63)


def release(state: MergeState[T], *, limit: int) -> Release[T]:
    """Pop every record below the frontier, in order, plus the oldest ones past `limit`."""
    heap = state.heap
    if not heap:
        return Release()
    bound = frontier(state)
    out: list[tuple[OrderKey, T]] = []
    pop = heapq.heappop
    while heap and (bound is None or heap[0][0].time_us < bound):
        key, _, item = pop(heap)
        out.append((key, item))
    forced = 0
    while len(heap) > limit:
        key, _, item = pop(heap)
        out.append((key, item))
        forced += 1
    return Release(tuple(out), forced)


def drop_source_marks(state: MergeState[T], sources: Iterable[str]) -> None:
    """Forget what is known of some sources (kept expected: they hold back until heard again)."""
    for source in sources:
        state.marks.pop(source, None)
