"""Every by-material envelope is applied: a hole in a partition's offsets is read again.

faust 0.15 can skip messages around a rebalance: it resumes the stream partitions before it seeks
them to their committed offsets, delivers some of what it fetched in between, moves its own read
position past it, and then discards what it reads again after the seek (seen: the survivor of a
hand-over began a partition at offset 522 when 407 was committed; 115 envelopes never applied).
The by-material topic has no holes (no transactions, no compaction), so the fold knows which
offset must come next on each partition: the committed offset after an assignment, then the one
after each envelope read. An envelope past it means faust skipped some: the fold sets it aside
(held, never acknowledged: its copy read again is) and seeks the partition back. A hole that is
still there after a few seeks (the broker deleted those offsets, retention) is accepted and
counted.

Bookkeeping only; the fold does the seeking. The clock is injected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

RETRY_S = 2.0
"""How long envelopes past a hole are set aside before the partition is sought back again."""
ATTEMPTS = 3


class Verdict(Enum):
    APPLY = "apply"
    """In order, or a copy read again (older than expected): fold it."""
    SEEK = "seek"
    """A hole before it: set it aside and seek the partition back to `expected`."""
    WAIT = "wait"
    """Past a hole already being read again: set it aside."""
    ACCEPT_HOLE = "accept_hole"
    """The hole did not fill after `ATTEMPTS` seeks: fold it and count the missing offsets."""


@dataclass(slots=True)
class _Seeking:
    expected: int
    attempts: int
    since: float


class Continuity:
    """Per by-material partition, the offset that must come next."""

    def __init__(
        self,
        *,
        retry_s: float = RETRY_S,
        attempts: int = ATTEMPTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._retry_s = retry_s
        self._attempts = attempts
        self._clock = clock
        self._expected: dict[int, int] = {}
        self._seeking: dict[int, _Seeking] = {}

    def expect(self, partition: int, offset: int | None) -> None:
        """After an assignment: reading starts at `offset` (None: unknown, learn it)."""
        self._seeking.pop(partition, None)
        if offset is None:
            self._expected.pop(partition, None)
        else:
            self._expected[partition] = offset

    def forget(self, partition: int) -> None:
        self._expected.pop(partition, None)
        self._seeking.pop(partition, None)

    def expected(self, partition: int) -> int | None:
        return self._expected.get(partition)

    def check(self, partition: int, offset: int) -> Verdict:
        expected = self._expected.get(partition)
        if expected is None or offset == expected:
            self._expected[partition] = offset + 1
            self._seeking.pop(partition, None)
            return Verdict.APPLY
        if offset < expected:
            return Verdict.APPLY
        now = self._clock()
        seeking = self._seeking.get(partition)
        if seeking is None or seeking.expected != expected:
            self._seeking[partition] = _Seeking(expected, 1, now)
            return Verdict.SEEK
        if now - seeking.since < self._retry_s:
            return Verdict.WAIT
        if seeking.attempts >= self._attempts:
            self._expected[partition] = offset + 1
            del self._seeking[partition]
            return Verdict.ACCEPT_HOLE
        seeking.attempts += 1
        seeking.since = now
        return Verdict.SEEK
