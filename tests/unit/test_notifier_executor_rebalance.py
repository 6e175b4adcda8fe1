"""The executor across a rebalance. aiokafka makes an assignment live before it calls
`on_partitions_assigned`, so records of a newly assigned partition can be folded while that
callback still awaits the broker: their lanes must wait for the partition's catch-up and then
send, not give up as if the partition had been revoked (the scale-out failover stall). And a
task written twice whose original was delivered below the committed offset is not resent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from aiokafka import TopicPartition

from mineral_sentinel.contracts.webhooks import DeliveryAttempt, DeliveryTask
from mineral_sentinel.notifier.decisions import DeliveryState
from mineral_sentinel.notifier.executor import Endpoint, Executor
from mineral_sentinel.notifier.follower import FollowerFailed
from mineral_sentinel.notifier.payloads import tasks_for
from mineral_sentinel.notifier.retry import RetryPolicy
from tests.helpers.notifier_data import subscription, warning_alert
from tests.helpers.polling import async_wait_until

pytestmark = pytest.mark.unit

TOPIC = "t.sentinel.deliveries.v1"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class GatedConsumer:
    """Just the consumer calls the executor makes; `end_offsets` blocks until released."""

    def __init__(self, end: int) -> None:
        self.end = end
        self.asked_for_ends = asyncio.Event()
        self.release = asyncio.Event()

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        self.asked_for_ends.set()
        await self.release.wait()
        return {tp: self.end for tp in tps}

    async def committed(self, tp: TopicPartition) -> int | None:
        return None

    async def position(self, tp: TopicPartition) -> int:
        return self.end  # everything below `end` has been folded by the test

    async def getmany(self, **_: Any) -> dict[TopicPartition, list[Any]]:
        await asyncio.sleep(0)  # an empty poll; lets the other tasks run
        return {}


class RecordingExecutor(Executor):
    """Sending replaced by a log of what would be sent (succeeds at once)."""

    def __init__(self) -> None:
        super().__init__(
            bootstrap="unused:9092",
            topic=TOPIC,
            group_id="g",
            delivery_log=cast(Any, None),
            subscriptions=cast(Any, None),
            poster=cast(Any, None),
            policy=RetryPolicy(),
            timeout_s=1.0,
            disable_after_s=3600.0,
            concurrency=1,
            clock=lambda: T0,
        )
        self.sent: list[str] = []

    async def _attempt(
        self, state: DeliveryState, endpoint: Endpoint, turn: str = "attempt"
    ) -> None:
        self.sent.append(state.task.delivery_id)
        self._apply(succeeded(state.task))


def tasks(count: int) -> list[DeliveryTask]:
    sub = subscription(T0)
    out = []
    for sequence in range(1, count + 1):
        out.extend(tasks_for(warning_alert(T0, sequence), [sub], T0, None))
    return out


async def test_records_folded_during_assignment_are_sent_after_catch_up() -> None:
    executor = RecordingExecutor()
    consumer = GatedConsumer(end=2)
    executor._consumer = cast(Any, consumer)
    tp = TopicPartition(TOPIC, 0)
    assigning = asyncio.create_task(executor.on_partitions_assigned([tp]))
    await consumer.asked_for_ends.wait()
    # The fetcher already hands out the new partition while the callback awaits the broker.
    first, second = tasks(2)
    executor._fold(b"sub_aaaaaaaa", first.model_dump_json().encode(), 0, 0)
    executor._fold(b"sub_aaaaaaaa", second.model_dump_json().encode(), 0, 1)
    consuming = asyncio.create_task(executor._consume(cast(Any, consumer)))
    try:
        for _ in range(20):  # give lanes and the consume loop many turns before the end is known
            await asyncio.sleep(0)
        assert executor.sent == [], "nothing may be sent before the partition has caught up"
        consumer.release.set()
        await assigning

        async def both_sent() -> bool:
            return len(executor.sent) == 2

        await async_wait_until(both_sent, timeout=5, message="lane sent after catch-up")
        assert executor.sent == [first.delivery_id, second.delivery_id]
        assert executor.open == {}
    finally:
        consuming.cancel()
        for endpoint in executor.endpoints.values():
            for runner in endpoint.runners.values():
                runner.cancel()
        await asyncio.gather(consuming, return_exceptions=True)


class KnownHistory:
    """The full-log view: it saw the original of `done` succeed (below the committed offset)."""

    def __init__(self, done: DeliveryTask) -> None:
        self.done = DeliveryState(task=done, offset=0)
        self.done.attempts.append(succeeded(done))
        self.done.status = "succeeded"
        self.asked: list[tuple[str, int]] = []

    async def outcome_of(self, state: DeliveryState, partition: int) -> DeliveryState | None:
        self.asked.append((state.task.delivery_id, partition))
        return self.done if state.task.delivery_id == self.done.task.delivery_id else None


def succeeded(task: DeliveryTask) -> DeliveryAttempt:
    return DeliveryAttempt(
        delivery_id=task.delivery_id,
        subscription_id=task.subscription_id,
        attempt=1,
        at=T0,
        duration_ms=1.0,
        status_code=200,
        status="succeeded",
    )


async def test_a_rewritten_task_already_delivered_is_not_sent_again() -> None:
    executor = RecordingExecutor()
    redone, fresh = tasks(2)
    history = KnownHistory(redone)
    executor.history = cast(Any, history)
    consumer = GatedConsumer(end=12)
    consumer.release.set()
    executor._consumer = cast(Any, consumer)
    await executor.on_partitions_assigned([TopicPartition(TOPIC, 1)])
    # Re-read from the committed offset 10: a second copy of `redone`, then a new task.
    executor._fold(b"sub_aaaaaaaa", redone.model_dump_json().encode(), 1, 10)
    executor._fold(b"sub_aaaaaaaa", fresh.model_dump_json().encode(), 1, 11)
    consuming = asyncio.create_task(executor._consume(cast(Any, consumer)))
    try:

        async def fresh_sent() -> bool:
            return executor.sent == [fresh.delivery_id]

        await async_wait_until(fresh_sent, timeout=5, message="only the new task sent")
        assert (redone.delivery_id, 1) in history.asked
        assert executor.open == {}
        assert executor.book.get("sub_aaaaaaaa", redone.delivery_id).status == "succeeded"  # type: ignore[union-attr]
    finally:
        consuming.cancel()
        await asyncio.gather(consuming, return_exceptions=True)


class DeadHistory:
    """The full-log view whose follower died: every question fails (never waits forever)."""

    async def outcome_of(self, state: DeliveryState, partition: int) -> DeliveryState | None:
        raise FollowerFailed("the follower of t.sentinel.deliveries.v1 died: KafkaError: gone")


async def test_a_lane_waiting_on_a_dead_history_stops_without_sending(
    caplog: pytest.LogCaptureFixture,
) -> None:
    executor = RecordingExecutor()
    (task,) = tasks(1)
    executor.history = cast(Any, DeadHistory())
    consumer = GatedConsumer(end=1)
    consumer.release.set()
    executor._consumer = cast(Any, consumer)
    await executor.on_partitions_assigned([TopicPartition(TOPIC, 0)])
    consuming = asyncio.create_task(executor._consume(cast(Any, consumer)))
    try:
        with caplog.at_level("ERROR", logger="mineral_sentinel.notifier.executor"):
            executor._fold(b"sub_aaaaaaaa", task.model_dump_json().encode(), 0, 0)
            endpoint = executor.endpoints["sub_aaaaaaaa"]
            (runner,) = endpoint.runners.values()
            await asyncio.wait_for(runner, 5)  # the lane ends: it does not hang on the dead view
    finally:
        consuming.cancel()
        await asyncio.gather(consuming, return_exceptions=True)
    assert runner.exception() is None and executor.sent == []
    assert endpoint.runners == {}, "a later record starts a new lane, which fails the same way"
    assert task.delivery_id in executor.open, "the delivery stays open for the next owner"
    assert "stops: the follower of t.sentinel.deliveries.v1 died" in caplog.text
