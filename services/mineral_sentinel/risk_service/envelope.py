"""The message on the internal by-material topic: one input event re-keyed to one material.

Input agents only validate and forward; everything order-sensitive happens after this repartition
step. The envelope carries the replay's per-material sequence number and run id (if the producer
stamped them) so that the stateful agent can restore file order across the four input topics.
Layout: one line of compact JSON metadata, a newline, then the original event bytes unchanged
(the stateful agent parses exactly the bytes the backtest would).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
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


def encode(keyed: Keyed) -> bytes:
    meta = json.dumps(
        [keyed.material, keyed.source, keyed.run, keyed.seq, keyed.produced_ms],
        separators=(",", ":"),
    )
    return meta.encode() + b"\n" + keyed.raw


def decode(data: bytes) -> Keyed:
    meta, _, raw = data.partition(b"\n")
    material, source, run, seq, produced_ms = json.loads(meta)
    return Keyed(material, raw, source, run, seq, produced_ms)


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
