"""Event-time merge of everything that feeds one by-material partition. Pure.

Why: the core is order-sensitive, Kafka orders records only within a partition, and the re-key
hop interleaves the streams of every input partition (read by any worker) in one partition. The
rule follows Flink's for shuffles and Kafka Streams' for multi-partition tasks (KIP-353,
KIP-695): every input partition is a *source*, and its reader reports two facts about it:

- its *mark*: the event time of the newest record it forwarded. Records of a source come in
  event-time order, so anything still to come from it is at least this old;
- its *safe time*: a wall-clock time (ms) such that every record written to it up to then has
  been forwarded. The reader advances it when it finds the partition caught up with the broker
  (its highwater), minus the idle time, which covers the delay between a producer stamping a
  record and the broker appending it. A partition that is behind keeps its old safe time.

A buffered record may be released when, for every source, either its event time is strictly
below that source's mark (the source can only send later times: strictly, because the next one
may carry the same time with a smaller tie-break) or it was written (Kafka timestamp, every
client sets one) no later than that source's safe time (anything the source could still send
was written after it). A source not heard from yet holds everything back. Records leave in
`OrderKey` order (event time, event id, digest), the order the backtest uses, so the result does
not depend on which source was read first nor on how the broker interleaved the partitions.

Both facts only move forward: a re-read after a restart or a rebalance may report older values,
which must not undo what was known. The buffer is bounded: past `limit` records the oldest are
released regardless (counted as forced; a source that is behind then delivers late).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..risk.ordering import OrderKey

T = TypeVar("T")


@dataclass(slots=True)
class SourceMark:
    time_us: int | None = None
    """Event time of the newest record forwarded from this source (None: none yet)."""
    safe_ms: int | None = None
    """Every record written to this source up to this wall-clock time was forwarded."""


@dataclass(slots=True)
class MergeState(Generic[T]):
    expected: set[str] = field(default_factory=set)
    """Sources that can feed this partition (every input partition)."""
    marks: dict[str, SourceMark] = field(default_factory=dict)
    heap: list[tuple[OrderKey, int, int, T]] = field(default_factory=list)
    """(order key, arrival number, written at (ms), item): the arrival number breaks ties of
    identical keys in arrival order, so items are never compared."""
    arrivals: int = 0

    def buffered(self) -> int:
        return len(self.heap)


@dataclass(frozen=True, slots=True)
class Release(Generic[T]):
    items: tuple[tuple[OrderKey, T], ...] = ()
    forced: int = 0
    """How many of `items` left only because the buffer was over its limit."""


def new_merge(sources: Iterable[str]) -> MergeState[T]:
    return MergeState(expected=set(sources))


def _mark(state: MergeState[T], source: str) -> SourceMark:
    mark = state.marks.get(source)
    if mark is None:
        mark = state.marks[source] = SourceMark()
        state.expected.add(source)
    return mark


def offer_record(
    state: MergeState[T], source: str, key: OrderKey, written_ms: int, item: T
) -> None:
    """Buffer one record (written to its source at `written_ms`); it also moves the source's
    mark to its event time."""
    mark = _mark(state, source)
    if mark.time_us is None or key.time_us > mark.time_us:
        mark.time_us = key.time_us
    state.arrivals += 1
    heapq.heappush(state.heap, (key, state.arrivals, written_ms, item))


def offer_mark(state: MergeState[T], source: str, time_us: int | None, safe_ms: int | None) -> None:
    """A source's progress as its reader last reported it (neither fact moves back)."""
    mark = _mark(state, source)
    if time_us is not None and (mark.time_us is None or time_us > mark.time_us):
        mark.time_us = time_us
    if safe_ms is not None and (mark.safe_ms is None or safe_ms > mark.safe_ms):
        mark.safe_ms = safe_ms


def releasable(state: MergeState[T], time_us: int, written_ms: int) -> bool:
    """Whether no source can still send a record that sorts before this one."""
    marks = state.marks
    for source in state.expected:
        mark = marks.get(source)
        if mark is None:
            return False
        if mark.time_us is not None and time_us < mark.time_us:
            continue
        if mark.safe_ms is not None and written_ms <= mark.safe_ms:
            continue
        return False
    return True


def _floors(state: MergeState[T]) -> tuple[float, float]:
    """The lowest mark and the lowest safe time over every expected source (-inf where one is
    unknown): a record older than the first, or written no later than the second, passes every
    source at once."""
    marks = state.marks
    time_floor = safe_floor = math.inf
    for source in state.expected:
        mark = marks.get(source)
        if mark is None:
            return -math.inf, -math.inf
        time_floor = min(time_floor, -math.inf if mark.time_us is None else mark.time_us)
        safe_floor = min(safe_floor, -math.inf if mark.safe_ms is None else mark.safe_ms)
    return time_floor, safe_floor


def release(state: MergeState[T], *, limit: int) -> Release[T]:
    """Pop records from the front of the order while they are releasable, then the oldest
    ones past `limit`. The floors decide most records in O(1); only a record neither floor
    lets through is checked source by source (`releasable`), and that is the last one looked
    at unless it passes."""
    heap = state.heap
    out: list[tuple[OrderKey, T]] = []
    pop = heapq.heappop
    time_floor, safe_floor = _floors(state)
    while heap:
        head = heap[0]
        time_us, written_ms = head[0].time_us, head[2]
        if not (
            time_us < time_floor
            or written_ms <= safe_floor
            or releasable(state, time_us, written_ms)
        ):
            break
        key, _, _, item = pop(heap)
        out.append((key, item))
    forced = 0
    while len(heap) > limit:
        key, _, _, item = pop(heap)
        out.append((key, item))
        forced += 1
    return Release(tuple(out), forced)


def drop_source_marks(state: MergeState[T], sources: Iterable[str]) -> None:
    """Forget what is known of some sources (kept expected: they hold back until heard again)."""
    for source in sources:
        state.marks.pop(source, None)
