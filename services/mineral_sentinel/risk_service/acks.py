"""Acknowledge a partition's envelopes strictly in the order they were read.

faust commits, per partition, the run of consecutive acknowledged offsets after the committed
one. Its check for a hole at the head of that run lets one unacknowledged message through
(committed offset C, C unacknowledged, C+1 acknowledged: it commits past C), and it is skipped
altogether while the committed offset is 0 or unknown. An envelope held back because its records
wait in the merge would then be committed before they are applied, and lost at the next
hand-over or crash (seen: 35 events of one material, after one of two workers stopped). So the
fold holds every envelope and releases it only once it and every envelope read before it on
its partition are done: faust only ever sees a contiguous acknowledged prefix.
(`tests/unit/test_faust_adapter.py` pins faust's behaviour, so that an upgrade is noticed.)

Pure bookkeeping; the fold takes and drops the faust references (`faust_adapter`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True, eq=False)
class HeldEnvelope:
    """A by-material message and how many of its records are not applied yet."""

    event: Any
    remaining: int


class InOrderRelease:
    """Per partition, the held envelopes in the order they were read."""

    def __init__(self) -> None:
        self._queues: dict[int, deque[HeldEnvelope]] = {}

    def hold(self, partition: int, event: Any, remaining: int) -> HeldEnvelope:
        held = HeldEnvelope(event, remaining)
        self._queues.setdefault(partition, deque()).append(held)
        return held

    def releasable(self, partition: int) -> list[HeldEnvelope]:
        """Remove and return the done envelopes at the head of the partition's queue."""
        queue = self._queues.get(partition)
        done: list[HeldEnvelope] = []
        while queue and queue[0].remaining <= 0:
            done.append(queue.popleft())
        return done

    def partitions(self) -> list[int]:
        """Partitions with envelopes held."""
        return [p for p, queue in self._queues.items() if queue]

    def forget(self, partition: int) -> None:
        """The partition went to another worker: it reads these envelopes again."""
        self._queues.pop(partition, None)

    def held(self, partition: int) -> int:
        queue = self._queues.get(partition)
        return len(queue) if queue else 0
