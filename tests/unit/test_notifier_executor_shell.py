"""The executor's delivery behaviours through fakes (tests/helpers/executor_fakes.py): the
retry schedule to its end, 410 and continuous failure disabling the endpoint, a deleted
subscription, Retry-After, per-material order. The broker tests keep the real-HTTP and crash
cases; these run in a fraction of a second each and pin the executor's own decisions.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mineral_sentinel.contracts.subscriptions import Subscription
from mineral_sentinel.contracts.webhooks import DeliveryTask
from mineral_sentinel.notifier.payloads import tasks_for
from mineral_sentinel.notifier.retry import MAX_ATTEMPTS, SVIX_SCHEDULE_S
from tests.helpers.executor_fakes import (
    Answer,
    MemoryLog,
    MemorySubscriptions,
    ScriptedEndpoints,
    deliver,
    executor_for,
)
from tests.helpers.notifier_data import subscription, warning_alert

pytestmark = pytest.mark.unit


def sub_for(*materials: str) -> Subscription:
    return subscription(datetime.now(UTC), materials=list(materials), min_severity="watch")


def alerts(sub: Subscription, material: str, sequences: range) -> list[DeliveryTask]:
    now = datetime.now(UTC)
    out: list[DeliveryTask] = []
    for sequence in sequences:
        out.extend(tasks_for(warning_alert(now, sequence, material), [sub], now, None))
    return out


def final_status(log: MemoryLog, task: DeliveryTask) -> str | None:
    attempts = log.attempts(task.delivery_id)
    return attempts[-1].status if attempts else None


async def test_a_delivery_failing_every_attempt_ends_failed_after_the_whole_schedule() -> None:
    sub = sub_for("gallium")
    endpoint = ScriptedEndpoints(default=Answer(500))
    log = MemoryLog()
    scale = 0.2 / sum(SVIX_SCHEDULE_S)  # the whole schedule in 0.2 s
    executor = executor_for(log, MemorySubscriptions(sub), endpoint, scale=scale)
    (task,) = alerts(sub, "gallium", range(1, 2))
    await deliver(executor, [task], lambda: final_status(log, task) == "failed", timeout=10)
    attempts = log.attempts(task.delivery_id)
    assert [a.attempt for a in attempts] == list(range(1, MAX_ATTEMPTS + 1))
    assert [a.status for a in attempts] == ["retrying"] * (MAX_ATTEMPTS - 1) + ["failed"]
    assert len(endpoint.requests) == MAX_ATTEMPTS
    assert {r.webhook_id for r in endpoint.requests} == {task.webhook_id}, "one webhook-id"
    assert executor.open == {}


async def test_410_disables_the_subscription_and_later_deliveries_are_not_attempted() -> None:
    sub = sub_for("gallium")
    endpoint = ScriptedEndpoints().then(Answer(410))
    subscriptions = MemorySubscriptions(sub)
    log = MemoryLog()
    executor = executor_for(log, subscriptions, endpoint)
    first, second = alerts(sub, "gallium", range(1, 3))
    await deliver(executor, [first, second], lambda: final_status(log, second) is not None)
    stored = subscriptions.get(sub.id)
    assert stored is not None and not stored.enabled
    assert stored.disabled_reason == "endpoint answered 410 Gone"
    assert final_status(log, first) == "disabled"
    (skipped,) = log.attempts(second.delivery_id)
    assert (skipped.status, skipped.attempt) == ("disabled", 0), "recorded, never sent"
    assert len(endpoint.requests) == 1


async def test_an_endpoint_failing_continuously_is_disabled_after_the_period() -> None:
    sub = sub_for("gallium")
    endpoint = ScriptedEndpoints(default=Answer(503))
    subscriptions = MemorySubscriptions(sub)
    log = MemoryLog()
    # Schedule 0, 5 ms, 300 ms, 1.8 s: the 300 ms attempt is past the 0.2 s failing period.
    executor = executor_for(log, subscriptions, endpoint, scale=0.001, disable_after_s=0.2)
    (task,) = alerts(sub, "gallium", range(1, 2))
    await deliver(executor, [task], lambda: final_status(log, task) == "disabled")
    attempts = log.attempts(task.delivery_id)
    assert [a.status for a in attempts] == ["retrying", "retrying", "disabled"]
    assert attempts[-1].failing_since == attempts[0].at, "the run of failures began at the first"
    stored = subscriptions.get(sub.id)
    assert stored is not None and not stored.enabled
    assert stored.disabled_reason is not None and "failing continuously" in stored.disabled_reason


async def test_a_deleted_subscription_fails_its_delivery_without_sending() -> None:
    sub = sub_for("gallium")
    endpoint = ScriptedEndpoints()
    log = MemoryLog()
    executor = executor_for(log, MemorySubscriptions(), endpoint)  # deleted before sending
    (task,) = alerts(sub, "gallium", range(1, 2))
    await deliver(executor, [task], lambda: final_status(log, task) is not None)
    (only,) = log.attempts(task.delivery_id)
    assert (only.status, only.attempt, only.error) == ("failed", 0, "subscription deleted")
    assert endpoint.requests == []


@pytest.mark.parametrize("recovery_check_s", [0.0, 0.1])
async def test_retry_after_postpones_the_next_attempt_even_for_recovery_checks(
    recovery_check_s: float,
) -> None:
    sub = sub_for("gallium")
    endpoint = ScriptedEndpoints().then(Answer(503, (("retry-after", "1"),)))
    log = MemoryLog()
    executor = executor_for(
        log, MemorySubscriptions(sub), endpoint, recovery_check_s=recovery_check_s
    )
    (task,) = alerts(sub, "gallium", range(1, 2))
    await deliver(executor, [task], lambda: final_status(log, task) == "succeeded")
    refused, accepted = endpoint.requests
    assert accepted.at - refused.at >= 1.0, "Retry-After: 1 waited out (the schedule says 5 ms)"


async def test_each_material_arrives_in_order_through_failures() -> None:
    sub = sub_for("gallium", "germanium")
    endpoint = ScriptedEndpoints().then(Answer(500), Answer(502), Answer(204), Answer(503))
    log = MemoryLog()
    executor = executor_for(log, MemorySubscriptions(sub), endpoint)
    tasks = [
        task
        for sequence in range(1, 6)
        for material in ("gallium", "germanium")
        for task in alerts(sub, material, range(sequence, sequence + 1))
    ]
    await deliver(executor, tasks, lambda: len(endpoint.accepted()) == len(tasks))
    for material in ("gallium", "germanium"):
        sequences = [
            r.data["sequence"] for r in endpoint.accepted() if r.data["material"] == material
        ]
        assert sequences == [1, 2, 3, 4, 5], f"{material} in alert order"
    ids = [r.webhook_id for r in endpoint.accepted()]
    assert len(ids) == len(set(ids)), "each message accepted once"


async def test_a_lane_survives_outcomes_that_cannot_be_written() -> None:
    """The log rejects the first two outcomes (broker unreachable): the lane pauses and sends
    its head again (same webhook-id, at least once), then the rest, instead of dying."""
    sub = sub_for("gallium")
    endpoint = ScriptedEndpoints()
    log = MemoryLog(failures=2)
    executor = executor_for(log, MemorySubscriptions(sub), endpoint)
    tasks = alerts(sub, "gallium", range(1, 4))
    await deliver(
        executor, tasks, lambda: all(final_status(log, task) == "succeeded" for task in tasks)
    )
    sent = [r.webhook_id for r in endpoint.requests]
    assert sent == [tasks[0].webhook_id] * 3 + [tasks[1].webhook_id, tasks[2].webhook_id]
    assert executor.open == {}
