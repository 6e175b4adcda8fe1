"""Fakes for running the notifier's executor without a broker: the delivery log in memory, the
subscriptions in a dict, and endpoints as an httpx MockTransport that answers from a script.

The executor's lanes, retry schedule, recovery checks and disabling run for real; only the
Kafka consumer is left out: `feed` folds task records as if they had been read from partition 0.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import httpx
from aiokafka.errors import KafkaTimeoutError

from mineral_sentinel.contracts.subscriptions import Subscription
from mineral_sentinel.contracts.webhooks import DeliveryAttempt, DeliveryTask
from mineral_sentinel.notifier.executor import Executor
from mineral_sentinel.notifier.retry import RetryPolicy
from mineral_sentinel.notifier.transport import HttpxPoster
from tests.helpers.polling import async_wait_until

TOPIC = "t.sentinel.deliveries.v1"


class MemoryLog:
    """A `DeliveryLog` that acknowledges at once and keeps every record in order; the first
    `failures` appends raise instead, as a producer does when the broker stays unreachable."""

    def __init__(self, failures: int = 0) -> None:
        self.records: list[DeliveryTask | DeliveryAttempt] = []
        self.failures = failures

    async def append(self, records: Sequence[DeliveryTask | DeliveryAttempt]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise KafkaTimeoutError("the delivery log is unreachable (test)")
        self.records.extend(records)

    def attempts(self, delivery_id: str | None = None) -> list[DeliveryAttempt]:
        return [
            r
            for r in self.records
            if isinstance(r, DeliveryAttempt) and delivery_id in (None, r.delivery_id)
        ]


class MemorySubscriptions:
    """The part of `SubscriptionStore` the executor uses: read one, write one back."""

    def __init__(self, *subs: Subscription) -> None:
        self.by_id = {sub.id: sub for sub in subs}

    def get(self, sub_id: str) -> Subscription | None:
        return self.by_id.get(sub_id)

    async def put(self, sub: Subscription) -> None:
        self.by_id[sub.id] = sub


@dataclass(frozen=True)
class Answer:
    status: int = 204
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Request:
    webhook_id: str
    data: dict[str, Any]
    at: float
    answered: int


class ScriptedEndpoints:
    """Answers each request with the next scripted answer, then `default`; records them all."""

    def __init__(self, default: Answer = Answer()) -> None:
        self.default = default
        self.script: deque[Answer] = deque()
        self.requests: list[Request] = []

    def then(self, *answers: Answer) -> ScriptedEndpoints:
        self.script.extend(answers)
        return self

    def accepted(self) -> list[Request]:
        return [r for r in self.requests if 200 <= r.answered < 300]

    def handle(self, request: httpx.Request) -> httpx.Response:
        answer = self.script.popleft() if self.script else self.default
        self.requests.append(
            Request(
                request.headers["webhook-id"],
                json.loads(request.content)["data"],
                time.monotonic(),
                answer.status,
            )
        )
        # An unread stream, as from a wire (the sender reads at most 64 KiB of it).
        body = httpx.ByteStream(b"" if answer.status < 300 else b"refused")
        return httpx.Response(answer.status, headers=list(answer.headers), stream=body)


def executor_for(
    log: MemoryLog,
    subscriptions: MemorySubscriptions,
    endpoints: ScriptedEndpoints,
    *,
    scale: float = 0.001,
    recovery_check_s: float = 0.0,
    disable_after_s: float = 3600.0,
    concurrency: int = 4,
    error_pause_s: float = 0.05,
) -> Executor:
    """An executor whose partition 0 is caught up, sending to `endpoints` (jitter off)."""
    client = httpx.AsyncClient(transport=httpx.MockTransport(endpoints.handle))
    executor = Executor(
        bootstrap="unused:9092",
        topic=TOPIC,
        group_id="g",
        delivery_log=log,
        subscriptions=cast(Any, subscriptions),
        poster=HttpxPoster(client),
        policy=RetryPolicy(scale=scale, jitter=0.0),
        timeout_s=1.0,
        disable_after_s=disable_after_s,
        concurrency=concurrency,
        recovery_check_s=recovery_check_s,
        error_pause_s=error_pause_s,
    )
    executor.ready[0] = asyncio.Event()
    executor.ready[0].set()
    return executor


def feed(executor: Executor, tasks: Iterable[DeliveryTask], first_offset: int = 0) -> None:
    """Fold task records as the consumer would after reading them from partition 0."""
    for offset, task in enumerate(tasks, start=first_offset):
        key = task.subscription_id.encode()
        executor._fold(key, task.model_dump_json().encode(), 0, offset)


async def deliver(
    executor: Executor,
    tasks: Iterable[DeliveryTask],
    done: Callable[[], bool],
    timeout: float = 5.0,
) -> None:
    """Feed `tasks`, wait until `done()` holds (deadline `timeout`), then stop the lanes."""

    async def reached() -> bool:
        return done()

    try:
        feed(executor, tasks)
        await async_wait_until(reached, timeout=timeout, interval=0.01)
    finally:
        await stop_lanes(executor)


async def stop_lanes(executor: Executor) -> None:
    runners = [r for e in executor.endpoints.values() for r in e.runners.values()]
    for runner in runners:
        runner.cancel()
    await asyncio.gather(*runners, return_exceptions=True)
    assert isinstance(executor.poster, HttpxPoster)
    await executor.poster.aclose()
