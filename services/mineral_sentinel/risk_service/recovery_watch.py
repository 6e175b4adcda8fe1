"""Notices a table recovery that stopped reading a changelog partition, so it can be sought again.

faust 0.15 can stall a recovery for good: a changelog partition the broker holds records for
gets no event at all ("No event received for active tp ... since recovery start"), and the
worker stays "recovering tables" until it is restarted. Seen in about one two-worker hand-over
in fifteen, on a partition the survivor had kept since before the hand-over and written to
itself. Seeking the partition to the recovery's own position again (what the recovery does when
it starts) makes the fetcher read it.

Bookkeeping only: the caller reads the recovery's offsets and does the seeking. The clock is
injected.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

STALL_S = 15.0
"""How long a changelog partition may be behind without any progress before it is sought."""

P = TypeVar("P", bound=Hashable)


class RecoveryWatch(Generic[P]):
    """Per changelog partition being recovered: the offset reached and since when."""

    def __init__(self, *, stall_s: float = STALL_S, clock: Callable[[], float] = time.monotonic):
        self._stall_s = stall_s
        self._clock = clock
        self._seen: dict[P, tuple[int, float]] = {}

    def stalled(
        self, recovering: bool, offsets: Mapping[P, int], highwaters: Mapping[P, int]
    ) -> dict[P, int]:
        """The partitions to seek again, with the offset to read from: behind their highwater
        and at the same offset for at least the stall time (each is then given that time
        again). `offsets` are the last offsets applied (-1: none), as faust keeps them."""
        if not recovering:
            self._seen.clear()
            return {}
        now = self._clock()
        due: dict[P, int] = {}
        behind = {p for p, high in highwaters.items() if high > offsets.get(p, -1)}
        for partition in list(self._seen):
            if partition not in behind:
                del self._seen[partition]
        for partition in behind:
            offset = offsets.get(partition, -1)
            seen = self._seen.get(partition)
            if seen is None or seen[0] != offset:
                self._seen[partition] = (offset, now)
            elif now - seen[1] >= self._stall_s:
                due[partition] = max(0, offset)
                self._seen[partition] = (offset, now)
        return due
