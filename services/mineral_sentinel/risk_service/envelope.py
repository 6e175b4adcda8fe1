"""Messages on the internal by-material topic: forwarded records and source marks.

The intake sends one envelope per by-material partition per batch: the records of that batch
whose material lives on that partition, and the marks (event-time progress, safe time) of every
input partition it reads, which the partition's merge needs whatever materials the batch held.
Each record keeps where it came from (input topic, partition, offset: how a redelivery is told
from a duplicate id), its place in the total order, and the original bytes, unchanged.

Layout: b"K3", a length-prefixed compact JSON header `{"marks": [[source, time_us, safe_ms], ...],
"sizes": {topic: partitions}}` (the sizes tell the merge which input partitions exist),
then per record a length-prefixed JSON metadata array and the length-prefixed event bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import orjson

from ..risk.ordering import OrderKey

MAGIC = b"K3"
MAX_ENVELOPE_BYTES = 256 * 1024
"""Split point of one envelope (a single event is at most the intake limit, 64 KiB default)."""
_LEN = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class Forwarded:
    """One valid input event for one material, as the intake forwards it."""

    material: str
    source: str
    """The input partition it was read from, `<logical topic>/<partition>`."""
    offset: int
    key: OrderKey
    raw: bytes
    written_ms: int
    """Kafka timestamp (ms) of the input message, capped at when the intake received it."""

    @property
    def coordinate(self) -> str:
        """Where the record sits in its input partition: equal only for a re-read record."""
        return f"{self.source}@{self.offset}"

    @property
    def topic(self) -> str:
        """The logical input topic (a bounded metric label)."""
        return self.source.rpartition("/")[0]


@dataclass(frozen=True, slots=True)
class Mark:
    """What the intake knows of one input partition (see `merge` for the two facts)."""

    source: str
    time_us: int | None
    safe_ms: int | None


@dataclass(frozen=True, slots=True)
class Envelope:
    records: tuple[Forwarded, ...] = ()
    marks: tuple[Mark, ...] = ()
    sizes: Mapping[str, int] = field(default_factory=dict)
    """Partitions of each input topic, as the sending intake knows them."""

    def sources(self) -> list[str]:
        return [source_name(t, p) for t, n in self.sizes.items() for p in range(n)]


def source_name(topic: str, partition: int) -> str:
    return f"{topic}/{partition}"


def encode(records: Sequence[Forwarded], marks: Sequence[Mark], sizes: Mapping[str, int]) -> bytes:
    header = orjson.dumps(
        {"marks": [[m.source, m.time_us, m.safe_ms] for m in marks], "sizes": dict(sizes)}
    )
    parts: list[bytes] = [MAGIC, _LEN.pack(len(header)), header]
    for r in records:
        meta = orjson.dumps(
            [
                r.material,
                r.source,
                r.offset,
                r.key.time_us,
                r.key.event_id,
                r.key.digest.hex(),
                r.written_ms,
            ]
        )
        parts += (_LEN.pack(len(meta)), meta, _LEN.pack(len(r.raw)), r.raw)
    return b"".join(parts)


def decode(data: bytes) -> Envelope:
    if data[:2] != MAGIC:
        raise ValueError("not a by-material envelope (bad magic)")
    view = memoryview(data)
    (size,) = _LEN.unpack_from(view, 2)
    pos = 6 + size
    header = orjson.loads(view[6:pos])
    marks = tuple(Mark(s, t, safe) for s, t, safe in header["marks"])
    records: list[Forwarded] = []
    end = len(data)
    while pos < end:
        (size,) = _LEN.unpack_from(view, pos)
        meta = orjson.loads(view[pos + 4 : pos + 4 + size])
        pos += 4 + size
        (size,) = _LEN.unpack_from(view, pos)
        raw = bytes(view[pos + 4 : pos + 4 + size])
        pos += 4 + size
        material, source, offset, time_us, event_id, digest, written_ms = meta
        key = OrderKey(time_us, event_id, bytes.fromhex(digest))
        records.append(Forwarded(material, source, offset, key, raw, written_ms))
    sizes = {str(t): int(n) for t, n in header.get("sizes", {}).items()}
    return Envelope(tuple(records), marks, sizes)


def chunks(
    records: Sequence[Forwarded], limit: int = MAX_ENVELOPE_BYTES
) -> Iterator[list[Forwarded]]:
    """Consecutive runs of records whose raw bytes stay under `limit` (at least one each)."""
    chunk: list[Forwarded] = []
    size = 0
    for record in records:
        if chunk and size + len(record.raw) > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(record)
        size += len(record.raw)
    if chunk:
        yield chunk
