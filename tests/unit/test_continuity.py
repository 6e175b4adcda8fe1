"""The fold's check that no by-material envelope is skipped (risk_service/continuity.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mineral_sentinel.risk_service.continuity import ATTEMPTS, RETRY_S, Continuity, Verdict
from tests.helpers.clock import Clock

pytestmark = pytest.mark.unit


def test_in_order_and_copies_read_again_are_applied() -> None:
    continuity = Continuity()
    continuity.expect(0, 10)
    assert [continuity.check(0, o) for o in (10, 11, 12)] == [Verdict.APPLY] * 3
    assert continuity.check(0, 11) is Verdict.APPLY  # a copy read again
    assert continuity.expected(0) == 13


def test_a_hole_after_the_assignment_is_sought_back_then_filled() -> None:
    """The hand-over that lost envelopes: committed 407, the first envelope read is 522."""
    clock = Clock()
    continuity = Continuity(clock=clock)
    continuity.expect(1, 407)
    assert continuity.check(1, 522) is Verdict.SEEK
    assert continuity.check(1, 523) is Verdict.WAIT  # already queued behind it
    assert continuity.check(1, 407) is Verdict.APPLY  # the re-read arrives
    assert continuity.expected(1) == 408
    assert continuity.check(1, 409) is Verdict.SEEK  # a new hole is a new seek


def test_a_hole_that_stays_is_sought_again_then_accepted() -> None:
    clock = Clock()
    continuity = Continuity(clock=clock)
    continuity.expect(2, 0)
    verdicts = [continuity.check(2, 50)]
    for _ in range(ATTEMPTS):
        clock.now += RETRY_S / 2
        verdicts.append(continuity.check(2, 50))
        clock.now += RETRY_S
        verdicts.append(continuity.check(2, 50))
    seeks = verdicts.count(Verdict.SEEK)
    assert seeks == ATTEMPTS and verdicts[-1] is Verdict.ACCEPT_HOLE
    assert continuity.expected(2) == 51


def test_unknown_start_is_learnt_from_the_first_envelope_and_partitions_are_separate() -> None:
    continuity = Continuity()
    continuity.expect(0, None)
    assert continuity.check(0, 99) is Verdict.APPLY
    assert continuity.check(3, 5) is Verdict.APPLY  # never assigned explicitly: learnt too
    continuity.expect(0, 7)
    assert continuity.check(0, 100) is Verdict.SEEK
    continuity.forget(0)
    assert continuity.expected(0) is None


@given(st.integers(0, 1000), st.lists(st.integers(0, 30), min_size=1, max_size=60))
def test_nothing_past_a_hole_is_applied_before_the_hole_is_read(
    start: int, deliveries: list[int]
) -> None:
    """Whatever the delivery order, what is applied in order never skips an offset: every
    applied offset above the start has its predecessor applied before it (no ACCEPT_HOLE
    without the clock moving)."""
    continuity = Continuity(clock=lambda: 0.0)
    continuity.expect(0, start)
    applied: set[int] = set()
    for delta in deliveries:
        offset = start + delta
        verdict = continuity.check(0, offset)
        assert verdict is not Verdict.ACCEPT_HOLE
        if verdict is Verdict.APPLY:
            assert offset == start or offset - 1 in applied or offset < max(applied, default=-1)
            applied.add(offset)
    assert continuity.expected(0) == start + len(
        [o for o in range(start, start + 31) if all(p in applied for p in range(start, o + 1))]
    )
