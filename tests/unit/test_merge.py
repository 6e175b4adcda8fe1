"""The event-time merge of a by-material partition (pure) and the total order it releases in.

A source stops holding a record back when its mark (event time) is strictly past the record's
time, or when its safe time (wall clock, ms) covers the record's written time."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mineral_sentinel.contracts.events import parse_event
from mineral_sentinel.risk.ordering import OrderKey, digest_of, order_key, to_micros
from mineral_sentinel.risk_service.merge import (
    MergeState,
    Release,
    drop_source_marks,
    new_merge,
    offer_mark,
    offer_record,
    releasable,
    release,
)

pytestmark = pytest.mark.unit

BIG = 10**9
CAUGHT_UP = 10**12
"""A safe time past every written time used here: the source has nothing more to send."""
MAIN = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODEL = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Item = tuple[str, int]
T = TypeVar("T")


def k(time_us: int, event_id: str = "e", digest: bytes = b"\x00") -> OrderKey:
    return OrderKey(time_us, event_id, digest)


def released_keys(rel: Release[T]) -> list[OrderKey]:
    return [key for key, _ in rel.items]


def released_items(rel: Release[T]) -> list[T]:
    return [item for _, item in rel.items]


def caught_up(state: MergeState[T], *sources: str) -> None:
    for source in sources:
        offer_mark(state, source, None, CAUGHT_UP)


# --- sources that hold back or not -----------------------------------------------------------


def test_empty_merge_releases_nothing():
    state: MergeState[str] = new_merge(["a"])
    assert release(state, limit=BIG) == Release()
    assert release(state, limit=0) == Release()


def test_expected_source_never_heard_of_holds_everything_back():
    state: MergeState[str] = new_merge(["a", "b"])
    offer_record(state, "a", k(1), 1, "a1")
    offer_record(state, "a", k(5), 2, "a5")
    offer_mark(state, "a", 100, CAUGHT_UP)
    assert not releasable(state, 1, 1)
    assert release(state, limit=BIG).items == ()
    offer_mark(state, "b", 3, None)
    assert released_items(release(state, limit=BIG)) == ["a1"]


def test_source_heard_of_without_time_or_safe_time_holds_everything_back():
    state: MergeState[str] = new_merge(["a", "b"])
    offer_record(state, "a", k(1), 1, "a1")
    offer_mark(state, "a", 5, None)
    offer_mark(state, "b", None, None)
    assert release(state, limit=BIG).items == ()
    offer_mark(state, "b", 2, None)
    assert released_items(release(state, limit=BIG)) == ["a1"]


def test_unexpected_source_becomes_expected_when_heard_of():
    state: MergeState[str] = new_merge([])
    offer_mark(state, "x", None, None)
    assert state.expected == {"x"}
    offer_record(state, "y", k(1), 1, "y1")
    assert state.expected == {"x", "y"}
    assert release(state, limit=BIG).items == ()  # x reported nothing usable yet


def test_caught_up_source_does_not_hold_back_what_was_written_before_its_safe_time():
    state: MergeState[str] = new_merge(["a", "b"])
    offer_mark(state, "b", None, 10)
    offer_record(state, "a", k(1), 9, "a1")
    offer_record(state, "a", k(4), 10, "a4")
    offer_record(state, "a", k(6), 11, "a6")
    offer_mark(state, "a", 8, None)
    assert releasable(state, 4, 10)
    assert not releasable(state, 6, 11)
    assert released_items(release(state, limit=BIG)) == ["a1", "a4"]


def test_a_caught_up_source_holds_back_again_what_was_written_after_its_safe_time():
    state: MergeState[str] = new_merge(["a", "b"])
    offer_mark(state, "b", 2, 100)
    offer_record(state, "a", k(10), 150, "a10")
    offer_mark(state, "a", 20, None)
    assert release(state, limit=BIG).items == ()  # b may still send what was written at 101..
    offer_record(state, "b", k(3), 120, "b3")  # ..and it does, older than a10
    assert release(state, limit=BIG).items == ()  # b's mark is 3; b3 itself written after 100
    offer_mark(state, "b", None, 160)
    assert released_items(release(state, limit=BIG)) == ["b3", "a10"]


def test_source_with_a_mark_and_nothing_buffered_constrains_by_its_mark():
    state: MergeState[str] = new_merge(["a", "b"])
    offer_record(state, "b", k(4), 1, "b4")
    assert released_items(release(state, limit=BIG)) == []  # a never reported
    offer_mark(state, "a", 6, None)
    offer_record(state, "b", k(8), 2, "b8")
    offer_record(state, "b", k(9), 3, "b9")
    assert released_items(release(state, limit=BIG)) == ["b4"]
    offer_mark(state, "a", 9, None)
    assert released_items(release(state, limit=BIG)) == ["b8"]


def test_all_caught_up_releases_everything_in_key_order():
    state: MergeState[str] = new_merge(["a", "b", "c"])
    offer_record(state, "a", k(5, "x"), 3, "a5")
    offer_record(state, "b", k(1, "y"), 2, "b1")
    offer_record(state, "c", k(5, "w"), 1, "c5")
    caught_up(state, "a", "b")
    assert released_items(release(state, limit=BIG)) == ["b1"]  # below c's mark, 5
    caught_up(state, "c")
    assert released_items(release(state, limit=BIG)) == ["c5", "a5"]
    assert state.buffered() == 0


def test_release_stops_at_the_first_record_that_may_not_leave():
    """A later record that could leave waits behind an earlier one that may not (key order)."""
    state: MergeState[str] = new_merge(["a", "b"])
    offer_record(state, "a", k(1), 20, "a1")  # written late
    offer_record(state, "a", k(2), 5, "a2")  # written early
    offer_mark(state, "a", 3, None)
    offer_mark(state, "b", None, 10)
    assert not releasable(state, 1, 20)
    assert releasable(state, 2, 5)
    assert release(state, limit=BIG).items == ()
    offer_mark(state, "b", 2, None)
    assert released_items(release(state, limit=BIG)) == ["a1", "a2"]


def test_drop_source_marks_holds_back_until_the_source_reports_again():
    state: MergeState[str] = new_merge(["a", "b"])
    offer_mark(state, "a", 10, None)
    offer_mark(state, "b", 10, 10)
    offer_record(state, "a", k(10), 1, "a10")
    offer_record(state, "b", k(11), 2, "b11")
    drop_source_marks(state, ["b", "never-heard-of"])
    assert state.expected == {"a", "b"}
    assert "b" not in state.marks
    offer_mark(state, "a", 50, None)
    assert release(state, limit=BIG).items == ()
    offer_mark(state, "b", 3, None)  # the re-read starts older: what was known is forgotten
    assert state.marks["b"].time_us == 3
    assert release(state, limit=BIG).items == ()
    offer_mark(state, "b", 12, None)
    assert released_items(release(state, limit=BIG)) == ["a10", "b11"]


def test_drop_source_marks_forgets_the_safe_time_too():
    state: MergeState[str] = new_merge(["a", "b"])
    offer_mark(state, "b", None, CAUGHT_UP)
    offer_record(state, "a", k(1), 1, "a1")
    offer_mark(state, "a", 2, None)
    drop_source_marks(state, ["b"])
    assert release(state, limit=BIG).items == ()
    offer_mark(state, "b", None, 1)
    assert released_items(release(state, limit=BIG)) == ["a1"]


# --- ties --------------------------------------------------------------------------------------


def test_record_at_a_sources_mark_time_is_not_released_by_that_mark():
    state: MergeState[str] = new_merge(["a", "b"])
    offer_record(state, "a", k(5, "z"), 1, "a5")
    offer_mark(state, "a", 6, None)
    offer_mark(state, "b", 5, None)
    assert not releasable(state, 5, 1)
    assert release(state, limit=BIG).items == ()
    # b's next record may carry the same time with a smaller tie-break: it goes first
    offer_record(state, "b", k(5, "a"), 2, "b5")
    offer_mark(state, "a", 6, None)
    offer_mark(state, "b", 6, None)
    assert released_items(release(state, limit=BIG)) == ["b5", "a5"]


def test_record_at_a_sources_mark_time_leaves_when_written_before_its_safe_time():
    state: MergeState[str] = new_merge(["a", "b"])
    offer_record(state, "a", k(5), 7, "a5")
    offer_mark(state, "a", 6, None)
    offer_mark(state, "b", 5, 6)
    assert release(state, limit=BIG).items == ()  # written at 7, after b's safe time 6
    offer_mark(state, "b", None, 7)  # written exactly at the safe time: covered
    assert released_items(release(state, limit=BIG)) == ["a5"]


def test_equal_time_and_id_leave_in_digest_order():
    state: MergeState[str] = new_merge(["a", "b"])
    offer_record(state, "a", k(5, "dup", b"\x09"), 1, "high")
    offer_record(state, "b", k(5, "dup", b"\x01"), 2, "low")
    offer_record(state, "a", k(5, "dup", b"\x05"), 3, "mid")
    caught_up(state, "a", "b")
    assert released_items(release(state, limit=BIG)) == ["low", "mid", "high"]


def test_identical_keys_leave_in_arrival_order_without_comparing_items():
    state: MergeState[object] = new_merge(["a", "b"])
    items = [object() for _ in range(6)]
    for i, item in enumerate(items):
        offer_record(state, "ab"[i % 2], k(7, "same", b"\x03"), 6 - i, item)
    offer_record(state, "a", k(6), 0, "first")  # mixed item types: still never compared
    caught_up(state, "a", "b")
    out = released_items(release(state, limit=BIG))
    assert out[0] == "first"
    assert all(got is want for got, want in zip(out[1:], items, strict=True))


def test_order_is_time_then_id_then_digest():
    state: MergeState[str] = new_merge(["a"])
    keys = [k(2, "b", b"\x00"), k(1, "z", b"\xff"), k(2, "a", b"\x09"), k(2, "a", b"\x01")]
    for key in keys:
        offer_record(state, "a", key, 0, repr(key))
    caught_up(state, "a")
    assert released_keys(release(state, limit=BIG)) == [
        k(1, "z", b"\xff"),
        k(2, "a", b"\x01"),
        k(2, "a", b"\x09"),
        k(2, "b", b"\x00"),
    ]


# --- marks never move back ---------------------------------------------------------------------


def test_offer_mark_with_older_values_keeps_the_newer():
    state: MergeState[str] = new_merge(["a"])
    offer_mark(state, "a", 10, 50)
    offer_mark(state, "a", 4, 20)
    offer_mark(state, "a", None, None)
    assert (state.marks["a"].time_us, state.marks["a"].safe_ms) == (10, 50)
    assert releasable(state, 9, 1000) and releasable(state, 1000, 50)
    assert not releasable(state, 10, 51)


def test_a_record_older_than_the_mark_does_not_lower_it():
    state: MergeState[str] = new_merge(["a", "b"])
    offer_mark(state, "a", 10, None)
    offer_record(state, "a", k(3), 1, "a3")
    assert state.marks["a"].time_us == 10
    offer_mark(state, "b", 20, None)
    offer_record(state, "a", k(8), 2, "a8")
    assert released_items(release(state, limit=BIG)) == ["a3", "a8"]


def test_a_record_does_not_touch_the_safe_time():
    state: MergeState[str] = new_merge(["a"])
    offer_mark(state, "a", None, 30)
    offer_record(state, "a", k(3), 99, "a3")
    assert state.marks["a"].safe_ms == 30
    assert state.marks["a"].time_us == 3


# --- the buffer limit --------------------------------------------------------------------------


def test_over_the_limit_the_oldest_leave_and_are_counted_as_forced():
    state: MergeState[str] = new_merge(["a", "b"])
    for t in (9, 3, 7, 1, 5):
        offer_record(state, "a", k(t), t, f"a{t}")
    # b never reported: nothing may leave by the rule
    rel = release(state, limit=2)
    assert released_items(rel) == ["a1", "a3", "a5"]
    assert rel.forced == 3
    assert state.buffered() == 2
    assert release(state, limit=2) == Release()


def test_forced_records_follow_the_ones_that_may_leave():
    state: MergeState[str] = new_merge(["a", "b"])
    for t in (1, 2, 3, 4, 5, 6):
        offer_record(state, "a", k(t), t, f"a{t}")
    offer_mark(state, "b", 3, None)
    rel = release(state, limit=1)
    assert released_items(rel) == ["a1", "a2", "a3", "a4", "a5"]
    assert rel.forced == 3
    assert state.buffered() == 1


def test_limit_zero_empties_the_buffer():
    state: MergeState[str] = new_merge(["a", "b"])
    offer_record(state, "a", k(2), 0, "a2")
    offer_record(state, "a", k(1), 0, "a1")
    rel = release(state, limit=0)
    assert released_items(rel) == ["a1", "a2"]
    assert rel.forced == 2


def test_within_the_limit_nothing_is_forced():
    state: MergeState[str] = new_merge(["a", "b"])
    offer_record(state, "a", k(2), 0, "a2")
    offer_record(state, "a", k(1), 0, "a1")
    assert release(state, limit=2) == Release()
    assert state.buffered() == 2


# --- interleavings (hypothesis) ----------------------------------------------------------------

_TIMES = st.integers(0, 12)
_IDS = st.sampled_from(["a", "b", "c"])
_DIGESTS = st.sampled_from([b"\x00", b"\x01", b"\x02"])
_KEYS = st.builds(OrderKey, _TIMES, _IDS, _DIGESTS)

Stream = list[tuple[OrderKey, int]]
"""One source's records in the order it delivers them: (key, written at ms)."""


@st.composite
def source_streams(draw: st.DrawFn) -> tuple[dict[str, Stream], bool]:
    """2-6 sources, each delivering keys in non-decreasing event time and written times in log
    order. With `written_in_key_order`, the producers wrote everything in key order (the only
    case where releasing by safe time keeps the key order); otherwise ties inside a source keep
    a random id order, written times are arbitrary and only marks may release anything."""
    n = draw(st.integers(2, 6))
    written_in_key_order = draw(st.booleans())
    streams: dict[str, Stream] = {}
    if written_in_key_order:
        keys = sorted(draw(st.lists(_KEYS, max_size=30)))
        steps = draw(st.lists(st.integers(0, 2), min_size=len(keys), max_size=len(keys)))
        written, now = [], 0
        for step in steps:
            now += step
            written.append(now)
        owners = draw(st.lists(st.integers(0, n - 1), min_size=len(keys), max_size=len(keys)))
        for i in range(n):
            streams[f"p{i}"] = [
                (key, w) for key, w, o in zip(keys, written, owners, strict=True) if o == i
            ]
    else:
        for i in range(n):
            keys = sorted(draw(st.lists(_KEYS, max_size=8)), key=lambda key: key.time_us)
            stamps = sorted(
                draw(st.lists(st.integers(0, 40), min_size=len(keys), max_size=len(keys)))
            )
            streams[f"p{i}"] = list(zip(keys, stamps, strict=True))
    return streams, written_in_key_order


@MAIN
@given(source_streams(), st.data())
def test_any_interleaving_releases_exactly_the_key_order(
    drawn: tuple[dict[str, Stream], bool], data: st.DataObject
) -> None:
    streams, safe_reports = drawn
    sources = sorted(streams)
    marks_per_source = {s: data.draw(st.integers(0, 3), label=f"marks {s}") for s in sources}
    ops = [("rec", s) for s in sources for _ in streams[s]]
    ops += [("mark", s) for s in sources for _ in range(marks_per_source[s])]
    schedule = data.draw(st.permutations(ops), label="schedule")

    state: MergeState[Item] = new_merge(sources)
    delivered = dict.fromkeys(sources, 0)
    mark: dict[str, int | None] = dict.fromkeys(sources)  # newest event time each one reported
    safe: dict[str, int | None] = dict.fromkeys(sources)  # newest safe time each one reported
    arrival: dict[Item, int] = {}
    out: list[tuple[OrderKey, Item]] = []
    written_of = {(s, i): w for s in sources for i, (_, w) in enumerate(streams[s])}

    def step() -> None:
        rel = release(state, limit=BIG)
        assert rel.forced == 0
        for key, item in rel.items:  # (2) every source is past it or has forwarded beyond it
            for s in sources:
                m, w = mark[s], safe[s]
                past = m is not None and key.time_us < m
                covered = w is not None and written_of[item] <= w
                assert past or covered, (s, m, w, key, item)
        out.extend(rel.items)
        assert release(state, limit=BIG) == Release()  # (4) idempotent

    def newest(old: int | None, new: int | None) -> int | None:
        return old if new is None or (old is not None and old >= new) else new

    for op, s in schedule:
        pending = streams[s][delivered[s] :]
        if op == "rec":
            key, written = pending[0]
            item = (s, delivered[s])
            delivered[s] += 1
            arrival[item] = len(arrival)
            offer_record(state, s, key, written, item)
            mark[s] = newest(mark[s], key.time_us)
        else:
            # a truthful report: no later than the next record's time, and short of the time
            # that record was written (everything written up to the safe time was forwarded)
            high = pending[0][0].time_us if pending else 15
            time_us = data.draw(st.none() | st.integers(-2, high), label=f"time {s}")
            safe_ms: int | None = None
            if safe_reports:
                top = pending[0][1] - 1 if pending else 100
                safe_ms = data.draw(st.none() | st.integers(-1, top), label=f"safe {s}")
            offer_mark(state, s, time_us, safe_ms)
            mark[s] = newest(mark[s], time_us)
            safe[s] = newest(safe[s], safe_ms)
        step()

    for s in data.draw(st.permutations(sources), label="caught-up order"):
        offer_mark(state, s, None, CAUGHT_UP)
        safe[s] = CAUGHT_UP
        step()

    everything = [(key, (s, i)) for s in sources for i, (key, _) in enumerate(streams[s])]
    # (1) key order, identical keys in arrival order; (3) same multiset, nothing lost or twice
    assert out == sorted(everything, key=lambda pair: (pair[0], arrival[pair[1]]))
    assert Counter(item for _, item in out) == Counter(item for _, item in everything)
    assert state.buffered() == 0


# A reference model of the whole contract, exercised with arbitrary operations: records out of
# order, untruthful reports, dropped marks, small limits. The merge must release what it does.


@dataclass
class _Model:
    expected: set[str]
    marks: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    buffer: list[tuple[OrderKey, int, int, Item]] = field(default_factory=list)
    seq: int = 0

    def mark(self, source: str, time_us: int | None, safe_ms: int | None) -> None:
        old_time, old_safe = self.marks.get(source, (None, None))
        self.marks[source] = (
            max((v for v in (old_time, time_us) if v is not None), default=None),
            max((v for v in (old_safe, safe_ms) if v is not None), default=None),
        )
        self.expected.add(source)

    def record(self, source: str, key: OrderKey, written_ms: int, item: Item) -> None:
        self.mark(source, key.time_us, None)
        self.seq += 1
        self.buffer.append((key, self.seq, written_ms, item))

    def may_leave(self, key: OrderKey, written_ms: int) -> bool:
        for s in self.expected:
            if s not in self.marks:
                return False
            time_us, safe_ms = self.marks[s]
            if time_us is not None and key.time_us < time_us:
                continue
            if safe_ms is not None and written_ms <= safe_ms:
                continue
            return False
        return True

    def release(self, limit: int) -> tuple[list[tuple[OrderKey, Item]], int]:
        self.buffer.sort()
        free = 0
        while free < len(self.buffer) and self.may_leave(*self.buffer[free][0:3:2]):
            free += 1
        forced = max(0, len(self.buffer) - free - limit)
        taken = self.buffer[: free + forced]
        del self.buffer[: free + forced]
        return [(key, item) for key, _, _, item in taken], forced


_SOURCES = ["p0", "p1"]
_FEW = st.integers(0, 6)
_OPS = st.one_of(
    st.tuples(
        st.just("rec"), st.sampled_from(_SOURCES), st.builds(OrderKey, _FEW, _IDS, _DIGESTS), _FEW
    ),
    st.tuples(st.just("mark"), st.sampled_from(_SOURCES), st.none() | _FEW, st.none() | _FEW),
    st.tuples(st.just("mark"), st.sampled_from(_SOURCES), st.none(), st.just(CAUGHT_UP)),
    st.tuples(st.just("drop"), st.lists(st.sampled_from(_SOURCES), max_size=1)),
)
_LIMITS = st.just(BIG) | st.integers(0, 4)


@MODEL
@given(
    st.sets(st.sampled_from(_SOURCES)), st.lists(st.tuples(_OPS, _LIMITS), min_size=2, max_size=30)
)
def test_the_merge_releases_what_the_contract_says(
    declared: set[str], ops: list[tuple[tuple[object, ...], int]]
) -> None:
    state: MergeState[Item] = new_merge(declared)
    model = _Model(set(declared))
    n = 0
    for op, limit in ops:  # each operation, then a release with some buffer limit
        match op:
            case ("rec", str(s), OrderKey() as key, int(written)):
                n += 1
                offer_record(state, s, key, written, (s, n))
                model.record(s, key, written, (s, n))
            case ("mark", str(s), t, w):
                assert t is None or isinstance(t, int)
                assert w is None or isinstance(w, int)
                offer_mark(state, s, t, w)
                model.mark(s, t, w)
            case ("drop", list(dropped)):
                drop_source_marks(state, [str(s) for s in dropped])
                for s in dropped:
                    model.marks.pop(str(s), None)
        assert state.expected == model.expected
        assert state.buffered() == len(model.buffer)
        rel = release(state, limit=limit)
        items, forced = model.release(limit)
        assert list(rel.items) == items
        assert rel.forced == forced
        assert state.buffered() <= limit
        assert released_keys(rel) == sorted(released_keys(rel))


# --- the total order itself --------------------------------------------------------------------


def _price(event_id: str, observed_at: str) -> bytes:
    body = {
        "type": "price_observed",
        "event_id": event_id,
        "material": "gallium",
        "observed_at": observed_at,
        "price": 1.0,
        "currency": "USD",
        "unit": "kg",
        "source": "lme",
    }
    return json.dumps(body).encode()


def test_to_micros_is_exact_across_offsets():
    plus14 = datetime(2023, 7, 3, 8, 0, tzinfo=timezone(timedelta(hours=14)))
    utc = datetime(2023, 7, 2, 18, 0, tzinfo=UTC)
    assert to_micros(plus14) == to_micros(utc) == 1_688_320_800_000_000
    assert to_micros(utc + timedelta(microseconds=1)) == to_micros(utc) + 1
    assert to_micros(datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) == -1


def test_order_key_of_the_same_instant_in_two_offsets_has_equal_time():
    east = _price("e1", "2023-07-03T08:00:00+14:00")
    utc = _price("e1", "2023-07-02T18:00:00Z")
    key_east = order_key(parse_event(east), east)
    key_utc = order_key(parse_event(utc), utc)
    assert key_east.time_us == key_utc.time_us == 1_688_320_800_000_000
    assert key_east.event_id == key_utc.event_id == "e1"
    assert key_east.digest != key_utc.digest  # different bytes


def test_order_key_orders_by_time_then_id_then_digest():
    early_z = _price("z", "2023-07-02T18:00:00.000001Z")
    late_a = _price("a", "2023-07-02T18:00:00.000002Z")
    same_a = _price("a", "2023-07-02T18:00:00.000001Z")
    keys = {raw: order_key(parse_event(raw), raw) for raw in (early_z, late_a, same_a)}
    assert keys[same_a] < keys[early_z] < keys[late_a]
    dup = _price("a", "2023-07-02T18:00:00.000001+00:00")  # same time and id, other bytes
    key_dup = order_key(parse_event(dup), dup)
    assert key_dup[:2] == keys[same_a][:2]
    assert (key_dup < keys[same_a]) == (key_dup.digest < keys[same_a].digest)
    assert len(key_dup.digest) == 8


def test_whitespace_around_the_bytes_does_not_change_the_digest():
    raw = _price("e1", "2023-07-02T18:00:00Z")
    padded = b" \t\r\n" + raw + b"\n\r\n  "
    assert digest_of(padded) == digest_of(raw)
    assert order_key(parse_event(padded), padded) == order_key(parse_event(raw), raw)
    assert digest_of(raw.replace(b", ", b",")) != digest_of(raw)  # inner bytes do count
