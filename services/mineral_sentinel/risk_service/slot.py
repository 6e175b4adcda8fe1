"""The table value of one material: core state, order position, recent outputs and history.

Bytes in the table (a raw-bytes Faust table, changelog-backed): b"MS3", then length-prefixed
(4-byte big-endian) parts: compact JSON metadata, the core's own `dump_state` bytes, and every
stored payload (ring outputs, history) in the order the metadata lists them. The metadata holds
the `OrderKey` of the newest event applied (what "late" is measured against) and, per ring
entry, the input coordinate of the record that caused it (how a re-read record is told from a
second event with the same id). Values written by the previous layout (b"MS2", which parked
replay-sequenced events) are still read; their parked events are dropped.
Everything is bounded: the output ring (re-emitted byte-identically when an applied event is
redelivered after a
crash), the alert history (latest version of the last N alerts) and the recommendation history.
"""

from __future__ import annotations

import struct
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Literal

import orjson

from ..risk import MaterialState, dump_state, initial_state, load_state
from ..risk.ordering import OrderKey

OutputKind = Literal["risk", "alerts", "recommendations"]
MAGIC = b"MS3"
OLD_MAGIC = b"MS2"
RING_SIZE = 16
"""Events per material whose outputs are kept for re-emission. Outputs are handed to the producer
before the table write of the same batch, so only a batch whose outputs were lost while its
table write survived needs them: a few events per material, never a long history."""
HISTORY_SIZE = 20
_LEN = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class RingEntry:
    coordinate: str | None
    """`<topic>/<partition>@<offset>` of the input record (None: unknown, older layout)."""
    outputs: tuple[tuple[OutputKind, bytes], ...]


@dataclass(slots=True)
class MaterialSlot:
    state: MaterialState
    last_key: OrderKey | None = None
    """Order position of the newest event applied; an older one arriving later is late."""
    ring: OrderedDict[str, RingEntry] = field(default_factory=OrderedDict)
    """event id -> where it was read and the outputs it caused (serialized), most recent last."""
    alerts: OrderedDict[str, bytes] = field(default_factory=OrderedDict)
    """alert id -> latest version (Alert JSON), most recently updated last."""
    recommendations: deque[bytes] = field(default_factory=lambda: deque(maxlen=HISTORY_SIZE))

    def remember(
        self, event_id: str, coordinate: str | None, outputs: tuple[tuple[OutputKind, bytes], ...]
    ) -> None:
        self.ring[event_id] = RingEntry(coordinate, outputs)
        self.ring.move_to_end(event_id)
        while len(self.ring) > RING_SIZE:
            self.ring.popitem(last=False)

    def record_alert(self, alert_id: str, value: bytes) -> None:
        self.alerts[alert_id] = value
        self.alerts.move_to_end(alert_id)
        while len(self.alerts) > HISTORY_SIZE:
            self.alerts.popitem(last=False)


def new_slot(material: str) -> MaterialSlot:
    return MaterialSlot(state=initial_state(material))


def _blob(out: list[bytes], value: bytes) -> None:
    out.append(_LEN.pack(len(value)))
    out.append(value)


def encode_slot(slot: MaterialSlot) -> bytes:
    """Small JSON for the structure; every payload appended as a length-prefixed blob, in the
    order the JSON lists them (no JSON escaping of the large output documents)."""
    blobs: list[bytes] = []
    ring = []
    for eid, entry in slot.ring.items():
        ring.append([eid, entry.coordinate, [kind for kind, _ in entry.outputs]])
        for _, value in entry.outputs:
            _blob(blobs, value)
    alert_ids = list(slot.alerts)
    for value in slot.alerts.values():
        _blob(blobs, value)
    for value in slot.recommendations:
        _blob(blobs, value)
    last = slot.last_key
    meta = {
        "last": None if last is None else [last.time_us, last.event_id, last.digest.hex()],
        "ring": ring,
        "alerts": alert_ids,
        "recs": len(slot.recommendations),
    }
    meta_bytes = orjson.dumps(meta)
    core = dump_state(slot.state)
    return b"".join(
        (MAGIC, _LEN.pack(len(meta_bytes)), meta_bytes, _LEN.pack(len(core)), core, *blobs)
    )


def decode_slot(data: bytes) -> MaterialSlot:
    magic = data[:3]
    if magic not in (MAGIC, OLD_MAGIC):
        raise ValueError("not a material slot (bad magic)")
    view = memoryview(data)
    pos = 3

    def take() -> bytes:
        nonlocal pos
        (size,) = _LEN.unpack_from(view, pos)
        pos += _LEN.size
        chunk = bytes(view[pos : pos + size])
        pos += size
        return chunk

    meta = orjson.loads(take())
    state = load_state(take())
    ring: OrderedDict[str, RingEntry] = OrderedDict()
    last: OrderKey | None = None
    if magic == OLD_MAGIC:
        for _ in meta["pending"]:
            take()  # events parked by the replay-header sequencer: no longer used
        for eid, kinds in meta["ring"]:
            ring[eid] = RingEntry(None, tuple((kind, take()) for kind in kinds))
    else:
        if meta["last"] is not None:
            time_us, event_id, digest = meta["last"]
            last = OrderKey(time_us, event_id, bytes.fromhex(digest))
        for eid, coordinate, kinds in meta["ring"]:
            ring[eid] = RingEntry(coordinate, tuple((kind, take()) for kind in kinds))
    alerts = OrderedDict((aid, take()) for aid in meta["alerts"])
    recs: deque[bytes] = deque((take() for _ in range(meta["recs"])), maxlen=HISTORY_SIZE)
    return MaterialSlot(state, last, ring, alerts, recs)
