"""Which materials' table values to write now, and what each write makes acknowledgeable. Pure.

Why: a material's table value (core state, output ring, histories: ~30 KB for a busy material)
goes to RocksDB and to the changelog topic on every write. Written once per fold batch, a live
stream at 1,000 events/s wrote a value for nearly every event (the table was the costliest
stage, ~120 µs per event, and the broker had to take the changelog's megabytes). Instead the
fold keeps a material's slot in memory after applying its records and writes it at most once
per `interval` (`SENTINEL_RISK_TABLE_WRITE_INTERVAL_S`).

What keeps this safe: the records applied to an unwritten slot are not counted off their
envelopes until the slot is written (`written` hands their identities back then), so no envelope
holding them is acknowledged, and the committed offset never passes them. A crash or a lost
partition drops the unwritten slot; the envelopes are read again and their records re-applied
to the stored value, which gives the same outputs again (the core is deterministic): at least
once, as before, with the same bytes. Outputs are still handed to the producer before the write
that covers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .processor import Step
from .slot import MaterialSlot

E = TypeVar("E")
"""What a write needs to reach the material's partition (an envelope event of it)."""
Ident = tuple[str, str]
"""(material, input coordinate) of an applied record."""


@dataclass(slots=True)
class Unwritten(Generic[E]):
    partition: int
    slot: MaterialSlot
    via: E
    since: float
    """When the oldest applied record not yet written was applied (clock seconds)."""
    steps: list[Step] = field(default_factory=list)
    """What was applied since the last write, in order (to rebuild after a failed step)."""
    applied: list[Ident] = field(default_factory=list)


class WriteBehind(Generic[E]):
    """Per material: the slot applied past its stored value, until it is written."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._unwritten: dict[str, Unwritten[E]] = {}

    def slot(self, material: str) -> MaterialSlot | None:
        """The applied-but-unwritten slot (newer than the table's), if any."""
        entry = self._unwritten.get(material)
        return None if entry is None else entry.slot

    def steps(self, material: str) -> list[Step]:
        """What was applied to the material since its stored value (oldest first)."""
        entry = self._unwritten.get(material)
        return [] if entry is None else list(entry.steps)

    def applied(
        self,
        material: str,
        partition: int,
        slot: MaterialSlot,
        via: E,
        now: float,
        steps: list[Step],
        applied: list[Ident],
    ) -> None:
        """Records were applied to `slot` (not written yet)."""
        entry = self._unwritten.get(material)
        if entry is None:
            entry = self._unwritten[material] = Unwritten(partition, slot, via, now)
        entry.slot = slot
        entry.via = via
        entry.steps.extend(steps)
        entry.applied.extend(applied)

    def due(self, now: float) -> list[str]:
        """Materials whose oldest unwritten record has waited the interval (all if it is 0)."""
        return [m for m, e in self._unwritten.items() if now - e.since >= self.interval_s]

    def written(self, material: str) -> Unwritten[E] | None:
        """The material's slot is being written: forget it; return what the write covers."""
        return self._unwritten.pop(material, None)

    def materials(self) -> list[str]:
        return list(self._unwritten)

    def forget_partitions(self, kept: set[int]) -> list[str]:
        """Drop the slots of partitions this worker no longer folds (their envelopes are read
        again by the new owner, from the stored values). Returns the materials dropped."""
        dropped = [m for m, e in self._unwritten.items() if e.partition not in kept]
        for material in dropped:
            del self._unwritten[material]
        return dropped

    def __len__(self) -> int:
        return len(self._unwritten)
