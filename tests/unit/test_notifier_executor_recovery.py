"""The executor's lanes when an endpoint fails and comes back, through fakes: the delivery log
is an in-memory producer, the endpoint an httpx MockTransport, the schedule scaled down.

Every lane's head fails twice (the schedule's 0 s and 5 s steps), so each waits for its third
step; the endpoint then answers again. With recovery checks the queue flows within a check
interval or two; with the schedule alone it waits for the heads' next scheduled retries.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest

from mineral_sentinel.contracts.subscriptions import Subscription
from mineral_sentinel.contracts.webhooks import DeliveryAttempt, DeliveryRecord, DeliveryTask
from mineral_sentinel.notifier.executor import Executor
from mineral_sentinel.notifier.payloads import tasks_for
from mineral_sentinel.notifier.retry import RetryPolicy
from mineral_sentinel.notifier.transport import HttpxPoster
from tests.helpers.notifier_data import subscription, warning_alert
from tests.helpers.polling import async_wait_until

pytestmark = pytest.mark.unit

TOPIC = "t.sentinel.deliveries.v1"
SCALE = 0.01
"""Schedule 0 s, 50 ms, then 3 s: the third step is the stall a recovery must not wait for."""
THIRD_STEP_S = 300.0 * SCALE
MATERIALS = ("gallium", "germanium", "antimony", "tungsten")
PER_MATERIAL = 3


class LogProducer:
    """The delivery log: what the executor appends, acknowledged at once."""

    def __init__(self) -> None:
        self.records: list[DeliveryAttempt] = []

    async def send_and_wait(self, topic: str, key: bytes, value: bytes) -> None:
        record = DeliveryRecord.model_validate_json(value).root
        assert isinstance(record, DeliveryAttempt)
        self.records.append(record)


class OneSubscription:
    def __init__(self, sub: Subscription) -> None:
        self.sub = sub

    def get(self, sub_id: str) -> Subscription | None:
        return self.sub if sub_id == self.sub.id else None


class Endpoint:
    """Answers 500 until `up`, then 204; records the sequence of every accepted alert."""

    def __init__(self) -> None:
        self.up = False
        self.accepted: list[tuple[str, int, float]] = []
        self.refused = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            self.refused += 1
            return httpx.Response(500, stream=httpx.ByteStream(b"down"))  # unread, as on a wire
        data = json.loads(request.content)["data"]
        self.accepted.append((data["material"], data["sequence"], time.monotonic()))
        return httpx.Response(204, stream=httpx.ByteStream(b""))


def queued_tasks(sub: Subscription) -> list[DeliveryTask]:
    now = datetime.now(UTC)
    out: list[DeliveryTask] = []
    for sequence in range(1, PER_MATERIAL + 1):
        for material in MATERIALS:
            out.extend(tasks_for(warning_alert(now, sequence, material), [sub], now, None))
    return out


@contextmanager
def lanes_running(executor: Executor) -> Iterator[None]:
    try:
        yield
    finally:
        for endpoint in executor.endpoints.values():
            for runner in endpoint.runners.values():
                runner.cancel()


async def outage_then_recovery(recovery_check_s: float) -> tuple[Endpoint, LogProducer, float]:
    """Run the scenario; returns the endpoint, the log and when the endpoint came back."""
    sub = subscription(datetime.now(UTC), materials=list(MATERIALS), min_severity="watch")
    endpoint = Endpoint()
    producer = LogProducer()
    client = httpx.AsyncClient(transport=httpx.MockTransport(endpoint.handle))
    executor = Executor(
        bootstrap="unused:9092",
        topic=TOPIC,
        group_id="g",
        producer=cast(Any, producer),
        subscriptions=cast(Any, OneSubscription(sub)),
        poster=HttpxPoster(client),
        policy=RetryPolicy(scale=SCALE, jitter=0.0),
        timeout_s=1.0,
        disable_after_s=3600.0,
        concurrency=4,
        recovery_check_s=recovery_check_s,
    )
    executor.ready[0] = asyncio.Event()
    executor.ready[0].set()
    with lanes_running(executor):
        for offset, task in enumerate(queued_tasks(sub)):
            executor._fold(sub.id.encode(), task.model_dump_json().encode(), 0, offset)

        async def heads_wait_for_the_third_step() -> bool:
            failed = [r for r in producer.records if r.status == "retrying" and not r.early]
            return len(failed) >= 2 * len(MATERIALS)

        await async_wait_until(heads_wait_for_the_third_step, timeout=5, interval=0.005)
        endpoint.up = True
        back = time.monotonic()

        async def all_delivered() -> bool:
            return len(endpoint.accepted) == len(MATERIALS) * PER_MATERIAL

        await async_wait_until(all_delivered, timeout=10, interval=0.01)
    await client.aclose()
    return endpoint, producer, back


async def test_queued_deliveries_flow_within_a_check_interval_of_recovery() -> None:
    endpoint, log, back = await outage_then_recovery(recovery_check_s=0.2)
    last = max(at for _, _, at in endpoint.accepted) - back
    assert last < THIRD_STEP_S / 2, f"recovery to last delivery took {last:.2f} s"
    for material in MATERIALS:
        sequences = [s for m, s, _ in endpoint.accepted if m == material]
        assert sequences == list(range(1, PER_MATERIAL + 1)), f"{material} in order"
    early = [r for r in log.records if r.early]
    assert early and all(r.status == "succeeded" or r.status == "retrying" for r in early)
    assert all(r.status == "succeeded" for r in log.records if r.status_code == 204)
    scheduled_failures = [r for r in log.records if r.status == "retrying" and not r.early]
    assert len(scheduled_failures) == 2 * len(MATERIALS), "no head reached its third step"
    assert endpoint.refused <= 2 * len(MATERIALS) + 4, "at most a few failed checks meanwhile"


async def test_the_schedule_alone_waits_for_the_heads_next_retry() -> None:
    """The same outage with recovery checks off (0): the stall the checks remove."""
    endpoint, log, back = await outage_then_recovery(recovery_check_s=0.0)
    first = min(at for _, _, at in endpoint.accepted) - back
    assert first >= THIRD_STEP_S * 0.5, f"first delivery {first:.2f} s after recovery"
    assert not [r for r in log.records if r.early]
