"""The one total order of input events, shared by the stream and `sentinel backtest`. Pure.

Each material's events are applied in ascending `OrderKey`: event time (the contract's
`occurred_at`, in integer microseconds since the Unix epoch, so that offsets such as `+14:00`
compare exactly), then `event_id`, then a digest of the event's bytes with surrounding
whitespace removed.
Nothing here needs the producer's cooperation: no header, partition, offset or arrival time
takes part, so any producer, any partitioner and any line order of a file give the same order.
The last component only decides between two events with the same time and the same id (a
duplicate id); the first of them in this order is applied, the other causes nothing.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from ..contracts.events import InputEvent

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class OrderKey(NamedTuple):
    time_us: int
    event_id: str
    digest: bytes
    """8-byte BLAKE2b of the stripped bytes: small enough to keep in a material's state."""


def to_micros(moment: datetime) -> int:
    """Exact integer microseconds since the epoch of an aware datetime."""
    return (moment - EPOCH) // _MICROSECOND


def order_key(event: InputEvent, raw: bytes) -> OrderKey:
    """The event's place in the total order; `raw` are the bytes it was parsed from."""
    return OrderKey(to_micros(event.occurred_at), event.event_id, digest_of(raw))


def digest_of(raw: bytes) -> bytes:
    return hashlib.blake2b(raw.strip(), digest_size=8).digest()
