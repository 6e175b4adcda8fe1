"""The risk service's pure pieces: sequencer, envelope, table slot, intake and one fold step."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mineral_sentinel.catalog.loader import load_catalog
from mineral_sentinel.risk import Policy
from mineral_sentinel.risk_service import envelope, sequencer
from mineral_sentinel.risk_service.intake import Rejected, classify, dead_letter
from mineral_sentinel.risk_service.processor import step
from mineral_sentinel.risk_service.slot import decode_slot, encode_slot, new_slot

pytestmark = pytest.mark.unit


def test_sequencer_releases_in_sequence_order_whatever_the_arrival_order() -> None:
    state = sequencer.SequencerState()
    released: list[bytes] = []
    for seq in (3, 1, 4, 2, 5):
        released += sequencer.offer(state, "run", seq, str(seq).encode(), limit=10).release
    assert released == [b"1", b"2", b"3", b"4", b"5"]
    assert state.pending == {}
    assert state.next_seq == {"run": 6}


def test_sequencer_flags_redeliveries_and_ignores_a_parked_duplicate() -> None:
    state = sequencer.SequencerState()
    sequencer.offer(state, "run", 1, b"1", limit=10)
    assert sequencer.offer(state, "run", 1, b"1", limit=10).redelivered
    assert sequencer.offer(state, "run", 3, b"3", limit=10).release == ()
    again = sequencer.offer(state, "run", 3, b"3", limit=10)
    assert again.release == () and not again.redelivered
    assert sequencer.offer(state, "run", 2, b"2", limit=10).release == (b"2", b"3")


def test_sequencer_keeps_runs_apart_and_passes_unsequenced_messages() -> None:
    state = sequencer.SequencerState()
    assert sequencer.offer(state, "a", 2, b"a2", limit=10).release == ()
    assert sequencer.offer(state, "b", 1, b"b1", limit=10).release == (b"b1",)
    assert sequencer.offer(state, None, None, b"live", limit=10).release == (b"live",)
    assert sequencer.offer(state, "a", 1, b"a1", limit=10).release == (b"a1", b"a2")


def test_sequencer_overflow_releases_parked_events_in_order_past_the_gap() -> None:
    state = sequencer.SequencerState()
    for seq in (5, 3, 4):
        assert sequencer.offer(state, "run", seq, str(seq).encode(), limit=2).release in (
            (),
            (b"3", b"4", b"5"),
        )
    assert state.next_seq["run"] == 6
    assert sequencer.offer(state, "run", 2, b"2", limit=2).redelivered


def test_envelope_round_trip_keeps_the_original_bytes() -> None:
    raw = b'{"type":"price_observed",\n"x":1}'
    items = [
        envelope.Keyed("gallium", raw, "minerals.prices.v1", "r1", 7, 123),
        envelope.Keyed("gallium", b"{}", "minerals.shipments.v1", None, None, None),
    ]
    assert envelope.decode(envelope.encode(items)) == items


def test_envelope_chunks_split_large_batches_and_keep_order() -> None:
    items = [envelope.Keyed("g", bytes(100), "t") for _ in range(10)]
    parts = list(envelope.chunks(items, limit=250))
    assert [len(p) for p in parts] == [2, 2, 2, 2, 2]
    assert [k for p in parts for k in p] == items


def test_sequence_headers_round_trip_and_malformed_headers_mean_live() -> None:
    headers = envelope.sequence_headers("r1", {"gallium": 17, "germanium": 9})
    assert envelope.read_sequence(headers) == ("r1", {"gallium": 17, "germanium": 9})
    assert envelope.read_sequence({"sentinel-seq": b"{not json"}) == (None, {})
    assert envelope.read_sequence(None) == (None, {})


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


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"\xff\xfe", "undecodable"),
        (b"{not json", "invalid_json"),
        (_price("p", -1.0, 1), "schema_violation"),
        (_price("p", 1.0, 1).replace(b"Z", b""), "schema_violation"),
        (_price("p", 1.0, 1).replace(b"gallium", b"unobtainium"), "unknown_material"),
        (b" " * 70_000, "too_large"),
    ],
)
def test_intake_classifies_bad_input(raw: bytes, reason: str) -> None:
    result = classify(raw, load_catalog(), max_bytes=65536, topic="minerals.prices.v1")
    assert isinstance(result, Rejected) and result.reason == reason
    letter = json.loads(
        dead_letter(
            result,
            raw=raw,
            key=b"k",
            topic="minerals.prices.v1",
            partition=1,
            offset=9,
            received_at=datetime(2024, 1, 1, tzinfo=UTC),
        )
    )
    assert letter["errors"][0]["reason"] == reason
    assert (letter["source_partition"], letter["source_offset"]) == (1, 9)
    assert letter["value_size"] == len(raw)


def test_intake_rejects_an_event_on_the_wrong_topic() -> None:
    result = classify(
        _price("p", 1.0, 1), load_catalog(), max_bytes=65536, topic="minerals.shipments.v1"
    )
    assert isinstance(result, Rejected) and result.errors[0].path == "type"


def test_step_reemits_identical_bytes_for_a_redelivered_sequenced_event() -> None:
    catalog, policy = load_catalog(), Policy()
    slot = new_slot("gallium")
    first = step(
        slot,
        envelope.Keyed("gallium", _price("p1", 100.0, 1), "t", "r", 1),
        catalog,
        policy,
        reorder_limit=10,
    )
    assert first.applied == 1 and first.emissions, "the first event emits a snapshot"
    slot = decode_slot(encode_slot(slot))  # survives the table round trip
    again = step(
        slot,
        envelope.Keyed("gallium", _price("p1", 100.0, 1), "t", "r", 1),
        catalog,
        policy,
        reorder_limit=10,
    )
    assert again.redelivered and again.applied == 0
    assert again.emissions == first.emissions


def test_step_gives_nothing_for_a_new_line_repeating_an_event_id() -> None:
    catalog, policy = load_catalog(), Policy()
    slot = new_slot("gallium")
    step(
        slot,
        envelope.Keyed("gallium", _price("p1", 100.0, 1), "t", "r", 1),
        catalog,
        policy,
        reorder_limit=10,
    )
    dup = step(
        slot,
        envelope.Keyed("gallium", _price("p1", 100.0, 1), "t", "r", 2),
        catalog,
        policy,
        reorder_limit=10,
    )
    assert dup.emissions == [] and not dup.redelivered
