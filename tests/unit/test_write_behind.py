"""Write-behind of table values: a record applied to an unwritten slot is handed back (to be
counted off its envelope) only by the write that covers it, never earlier, never twice
(see risk_service/write_behind.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mineral_sentinel.risk_service.slot import new_slot
from mineral_sentinel.risk_service.write_behind import WriteBehind

pytestmark = pytest.mark.unit


def test_a_slot_is_due_only_once_its_oldest_record_waited_the_interval() -> None:
    behind: WriteBehind[str] = WriteBehind(interval_s=1.0)
    first = new_slot("gallium")
    behind.applied("gallium", 0, first, "e0", 10.0, [], [("gallium", "p/0@1")])
    assert behind.due(10.9) == []
    newer = new_slot("gallium")
    behind.applied("gallium", 0, newer, "e1", 10.95, [], [("gallium", "p/0@2")])
    assert behind.slot("gallium") is newer
    assert behind.due(11.0) == ["gallium"]  # measured from the first, not the latest, record
    entry = behind.written("gallium")
    assert entry is not None and entry.via == "e1" and entry.slot is newer
    assert entry.applied == [("gallium", "p/0@1"), ("gallium", "p/0@2")]
    assert behind.slot("gallium") is None and behind.written("gallium") is None
    assert len(behind) == 0


def test_interval_zero_writes_after_every_batch() -> None:
    behind: WriteBehind[str] = WriteBehind(interval_s=0.0)
    behind.applied("cobalt", 2, new_slot("cobalt"), "e", 5.0, [], [])
    assert behind.due(5.0) == ["cobalt"]


def test_steps_since_the_stored_value_accumulate_in_order() -> None:
    behind: WriteBehind[str] = WriteBehind(interval_s=1.0)
    slot = new_slot("lithium")
    a, b, c = object(), object(), object()
    behind.applied("lithium", 0, slot, "e", 0.0, [a], [])  # type: ignore[list-item]
    behind.applied("lithium", 0, slot, "e", 0.1, [b, c], [])  # type: ignore[list-item]
    assert behind.steps("lithium") == [a, b, c]
    assert behind.steps("tungsten") == []


def test_a_lost_partition_drops_its_slots_and_keeps_the_others() -> None:
    behind: WriteBehind[str] = WriteBehind(interval_s=1.0)
    behind.applied("gallium", 0, new_slot("gallium"), "e", 0.0, [], [])
    behind.applied("cobalt", 1, new_slot("cobalt"), "e", 0.0, [], [])
    assert behind.forget_partitions({1}) == ["gallium"]
    assert behind.materials() == ["cobalt"] and behind.slot("gallium") is None


operations = st.lists(
    st.one_of(
        st.tuples(st.just("apply"), st.sampled_from(["ga", "co", "li"]), st.integers(0, 1)),
        st.tuples(st.just("write"), st.floats(0.0, 0.5), st.just(0)),
        st.tuples(st.just("lose"), st.integers(0, 1), st.just(0)),
    ),
    max_size=60,
)


@given(operations, st.floats(0.0, 1.0))
def test_every_applied_record_is_written_or_dropped_exactly_once_never_early(
    ops: list[tuple[str, object, int]], interval: float
) -> None:
    behind: WriteBehind[int] = WriteBehind(interval_s=interval)
    now = 0.0
    counter = 0
    applied_at: dict[tuple[str, str], float] = {}
    partition_of: dict[str, int] = {}
    handed_back: list[tuple[str, str]] = []
    dropped: list[tuple[str, str]] = []
    pending: dict[str, list[tuple[str, str]]] = {}
    for kind, arg, partition in ops:
        if kind == "apply":
            material = str(arg)
            part = partition_of.setdefault(material, partition)
            ident = (material, f"src/0@{counter}")
            counter += 1
            applied_at[ident] = now
            pending.setdefault(material, []).append(ident)
            behind.applied(material, part, new_slot(material), counter, now, [], [ident])
        elif kind == "write":
            now += float(arg)  # type: ignore[arg-type]
            for material in behind.due(now):
                entry = behind.written(material)
                assert entry is not None
                oldest = min(applied_at[i] for i in entry.applied)
                assert now - oldest >= interval  # never before the interval is up
                assert entry.applied == pending.pop(material)  # in the order applied
                handed_back.extend(entry.applied)
        else:
            for material in behind.forget_partitions({1 - int(arg)}):  # type: ignore[call-overload]
                dropped.extend(pending.pop(material))
                del partition_of[material]
    still = [i for m in behind.materials() for i in pending[m]]
    assert sorted(handed_back + dropped + still) == sorted(applied_at)
    assert len(set(handed_back + dropped)) == len(handed_back + dropped)
