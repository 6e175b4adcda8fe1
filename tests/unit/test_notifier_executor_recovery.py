"""The executor's lanes when an endpoint fails and comes back, through fakes
(tests/helpers/executor_fakes.py), with the retry schedule scaled down.

Every lane's head fails twice (the schedule's 0 s and 5 s steps), so each waits for its third
step; the endpoint then answers again. With recovery checks the queue flows within a check
interval or two; with the schedule alone it waits for the heads' next scheduled retries.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from mineral_sentinel.contracts.subscriptions import Subscription
from mineral_sentinel.contracts.webhooks import DeliveryTask
from mineral_sentinel.notifier.payloads import tasks_for
from tests.helpers.executor_fakes import (
    Answer,
    MemoryLog,
    MemorySubscriptions,
    ScriptedEndpoints,
    executor_for,
    feed,
    stop_lanes,
)
from tests.helpers.notifier_data import subscription, warning_alert
from tests.helpers.polling import async_wait_until

pytestmark = pytest.mark.unit

SCALE = 0.01
"""Schedule 0 s, 50 ms, then 3 s: the third step is the stall a recovery must not wait for."""
THIRD_STEP_S = 300.0 * SCALE
MATERIALS = ("gallium", "germanium", "antimony", "tungsten")
PER_MATERIAL = 3


def queued_tasks(sub: Subscription) -> list[DeliveryTask]:
    now = datetime.now(UTC)
    out: list[DeliveryTask] = []
    for sequence in range(1, PER_MATERIAL + 1):
        for material in MATERIALS:
            out.extend(tasks_for(warning_alert(now, sequence, material), [sub], now, None))
    return out


async def outage_then_recovery(
    recovery_check_s: float,
) -> tuple[ScriptedEndpoints, MemoryLog, float]:
    """Run the scenario; returns the endpoint, the log and when the endpoint came back."""
    sub = subscription(datetime.now(UTC), materials=list(MATERIALS), min_severity="watch")
    endpoint = ScriptedEndpoints(default=Answer(500))
    log = MemoryLog()
    executor = executor_for(
        log, MemorySubscriptions(sub), endpoint, scale=SCALE, recovery_check_s=recovery_check_s
    )
    try:
        feed(executor, queued_tasks(sub))

        async def heads_wait_for_the_third_step() -> bool:
            failed = [r for r in log.attempts() if r.status == "retrying" and not r.early]
            return len(failed) >= 2 * len(MATERIALS)

        await async_wait_until(heads_wait_for_the_third_step, timeout=5, interval=0.005)
        endpoint.default = Answer(204)
        back = time.monotonic()

        async def all_delivered() -> bool:
            return len(endpoint.accepted()) == len(MATERIALS) * PER_MATERIAL

        await async_wait_until(all_delivered, timeout=10, interval=0.01)
    finally:
        await stop_lanes(executor)
    return endpoint, log, back


async def test_queued_deliveries_flow_within_a_check_interval_of_recovery() -> None:
    endpoint, log, back = await outage_then_recovery(recovery_check_s=0.2)
    accepted = endpoint.accepted()
    last = max(r.at for r in accepted) - back
    assert last < THIRD_STEP_S / 2, f"recovery to last delivery took {last:.2f} s"
    for material in MATERIALS:
        sequences = [r.data["sequence"] for r in accepted if r.data["material"] == material]
        assert sequences == list(range(1, PER_MATERIAL + 1)), f"{material} in order"
    early = [r for r in log.attempts() if r.early]
    assert early and all(r.status in ("succeeded", "retrying") for r in early)
    scheduled_failures = [r for r in log.attempts() if r.status == "retrying" and not r.early]
    assert len(scheduled_failures) == 2 * len(MATERIALS), "no head reached its third step"
    refused = [r for r in endpoint.requests if r.answered == 500]
    assert len(refused) <= 2 * len(MATERIALS) + 4, "at most a few failed checks meanwhile"


async def test_the_schedule_alone_waits_for_the_heads_next_retry() -> None:
    """The same outage with recovery checks off (0): the stall the checks remove."""
    endpoint, log, back = await outage_then_recovery(recovery_check_s=0.0)
    first = min(r.at for r in endpoint.accepted()) - back
    assert first >= THIRD_STEP_S * 0.5, f"first delivery {first:.2f} s after recovery"
    assert not [r for r in log.attempts() if r.early]
