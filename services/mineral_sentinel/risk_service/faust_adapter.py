"""The two things the fold needs from faust beyond its public agent API, in one place.

Tested against faust-streaming 0.15 (`tests/unit/test_faust_adapter.py` fails with a clear message
when an upgrade changes them):
- **which partition a table write goes to.** A faust table writes a key to the changelog
  partition of the stream's *current event* (a context variable of `faust.streams`). The fold
  applies, in one batch, records that arrived in envelopes of several partitions, so before it
  writes a material it makes an envelope of that material's partition the current event;
- **acknowledging an envelope later than its batch.** `take_events` acknowledges every event of a
  batch when the batch ends, but an envelope whose records still wait in the merge must not be
  committed. Taking one more reference on its message (`Message.incref`) keeps it unacknowledged
  until `release_later` drops that reference, once every record in it has been applied;
- **seeking from the consumer's own thread.** faust's aiokafka driver runs the consumer in a
  thread with its own event loop; `Consumer.seek` calls aiokafka's `seek` from the caller's
  thread, which deletes the partition's fetched records while that thread may be iterating them
  (seen: the fetcher crashed with `KeyError` in `fetched_records` and the worker stopped
  folding). `Consumer.seek_wait` runs the seek in the consumer thread and waits for it;
- **the table recovery's progress** (`app.tables.recovery`): whether it runs, the last
  changelog offset it applied per active partition, and the highwaters it reads up to, for the
  readiness check and for `recovery_watch`.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from faust.streams import _current_event
from faust.types import TP

TESTED_FAUST = ("0.15",)


def write_to_partition_of(event: Any) -> None:
    """Make `event` the current event, so table reads and writes go to its partition (the
    RocksDB store looks a key up only in the current event's partition)."""
    _current_event.set(weakref.ref(event))


def hold(event: Any) -> None:
    """Keep the event's message unacknowledged after its batch ends."""
    event.message.incref()


def release_later(event: Any, consumer: Any) -> None:
    """Drop the reference `hold` took; the message is acknowledged when none is left."""
    event.message.ack(consumer)


async def seek(consumer: Any, tp: TP, offset: int) -> None:
    """Move the consumer's read position of `tp` to `offset`, in the consumer's thread; faust
    then delivers the messages from there again (it forgets its read offset for them)."""
    await consumer.seek_wait({tp: offset})


async def reread(consumer: Any, offsets: Mapping[TP, int]) -> None:
    """Read these partitions again from these offsets: resumed (faust fetches only the
    partitions it counts as active; the recovery resumed them, this makes sure) and sought in
    the consumer's thread."""
    consumer.resume_partitions(list(offsets))
    await consumer.seek_wait(dict(offsets))


def recovering(app: Any) -> bool:
    """Whether the tables are not recovered yet (first start, or a rebalance's recovery)."""
    recovery = app.tables.recovery
    return not recovery.completed.is_set() or bool(recovery.in_recovery)


def recovery_progress(app: Any) -> tuple[bool, dict[TP, int], dict[TP, int]]:
    """(recovering, last applied offset, highwater) of each active changelog partition; a
    partition whose numbers the recovery is still building (None) is left out."""
    recovery = app.tables.recovery
    return (
        bool(recovery.in_recovery),
        {tp: n for tp, n in recovery.active_offsets.items() if isinstance(n, int)},
        {tp: n for tp, n in recovery.active_highwaters.items() if isinstance(n, int)},
    )
