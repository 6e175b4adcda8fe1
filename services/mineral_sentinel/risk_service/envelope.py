"""The message on the internal by-material topic: one input event re-keyed to one material.

Input agents only validate and forward; everything order-sensitive happens after this repartition
step. The envelope carries the replay's per-material sequence number and run id (if the producer
stamped them) so that the stateful agent can restore file order across the four input topics.
Layout: b"K2", then per event a length-prefixed compact JSON metadata array and the
length-prefixed original event bytes, unchanged (the stateful agent parses exactly the bytes
the backtest would).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

SEQ_HEADER = "sentinel-seq"
"""Kafka header set by `sentinel replay`: JSON {material: sequence number in file order}."""
RUN_HEADER = "sentinel-run"
"""Kafka header set by `sentinel replay`: the replay run id, so two replays never mix."""


@dataclass(frozen=True, slots=True)
class Keyed:
    material: str
    raw: bytes
    source: str
    """Logical input topic name (bounded metric label)."""
    run: str | None = None
    seq: int | None = None
    produced_ms: int | None = None
    """Kafka timestamp (ms) of the original input message, for the ingest-lag histogram."""


MAGIC = b"K2"
MAX_ENVELOPE_BYTES = 256 * 1024
"""Split point of one envelope (a single event is at most the intake limit, 64 KiB default)."""
_LEN = struct.Struct(">I")


def encode(items: Sequence[Keyed]) -> bytes:
    """One envelope for consecutive events of one material (the intake batches them: one Kafka
    message per material per intake batch, so the stateful agent sees few, larger messages)."""
    parts: list[bytes] = [MAGIC]
    for keyed in items:
        meta = json.dumps(
            [keyed.material, keyed.source, keyed.run, keyed.seq, keyed.produced_ms],
            separators=(",", ":"),
        ).encode()
        parts += (_LEN.pack(len(meta)), meta, _LEN.pack(len(keyed.raw)), keyed.raw)
    return b"".join(parts)


def decode(data: bytes) -> list[Keyed]:
    if data[:2] != MAGIC:
        raise ValueError("not a by-material envelope (bad magic)")
    view = memoryview(data)
    pos = 2
    items: list[Keyed] = []
    while pos < len(data):
        (size,) = _LEN.unpack_from(view, pos)
        meta = json.loads(bytes(view[pos + 4 : pos + 4 + size]))
        pos += 4 + size
        (size,) = _LEN.unpack_from(view, pos)
        raw = bytes(view[pos + 4 : pos + 4 + size])
        pos += 4 + size
        material, source, run, seq, produced_ms = meta
        items.append(Keyed(material, raw, source, run, seq, produced_ms))
    return items


def chunks(items: Sequence[Keyed], limit: int = MAX_ENVELOPE_BYTES) -> Iterator[list[Keyed]]:
    """Consecutive runs of items whose raw bytes stay under `limit` (at least one item each)."""
    chunk: list[Keyed] = []
    size = 0
    for keyed in items:
        if chunk and size + len(keyed.raw) > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(keyed)
        size += len(keyed.raw)
    if chunk:
        yield chunk


def sequence_headers(run: str, seqs: Mapping[str, int]) -> list[tuple[str, bytes]]:
    """The headers `sentinel replay` stamps on one message."""
    return [
        (RUN_HEADER, run.encode()),
        (SEQ_HEADER, json.dumps(dict(seqs), separators=(",", ":")).encode()),
    ]


def read_sequence(
    headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None,
) -> tuple[str | None, dict[str, int]]:
    """(run id, {material: seq}) from message headers; (None, {}) when absent or malformed.

    A malformed header is treated as absent: the event is then applied on arrival, which is the
    live-producer behaviour, rather than parked forever waiting for a sequence that never comes.
    """
    if not headers:
        return None, {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    run: str | None = None
    seqs: dict[str, int] = {}
    for name, value in items:
        if name == RUN_HEADER and value:
            run = bytes(value).decode("utf-8", "replace")
        elif name == SEQ_HEADER and value:
            try:
                parsed = json.loads(value)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                seqs = {
                    str(k): v
                    for k, v in parsed.items()
                    if isinstance(v, int) and not isinstance(v, bool) and v >= 1
                }
    if run is None:
        return None, {}
    return run, seqs
