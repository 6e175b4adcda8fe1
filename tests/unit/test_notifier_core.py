"""The notifier's pure core: retry schedule, Retry-After, matching, payload ids, attempt
decisions (success, retry, exhaustion, 410, continuous failure) and the delivery-log fold."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mineral_sentinel.contracts.outputs import Alert, StockpileRecommendation
from mineral_sentinel.contracts.subscriptions import Subscription
from mineral_sentinel.notifier.decisions import AttemptResult, DeliveryBook, decide, not_attempted
from mineral_sentinel.notifier.matching import event_type_of, matches
from mineral_sentinel.notifier.payloads import probe_task, replay_task, tasks_for
from mineral_sentinel.notifier.retry import (
    MAX_ATTEMPTS,
    SVIX_SCHEDULE_S,
    RetryPolicy,
    next_delay,
    parse_retry_after,
)
from tests.helpers.notifier_data import subscription, warning_alert

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
NO_JITTER = RetryPolicy(scale=1.0, jitter=0.0)


def sub(sub_id: str = "sub_aaaaaaaa", **changes: object) -> Subscription:
    return subscription(T0).model_copy(update={"id": sub_id, **changes})


def alert(sequence: int = 1, **changes: object) -> Alert:
    updated = T0 + timedelta(minutes=sequence)
    return warning_alert(T0, sequence, updated_at=updated).model_copy(update=changes)


def recommendation() -> StockpileRecommendation:
    return StockpileRecommendation(
        recommendation_id="rec-1",
        material="germanium",
        action="release",
        quantity_t=12.0,
        days_of_cover_before=40.0,
        days_of_cover_after=30.0,
        horizon_days=30,
        rationale="shortfall",
        alert_id=None,
        issued_at=T0,
        valid_until=T0 + timedelta(days=30),
    )


# ----------------------------------------------------------------------------- retry


def test_schedule_is_svix_and_scales() -> None:
    assert SVIX_SCHEDULE_S == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    delays = [next_delay(n, NO_JITTER, 0.5) for n in range(1, MAX_ATTEMPTS)]
    assert delays == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert next_delay(MAX_ATTEMPTS, NO_JITTER, 0.5) is None
    assert next_delay(1, RetryPolicy(scale=0.01, jitter=0.0), 0.5) == pytest.approx(0.05)


def test_jitter_bounds_come_from_the_injected_sample() -> None:
    policy = RetryPolicy(jitter=0.2)
    assert next_delay(2, policy, 0.0) == pytest.approx(240.0)
    assert next_delay(2, policy, 0.5) == pytest.approx(300.0)
    assert next_delay(2, policy, 0.999999) == pytest.approx(360.0, rel=1e-5)
    with pytest.raises(ValueError):
        next_delay(2, policy, 1.0)


def test_retry_after_postpones_up_to_the_cap_and_never_hurries() -> None:
    policy = RetryPolicy(scale=0.001, jitter=0.0, retry_after_max_s=60.0)
    assert next_delay(1, policy, 0.5, retry_after_s=2.0) == pytest.approx(2.0)
    assert next_delay(1, policy, 0.5, retry_after_s=10_000.0) == pytest.approx(60.0)
    assert next_delay(3, NO_JITTER, 0.5, retry_after_s=1.0) == pytest.approx(1800.0)


def test_parse_retry_after() -> None:
    assert parse_retry_after("7", T0) == 7.0
    assert parse_retry_after("Sun, 01 Nov 2026 12:00:30 GMT", T0) == 30.0
    assert parse_retry_after("Sun, 01 Nov 2026 11:00:00 GMT", T0) == 0.0
    assert parse_retry_after("soon", T0) is None
    assert parse_retry_after(None, T0) is None


# ----------------------------------------------------------------------------- matching


def test_matching_event_type_material_and_severity() -> None:
    everything = sub()
    assert matches(everything, "alert.firing", "gallium", "warning")
    assert not matches(everything, "alert.firing", "gallium", "watch"), "default min is warning"
    assert matches(everything, "stockpile.recommendation", "germanium", None)
    only_gallium = sub(materials=["gallium"])
    assert not matches(only_gallium, "alert.firing", "germanium", "critical")
    resolved_only = sub(event_types=["alert.resolved"])
    assert not matches(resolved_only, "alert.firing", "gallium", "critical")
    assert matches(resolved_only, "alert.resolved", "gallium", "critical")
    assert not matches(sub(enabled=False), "alert.firing", "gallium", "critical")
    assert event_type_of(alert(status="resolved")) == "alert.resolved"
    assert event_type_of(recommendation()) == "stockpile.recommendation"


def test_tasks_share_body_and_get_stable_distinct_ids() -> None:
    subs = [sub("sub_aaaaaaaa"), sub("sub_bbbbbbbb"), sub("sub_cccccccc", materials=["cobalt"])]
    tasks = tasks_for(alert(3), subs, T0, None)
    assert [t.subscription_id for t in tasks] == ["sub_aaaaaaaa", "sub_bbbbbbbb"]
    assert tasks[0].body == tasks[1].body and tasks[0].webhook_id != tasks[1].webhook_id
    again = tasks_for(alert(3), subs, T0 + timedelta(hours=1), None)
    assert [t.webhook_id for t in again] == [t.webhook_id for t in tasks], "stable across replays"
    assert tasks_for(alert(4), subs, T0, None)[0].webhook_id != tasks[0].webhook_id
    body = json.loads(tasks[0].body)
    assert body["type"] == "alert.firing" and body["data"]["sequence"] == 3
    assert set(body) == {"type", "timestamp", "data"}
    assert tasks[0].ordering_key == "gallium"


def test_test_and_replay_tasks() -> None:
    test = probe_task(sub(), T0, "n1")
    assert json.loads(test.body)["type"] == "subscription.test"
    assert probe_task(sub(), T0, "n2").webhook_id != test.webhook_id
    replay = replay_task(test, T0 + timedelta(hours=1))
    assert replay.webhook_id == test.webhook_id and replay.body == test.body
    assert replay.delivery_id != test.delivery_id and replay.replay_of == test.delivery_id


# ----------------------------------------------------------------------------- decisions

TASK = tasks_for(alert(), [sub()], T0, None)[0]
POLICY = RetryPolicy(scale=1.0, jitter=0.0)
DAY = 86400.0


def verdict(code: int | None, attempt: int = 1, since: datetime | None = None, **kw: float):  # type: ignore[no-untyped-def]
    result = AttemptResult(code, "" if code else "timeout", 12.5, kw.get("retry_after"))
    return decide(TASK, attempt, result, T0, POLICY, 0.5, since, 5 * DAY)


def test_success_clears_failure_run() -> None:
    v = verdict(204, since=T0 - timedelta(hours=1))
    assert v.outcome == "success" and v.record.status == "succeeded"
    assert v.record.failing_since is None and v.disable_reason is None


def test_failure_schedules_next_attempt_and_starts_failure_run() -> None:
    v = verdict(500)
    assert v.outcome == "retry" and v.record.next_attempt_at == T0 + timedelta(seconds=5)
    assert v.record.failing_since == T0
    t = verdict(None, attempt=2, since=T0 - timedelta(minutes=1))
    assert t.record.error == "timeout" and t.record.failing_since == T0 - timedelta(minutes=1)
    assert t.record.next_attempt_at == T0 + timedelta(minutes=5)


def test_redirect_is_a_failure() -> None:
    assert verdict(302).outcome == "retry"


def test_exhaustion_fails_and_410_or_long_failure_disables() -> None:
    assert verdict(503, attempt=MAX_ATTEMPTS).outcome == "failed"
    gone = verdict(410)
    assert gone.outcome == "disabled" and gone.disable_reason and "410" in gone.disable_reason
    stale = verdict(500, since=T0 - timedelta(days=5))
    assert stale.outcome == "disabled" and stale.disable_reason is not None
    assert verdict(500, since=T0 - timedelta(days=4)).outcome == "retry"


def test_fold_is_idempotent_and_tracks_state() -> None:
    book = DeliveryBook()
    book.apply(TASK, offset=7)
    book.apply(TASK, offset=9)
    first = verdict(500).record
    second = verdict(200, attempt=2, since=T0).record
    for record in (first, first, second, second):
        book.apply(record)
    state = book.get(TASK.subscription_id, TASK.delivery_id)
    assert state is not None and state.offset == 7
    assert state.status == "succeeded" and state.attempts_made == 2
    assert book.failing_since[TASK.subscription_id] is None
    out = state.to_out()
    assert [a.status_code for a in out.attempts] == [500, 200]


def test_not_attempted_terminal_record() -> None:
    book = DeliveryBook()
    book.apply(TASK)
    book.apply(not_attempted(TASK, 0, T0, "disabled", "endpoint disabled", None))
    state = book.get(TASK.subscription_id, TASK.delivery_id)
    assert state is not None and state.terminal and state.attempts_made == 0


def test_trim_keeps_open_deliveries() -> None:
    book = DeliveryBook()
    tasks = [tasks_for(alert(n), [sub()], T0, None)[0] for n in range(1, 6)]
    for task in tasks:
        book.apply(task)
    for task in tasks[:3]:
        book.apply(decide(task, 1, AttemptResult(200, "", 1.0), T0, POLICY, 0.5, None, DAY).record)
    book.trim(TASK.subscription_id, keep=2)
    left = list(book.by_subscription[TASK.subscription_id])
    assert left == [tasks[3].delivery_id, tasks[4].delivery_id]
