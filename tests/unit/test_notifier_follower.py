"""A dead topic follower fails its waiters (never a wait forever) and the notifier's readiness
goes false with the reason; a live one releases waiters as records are applied."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from mineral_sentinel.config import Settings
from mineral_sentinel.notifier.follower import FollowerFailed, TopicFollower
from mineral_sentinel.notifier.runtime import NotifierRuntime

pytestmark = pytest.mark.unit

TOPIC = "t.sentinel.deliveries.v1"
TP = TopicPartition(TOPIC, 0)


class _Record:
    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.key = b"k"
        self.value = b"v"


class _Consumer:
    """Hands out the queued batches one per `getmany`; an exception in the queue is raised."""

    def __init__(self) -> None:
        self.batches: asyncio.Queue[dict[TopicPartition, list[_Record]] | Exception] = (
            asyncio.Queue()
        )
        self.at = 0

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[Any, list[_Record]]:
        try:
            item = await asyncio.wait_for(self.batches.get(), timeout_ms / 1000)
        except TimeoutError:
            return {}
        if isinstance(item, Exception):
            raise item
        for records in item.values():
            self.at = records[-1].offset + 1
        return item

    async def position(self, tp: TopicPartition) -> int:
        return self.at


async def _no_partitions(topic: str) -> set[int]:
    return set()


def _follower(applied: list[int]) -> tuple[TopicFollower, _Consumer]:
    follower = TopicFollower(
        "unused:9092", TOPIC, lambda r: applied.append(r.offset), _no_partitions
    )
    consumer = _Consumer()
    follower.follow(consumer, {TP: 2})  # type: ignore[arg-type]
    return follower, consumer


async def _waiting(task: asyncio.Task[None]) -> bool:
    await asyncio.sleep(0.05)  # let it reach its wait; asserting that it is still waiting
    return not task.done()


def test_waiters_are_released_in_order_of_applied_offsets() -> None:
    async def scenario() -> None:
        applied: list[int] = []
        follower, consumer = _follower(applied)
        first = asyncio.create_task(follower.wait_past(0, 0))
        second = asyncio.create_task(follower.wait_past(0, 1))
        assert await _waiting(first) and await _waiting(second)
        await consumer.batches.put({TP: [_Record(0)]})
        await asyncio.wait_for(first, 2)
        assert not second.done() and not follower.caught_up.is_set()
        await consumer.batches.put({TP: [_Record(1)]})
        await asyncio.wait_for(second, 2)
        await asyncio.wait_for(follower.caught_up.wait(), 2)
        assert applied == [0, 1] and follower.failure is None
        await follower.stop()

    asyncio.run(scenario())


def test_a_dead_follower_fails_present_and_future_waiters() -> None:
    async def scenario() -> None:
        applied: list[int] = []
        follower, consumer = _follower(applied)
        await consumer.batches.put({TP: [_Record(0)]})
        await asyncio.wait_for(follower.wait_past(0, 0), 2)
        waiter = asyncio.create_task(follower.wait_past(0, 5))
        assert await _waiting(waiter)
        await consumer.batches.put(KafkaError("broker gone for good"))
        with pytest.raises(FollowerFailed, match=r"follower of t\.sentinel\.deliveries\.v1 died"):
            await asyncio.wait_for(waiter, 2)
        assert follower.failure is not None and "KafkaError" in str(follower.failure)
        with pytest.raises(FollowerFailed):
            await asyncio.wait_for(follower.wait_past(0, 1), 2)
        await asyncio.wait_for(follower.wait_past(0, 0), 2)  # what was applied stays applied
        await follower.stop()

    asyncio.run(scenario())


class _Executor:
    is_ready = True


def test_notifier_readiness_goes_degraded_when_a_follower_dies() -> None:
    async def scenario() -> None:
        runtime = NotifierRuntime(Settings())
        assert runtime.readiness() == ("starting", "runtime starting") and not runtime.ready
        subscriptions, _ = _follower([])
        silences, _ = _follower([])
        history, history_consumer = _follower([])
        for follower in (subscriptions, silences, history):
            follower.caught_up.set()
        runtime._store = type("Store", (), {"follower": subscriptions})()  # type: ignore[assignment]
        runtime._silences = type("Silences", (), {"follower": silences})()  # type: ignore[assignment]
        runtime._history = type("History", (), {"follower": history})()  # type: ignore[assignment]
        runtime._executor = _Executor()  # type: ignore[assignment]
        runtime.started.set()
        assert runtime.readiness() == ("ok", "") and runtime.ready
        await history_consumer.batches.put(KafkaError("lost"))

        async def degraded() -> None:
            while runtime.ready:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(degraded(), 2)
        status, why = runtime.readiness()
        assert status == "degraded" and TOPIC in why and "KafkaError" in why
        for follower in (subscriptions, history):
            await follower.stop()

    asyncio.run(scenario())
