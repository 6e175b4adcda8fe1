"""In-order release of held envelopes: faust must only ever see a contiguous acknowledged
prefix of each partition (see risk_service/acks.py)."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mineral_sentinel.risk_service.acks import InOrderRelease

pytestmark = pytest.mark.unit


def test_an_envelope_done_early_waits_for_the_one_read_before_it() -> None:
    releases = InOrderRelease()
    first = releases.hold(0, "e0", remaining=1)
    releases.hold(0, "e1", remaining=0)
    assert releases.releasable(0) == []
    first.remaining -= 1
    assert [held.event for held in releases.releasable(0)] == ["e0", "e1"]
    assert releases.held(0) == 0


def test_partitions_are_independent_and_a_forgotten_one_is_never_released() -> None:
    releases = InOrderRelease()
    releases.hold(0, "a", remaining=1)
    releases.hold(1, "b", remaining=0)
    assert [held.event for held in releases.releasable(1)] == ["b"]
    releases.forget(0)
    assert releases.releasable(0) == [] and releases.held(0) == 0


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3)), max_size=40), st.randoms())
def test_released_envelopes_are_always_the_done_prefix_in_read_order(
    envelopes: list[tuple[int, int]], rng: random.Random
) -> None:
    """Whatever order records are applied in, what has been released of a partition is exactly
    its envelopes in read order up to the first one not done."""
    releases = InOrderRelease()
    held = [releases.hold(p, (p, i), remaining=n) for i, (p, n) in enumerate(envelopes)]
    pending = [h for h in held for _ in range(h.remaining)]
    rng.shuffle(pending)
    released: dict[int, list[object]] = {0: [], 1: [], 2: []}
    for holder in [None, *pending]:
        if holder is not None:
            holder.remaining -= 1
        for partition, got in released.items():
            got.extend(h.event for h in releases.releasable(partition))
            mine = [h for h in held if h.event[0] == partition]
            done = list(itertools.takewhile(lambda h: h.remaining == 0, mine))
            assert got == [h.event for h in done]
    assert all(releases.held(p) == 0 for p in released)
