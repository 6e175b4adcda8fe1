"""Early attempts when an endpoint recovers: the pure turn rule, the early verdict, the fold."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mineral_sentinel.contracts.webhooks import DeliveryTask
from mineral_sentinel.notifier.decisions import (
    AttemptResult,
    DeliveryBook,
    decide,
    decide_early,
)
from mineral_sentinel.notifier.payloads import probe_task
from mineral_sentinel.notifier.recovery import Recovery, next_turn
from mineral_sentinel.notifier.retry import MAX_ATTEMPTS, RetryPolicy
from tests.helpers.notifier_data import subscription

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
NO_JITTER = RetryPolicy(jitter=0.0)
FAIL = AttemptResult(500, "HTTP 500", 3.0)
OK = AttemptResult(200, "", 2.0)
DAY = 86400.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def task() -> DeliveryTask:
    return probe_task(subscription(T0), T0, "n1")


def pause_state(recovery: Recovery) -> tuple[datetime | None, datetime | None]:
    return recovery.last_success, recovery.not_before


# ----------------------------------------------------------------------------- the turn rule


def test_due_on_schedule_attempts_whatever_the_endpoint_state() -> None:
    recovery = Recovery(5.0, checking=True, not_before=at(100))
    assert next_turn(at(10), at(10), at(0), recovery).action == "attempt"


def test_interval_zero_waits_for_the_schedule_only() -> None:
    recovery = Recovery(0.0, last_success=at(50))
    turn = next_turn(at(60), at(300), at(5), recovery)
    assert (turn.action, turn.wait_s, turn.wakeable) == ("wait", 240.0, False)


def test_one_delivery_is_never_tried_early_twice_within_the_interval() -> None:
    recovery = Recovery(5.0, last_success=at(9))
    turn = next_turn(at(8), at(300), at(5), recovery)
    assert (turn.action, turn.wait_s, turn.wakeable) == ("wait", 2.0, False)


def test_a_success_after_the_last_attempt_lets_the_head_go_early() -> None:
    recovery = Recovery(5.0, last_success=at(20), not_before=at(100))
    assert next_turn(at(21), at(300), at(5), recovery).action == "early"
    assert next_turn(at(21), at(300), at(20.5), recovery).action == "wait", "failed after it"


def test_one_check_at_a_time_and_not_before_the_pause() -> None:
    recovery = Recovery(5.0, not_before=at(10))
    waiting = next_turn(at(7), at(300), at(0), recovery)
    assert (waiting.action, waiting.wait_s, waiting.wakeable) == ("wait", 3.0, True)
    assert next_turn(at(10), at(300), at(0), recovery).action == "check"
    assert recovery.checking
    other = next_turn(at(10), at(300), at(4), recovery)
    assert (other.action, other.wait_s, other.wakeable) == ("wait", 5.0, True)


def test_waits_never_pass_the_scheduled_time() -> None:
    recovery = Recovery(5.0, not_before=at(100))
    assert next_turn(at(20), at(22), at(5), recovery).wait_s == 2.0
    recovery.checking = True
    assert next_turn(at(20), at(21), at(5), recovery).wait_s == 1.0


def test_observe_pauses_checks_after_a_failure_and_honours_retry_after() -> None:
    recovery = Recovery(5.0)
    recovery.observe(at(10), succeeded=False)
    assert recovery.not_before == at(15)
    recovery.observe(at(11), succeeded=False, retry_after_s=60.0)
    assert recovery.not_before == at(71)
    recovery.observe(at(12), succeeded=False)
    assert recovery.not_before == at(71), "a later failure never shortens a Retry-After"
    recovery.observe(at(13), succeeded=True)
    assert pause_state(recovery) == (at(13), None)


# ----------------------------------------------------------------------------- verdicts and fold


def test_a_failed_early_attempt_keeps_the_schedule_and_is_numbered_in_sequence() -> None:
    book = DeliveryBook()
    t = task()
    book.apply(t, 0)
    first = decide(t, 1, FAIL, at(0), NO_JITTER, 0.5, None, DAY)
    book.apply(first.record)
    second = decide(t, 2, FAIL, at(5), NO_JITTER, 0.5, at(0), DAY)
    state = book.apply(second.record)
    assert state is not None and state.next_attempt_at == at(305)
    early = decide_early(t, 3, FAIL, at(12), state.next_attempt_at, at(0), DAY)
    assert (early.outcome, early.record.early, early.record.status) == (
        "early_retry",
        True,
        "retrying",
    )
    state = book.apply(early.record)
    assert state is not None
    assert state.next_attempt_at == at(305), "the scheduled retry stays"
    assert (state.attempts_made, state.scheduled_attempts) == (3, 2)
    assert state.last_attempt_at == at(12)
    assert book.apply(early.record) is state and state.attempts_made == 3, "idempotent"
    third = decide(t, 4, FAIL, at(305), NO_JITTER, 0.5, at(0), DAY, scheduled=3)
    assert third.record.next_attempt_at == at(305 + 1800), "the schedule's 3rd step, not 4th"
    out = state.to_out()
    assert [a.early for a in out.attempts] == [False, False, True]


def test_an_early_success_410_or_timeout_is_final_like_a_scheduled_one() -> None:
    t = task()
    ok = decide_early(t, 3, OK, at(12), at(305), at(0), DAY)
    assert (ok.outcome, ok.record.status, ok.record.early) == ("success", "succeeded", True)
    gone = decide_early(t, 3, AttemptResult(410, "gone", 1.0), at(12), at(305), at(0), DAY)
    assert (gone.outcome, gone.disable_reason) == ("disabled", "endpoint answered 410 Gone")
    late = decide_early(t, 3, FAIL, at(DAY + 1), at(DAY + 300), at(0), DAY)
    assert late.outcome == "disabled"


def test_early_failures_never_exhaust_the_schedule() -> None:
    book = DeliveryBook()
    t = task()
    state = book.apply(t, 0)
    assert state is not None
    now = 0.0
    for _ in range(3 * MAX_ATTEMPTS):
        now += 6.0
        verdict = decide_early(
            t, state.attempts_made + 1, FAIL, at(now), state.next_attempt_at, at(0), DAY
        )
        book.apply(verdict.record)
    assert state.status == "retrying" and state.scheduled_attempts == 0
    final = decide(t, state.attempts_made + 1, FAIL, at(now), NO_JITTER, 0.5, at(0), DAY, 1)
    assert final.outcome == "retry", "the first scheduled attempt still has the whole schedule"


# ----------------------------------------------------------------------------- a simulated endpoint

outcomes = st.lists(st.tuples(st.floats(0.01, 30.0), st.booleans()), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(steps=outcomes, interval=st.sampled_from([1.0, 5.0, 30.0]))
def test_one_delivery_goes_early_at_most_once_per_interval_and_never_loses_its_schedule(
    steps: list[tuple[float, bool]], interval: float
) -> None:
    """Drive one waiting head through arbitrary other-lane outcomes: its early attempts are at
    least `interval` apart, and while they fail its scheduled retry stays where it was."""
    recovery = Recovery(interval)
    t = task()
    book = DeliveryBook()
    state = book.apply(t, 0)
    assert state is not None
    book.apply(decide(t, 1, FAIL, at(0), NO_JITTER, 0.5, None, 10 * DAY).record)
    book.apply(decide(t, 2, FAIL, at(5), NO_JITTER, 0.5, at(0), 10 * DAY).record)
    scheduled = state.next_attempt_at
    now = 5.0
    early_at: list[datetime] = []
    for gap, other_succeeded in steps:
        now += gap
        recovery.observe(at(now), other_succeeded)  # another lane's attempt ends
        turn = next_turn(at(now), state.due_at(), state.last_attempt_at, recovery)
        if turn.action in ("early", "check"):
            early_at.append(at(now))  # as the log has it (microseconds)
            verdict = decide_early(
                t, state.attempts_made + 1, FAIL, at(now), state.next_attempt_at, at(0), 10 * DAY
            )
            book.apply(verdict.record)
            recovery.observe(at(now), succeeded=False)
            recovery.checking = False
        elif turn.action == "attempt":
            break
        assert state.next_attempt_at == scheduled
    assert all((b - a).total_seconds() >= interval for a, b in itertools.pairwise(early_at))
    assert state.scheduled_attempts == 2
