"""Two notifier workers share the work (each sends some deliveries), and when one stops the
other takes over: every webhook-id answered, once each, in sequence order per material."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from tests.helpers.polling import async_wait_until
from tests.helpers.receiver import Receiver
from tests.integration.notifier_harness import (
    alert,
    publish,
    start_notifier,
    subscribe_on_every_partition,
    verify,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

MATERIALS = ("gallium", "germanium", "cobalt", "tungsten", "antimony", "lithium")
PARTITIONS = 4
SPLIT = {"SENTINEL_TOPIC_PARTITIONS": str(PARTITIONS)}
SUCCESS = 'sentinel_webhook_deliveries_total{outcome="success"}'


async def test_two_workers_split_deliveries_and_one_takes_over(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    receiver = await Receiver().start()
    first = start_notifier(service_env, tmp_path / "first.log", extra=SPLIT)
    second = start_notifier(service_env, tmp_path / "second.log", extra=SPLIT)
    try:
        await first.wait_ready(timeout=90)
        await second.wait_ready(timeout=90)
        # Deliveries are keyed by subscription: both workers own some whatever the assignment.
        secrets, last_id = await subscribe_on_every_partition(first, receiver.url, PARTITIONS)

        async def second_sees_subscriptions() -> bool:
            async with second.client() as client:
                return (await client.get(f"/v1/subscriptions/{last_id}")).status_code == 200

        await async_wait_until(second_sees_subscriptions, timeout=30)
        await publish(
            kafka_bootstrap,
            topic_prefix,
            [alert(n, material=m) for m in MATERIALS for n in (1, 2, 3)],
        )

        def unique_ids() -> set[str]:
            return {r.headers["webhook-id"] for r in receiver.answered()}

        async def first_round() -> bool:
            return len(unique_ids()) == len(MATERIALS) * 3 * len(secrets)

        await async_wait_until(first_round, timeout=60, message="first round delivered")
        assert await first.metric(SUCCESS) > 0 and await second.metric(SUCCESS) > 0, (
            "both workers should have sent part of the deliveries"
        )

        first.process.stop()
        await publish(
            kafka_bootstrap, topic_prefix, [alert(n, material=m) for m in MATERIALS for n in (4, 5)]
        )

        async def second_round() -> bool:
            return len(unique_ids()) == len(MATERIALS) * 5 * len(secrets)

        await async_wait_until(second_round, timeout=90, message="the survivor delivered the rest")
        answered = receiver.answered()
        ids = [r.headers["webhook-id"] for r in answered]
        assert len(ids) == len(set(ids)), "no webhook-id answered twice"
        order: dict[tuple[str, str], list[int]] = defaultdict(list)
        for request in answered:
            data = verify(secrets[request.path], request)["data"]
            order[(request.path, data["material"])].append(data["sequence"])
        assert order == {(p, m): [1, 2, 3, 4, 5] for p in secrets for m in MATERIALS}
    finally:
        first.process.stop()
        second.process.stop()
        await receiver.stop()
