"""The table value of one material: core state, sequencer, recent outputs and served history.

Bytes in the table (a raw-bytes Faust table, changelog-backed): b"MS1", a 4-byte big-endian
length, compact JSON metadata, then the core's own `dump_state` bytes. Everything is bounded:
the output ring (re-emitted byte-identically when an applied event is redelivered after a
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
MAGIC = b"MS1"
RING_SIZE = 32
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


def encode_slot(slot: MaterialSlot) -> bytes:
    seq = slot.sequencer
    meta = {
        "next": list(seq.next_seq.items()),
        "pending": [
            [run, s, payload.decode()]
            for run, parked in seq.pending.items()
            for s, payload in parked.items()
        ],
        "ring": [
            [eid, [[kind, value.decode()] for kind, value in outs]]
            for eid, outs in slot.ring.items()
        ],
        "alerts": [[aid, value.decode()] for aid, value in slot.alerts.items()],
        "recs": [value.decode() for value in slot.recommendations],
    }
    meta_bytes = json.dumps(meta, separators=(",", ":"), ensure_ascii=False).encode()
    return MAGIC + _LEN.pack(len(meta_bytes)) + meta_bytes + dump_state(slot.state)


def decode_slot(data: bytes) -> MaterialSlot:
    if data[:3] != MAGIC:
        raise ValueError("not a material slot (bad magic)")
    (size,) = _LEN.unpack_from(data, 3)
    start = 3 + _LEN.size
    meta = json.loads(data[start : start + size])
    state = load_state(data[start + size :])
    sequencer = SequencerState(next_seq={run: n for run, n in meta["next"]})
    for run, s, payload in meta["pending"]:
        sequencer.pending.setdefault(run, {})[s] = payload.encode()
    ring: OrderedDict[str, tuple[tuple[OutputKind, bytes], ...]] = OrderedDict(
        (eid, tuple((kind, value.encode()) for kind, value in outs)) for eid, outs in meta["ring"]
    )
    alerts = OrderedDict((aid, value.encode()) for aid, value in meta["alerts"])
    recs: deque[bytes] = deque((v.encode() for v in meta["recs"]), maxlen=HISTORY_SIZE)
    return MaterialSlot(state, sequencer, ring, alerts, recs)
