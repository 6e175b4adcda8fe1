"""The table value of one material: core state, sequencer, recent outputs and served history.

Bytes in the table (a raw-bytes Faust table, changelog-backed): b"MS2", then length-prefixed
(4-byte big-endian) parts: compact JSON metadata, the core's own `dump_state` bytes, and every
stored payload (parked events, ring outputs, history) in the order the metadata lists them.
Everything is bounded: the output ring (re-emitted byte-identically when an applied event is
redelivered after a
crash), the alert history (latest version of the last N alerts) and the recommendation history.
"""

from __future__ import annotations

import json
import struct
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Literal

from ..risk import MaterialState, dump_state, initial_state, load_state
from .sequencer import SequencerState

OutputKind = Literal["risk", "alerts", "recommendations"]
MAGIC = b"MS2"
RING_SIZE = 16
"""Events per material whose outputs are kept for re-emission. Outputs are handed to the producer
before the table write of the same batch, so only a batch whose outputs were lost while its
table write survived needs them: a few events per material, never a long history."""
HISTORY_SIZE = 20
_LEN = struct.Struct(">I")


@dataclass(slots=True)
class MaterialSlot:
    state: MaterialState
    sequencer: SequencerState = field(default_factory=SequencerState)
    ring: OrderedDict[str, tuple[tuple[OutputKind, bytes], ...]] = field(
        default_factory=OrderedDict
    )
    """event id -> the outputs it caused (serialized), most recent last."""
    alerts: OrderedDict[str, bytes] = field(default_factory=OrderedDict)
    """alert id -> latest version (Alert JSON), most recently updated last."""
    recommendations: deque[bytes] = field(default_factory=lambda: deque(maxlen=HISTORY_SIZE))

    def remember(self, event_id: str, outputs: tuple[tuple[OutputKind, bytes], ...]) -> None:
        self.ring[event_id] = outputs
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
    seq = slot.sequencer
    pending = []
    for run, parked in seq.pending.items():
        for s, payload in parked.items():
            pending.append([run, s])
            _blob(blobs, payload)
    ring = []
    for eid, outs in slot.ring.items():
        ring.append([eid, [kind for kind, _ in outs]])
        for _, value in outs:
            _blob(blobs, value)
    alert_ids = list(slot.alerts)
    for value in slot.alerts.values():
        _blob(blobs, value)
    for value in slot.recommendations:
        _blob(blobs, value)
    meta = {
        "next": list(seq.next_seq.items()),
        "pending": pending,
        "ring": ring,
        "alerts": alert_ids,
        "recs": len(slot.recommendations),
    }
    meta_bytes = json.dumps(meta, separators=(",", ":"), ensure_ascii=False).encode()
    core = dump_state(slot.state)
    return b"".join(
        (MAGIC, _LEN.pack(len(meta_bytes)), meta_bytes, _LEN.pack(len(core)), core, *blobs)
    )


def decode_slot(data: bytes) -> MaterialSlot:
    if data[:3] != MAGIC:
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

    meta = json.loads(take())
    state = load_state(take())
    sequencer = SequencerState(next_seq={run: n for run, n in meta["next"]})
    for run, s in meta["pending"]:
        sequencer.pending.setdefault(run, {})[s] = take()
    ring: OrderedDict[str, tuple[tuple[OutputKind, bytes], ...]] = OrderedDict()
    for eid, kinds in meta["ring"]:
        ring[eid] = tuple((kind, take()) for kind in kinds)
    alerts = OrderedDict((aid, take()) for aid in meta["alerts"])
    recs: deque[bytes] = deque((take() for _ in range(meta["recs"])), maxlen=HISTORY_SIZE)
    return MaterialSlot(state, sequencer, ring, alerts, recs)
