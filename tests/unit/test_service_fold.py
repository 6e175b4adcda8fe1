"""The risk service's pure pieces: the by-material envelope, the table slot and one fold step."""

from __future__ import annotations

import json
import struct

import pytest

from mineral_sentinel.catalog.loader import load_catalog
from mineral_sentinel.contracts.events import InputEvent, parse_event
from mineral_sentinel.risk import Policy, dump_state, initial_state
from mineral_sentinel.risk.ordering import OrderKey, order_key
from mineral_sentinel.risk_service import envelope
from mineral_sentinel.risk_service.processor import step
from mineral_sentinel.risk_service.slot import decode_slot, encode_slot, new_slot

pytestmark = pytest.mark.unit


def _price(event_id: str, price: float, day: int) -> bytes:
    return json.dumps(
        {
            "type": "price_observed",
            "event_id": event_id,
            "material": "gallium",
            "observed_at": f"2024-01-{day:02d}T16:00:00Z",
            "price": price,
            "currency": "USD",
            "unit": "kg",
            "source": "fastmarkets",
        }
    ).encode()


def _event(raw: bytes) -> tuple[OrderKey, InputEvent]:
    event = parse_event(raw)
    return order_key(event, raw), event


def test_envelope_round_trip_keeps_records_marks_and_sizes() -> None:
    raw = b'{"type":"price_observed",\n"x":1}'
    key = OrderKey(1_700_000_000_000_000, "p1", bytes(range(8)))
    records = [
        envelope.Forwarded("gallium", "minerals.prices.v1/3", 41, key, raw, 123),
        envelope.Forwarded("gallium", "minerals.shipments.v1/0", 7, key, b"{}", 99),
    ]
    marks = [
        envelope.Mark("minerals.prices.v1/3", 1_700_000_000_000_000, False),
        envelope.Mark("minerals.shipments.v1/0", None, 1_700_000_000_123),
    ]
    sizes = {"minerals.prices.v1": 8, "minerals.shipments.v1": 2}
    decoded = envelope.decode(envelope.encode(records, marks, sizes))
    assert decoded.records == tuple(records)
    assert decoded.marks == tuple(marks)
    assert dict(decoded.sizes) == sizes
    assert len(decoded.sources()) == 10 and "minerals.shipments.v1/1" in decoded.sources()
    assert records[0].coordinate == "minerals.prices.v1/3@41"
    assert records[0].topic == "minerals.prices.v1"


def test_envelope_rejects_foreign_bytes() -> None:
    with pytest.raises(ValueError, match="bad magic"):
        envelope.decode(b"K2whatever")


def test_envelope_chunks_split_large_batches_and_keep_order() -> None:
    key = OrderKey(0, "x", bytes(8))
    items = [envelope.Forwarded("g", "t/0", i, key, bytes(100), 0) for i in range(10)]
    parts = list(envelope.chunks(items, limit=250))
    assert [len(p) for p in parts] == [2, 2, 2, 2, 2]
    assert [k for p in parts for k in p] == items


def test_slot_round_trip_keeps_order_position_and_ring_coordinates() -> None:
    catalog, policy = load_catalog(), Policy()
    slot = new_slot("gallium")
    key, event = _event(_price("p1", 100.0, 1))
    step(slot, key, event, "minerals.prices.v1/0@5", catalog, policy)
    again = decode_slot(encode_slot(slot))
    assert again.last_key == key
    assert again.ring["p1"].coordinate == "minerals.prices.v1/0@5"
    assert again.ring["p1"].outputs == slot.ring["p1"].outputs
    assert encode_slot(again) == encode_slot(slot)


def test_slot_written_by_the_previous_layout_is_still_read() -> None:
    """b"MS2" values parked replay-sequenced events; reading drops them, keeps the rest."""
    length = struct.Struct(">I")
    meta = json.dumps(
        {
            "next": [["run", 3]],
            "pending": [["run", 5]],
            "ring": [["p1", ["risk"]]],
            "alerts": [],
            "recs": 0,
        }
    ).encode()
    core = dump_state(initial_state("gallium"))
    parts = [b"MS2", length.pack(len(meta)), meta, length.pack(len(core)), core]
    for blob in (b"parked event", b"snapshot bytes"):
        parts += [length.pack(len(blob)), blob]
    slot = decode_slot(b"".join(parts))
    assert slot.last_key is None
    assert slot.ring["p1"].coordinate is None
    assert slot.ring["p1"].outputs == (("risk", b"snapshot bytes"),)


def test_step_reemits_identical_bytes_for_a_record_read_again() -> None:
    catalog, policy = load_catalog(), Policy()
    slot = new_slot("gallium")
    key, event = _event(_price("p1", 100.0, 1))
    first = step(slot, key, event, "minerals.prices.v1/0@5", catalog, policy)
    assert first.applied and first.emissions, "the first event emits a snapshot"
    slot = decode_slot(encode_slot(slot))  # survives the table round trip
    again = step(slot, key, event, "minerals.prices.v1/0@5", catalog, policy)
    assert again.redelivered and not again.applied
    assert again.emissions == first.emissions


def test_step_gives_nothing_for_another_record_repeating_an_event_id() -> None:
    catalog, policy = load_catalog(), Policy()
    slot = new_slot("gallium")
    key, event = _event(_price("p1", 100.0, 1))
    step(slot, key, event, "minerals.prices.v1/0@5", catalog, policy)
    dup = step(slot, key, event, "minerals.prices.v1/4@9", catalog, policy)
    assert dup.emissions == [] and dup.duplicate and not dup.redelivered
    later_key, later = _event(_price("p1", 120.0, 3))  # same id, later time: still nothing
    dup = step(slot, later_key, later, "minerals.prices.v1/4@10", catalog, policy)
    assert dup.emissions == [] and dup.duplicate and not dup.applied


def test_step_applies_a_late_event_and_says_so() -> None:
    catalog, policy = load_catalog(), Policy()
    slot = new_slot("gallium")
    key, event = _event(_price("p2", 100.0, 5))
    step(slot, key, event, "minerals.prices.v1/0@1", catalog, policy)
    old_key, old = _event(_price("p1", 90.0, 2))
    late = step(slot, old_key, old, "minerals.prices.v1/1@1", catalog, policy)
    assert late.late and late.applied
    assert slot.last_key == key, "a late event does not move the order position back"
    assert "p1" in slot.state.seen
