"""Notifier rebalances under load: three workers share the deliveries while alerts stream in; a
fourth joins, one is killed -9 (not restarted), another stopped gracefully. No delivery is lost,
a webhook-id sent twice has the same body both times (verified with the reference library),
and per subscription and material the webhooks first arrive in sequence order."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import pytest

from tests.helpers.polling import async_wait_until
from tests.helpers.receiver import Receiver
from tests.integration.notifier_harness import (
    Notifier,
    alert,
    publish,
    start_notifier,
    subscribe_on_every_partition,
    verify,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

MATERIALS = ("gallium", "germanium", "cobalt", "tungsten")
PARTITIONS = 4
ROUNDS = 16
"""One alert per material per round, a round every ROUND_S: the stream lasts ~ROUNDS * ROUND_S."""
ROUND_S = 1.5
STEPS = {3: "join", 6: "kill", 10: "stop"}
"""Round -> what happens to the workers just before it is published."""


async def test_join_kill_9_and_graceful_stop_while_alerts_stream_in(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    receiver = await Receiver().start()
    split = {"SENTINEL_TOPIC_PARTITIONS": str(PARTITIONS)}
    workers: list[Notifier] = [
        start_notifier(service_env, tmp_path / f"n{i}.log", extra=split) for i in range(3)
    ]
    try:
        for worker in workers:
            await worker.wait_ready(timeout=90)
        first, killed, stopped = workers
        secrets, sub_id = await subscribe_on_every_partition(first, receiver.url, PARTITIONS)

        async def everyone_sees_them() -> bool:
            for worker in workers:
                async with worker.client() as client:
                    if (await client.get(f"/v1/subscriptions/{sub_id}")).status_code != 200:
                        return False
            return True

        await async_wait_until(everyone_sees_them, timeout=30, message="subscriptions followed")
        for sequence in range(1, ROUNDS + 1):
            step = STEPS.get(sequence)
            if step == "join":
                joining = start_notifier(service_env, tmp_path / "n3.log", extra=split)
                workers.append(joining)  # it joins the groups while the stream goes on
            elif step == "kill":
                killed.process.kill()
            elif step == "stop":  # in a thread: the receiver shares this event loop
                await asyncio.to_thread(stopped.process.stop)
            await publish(
                kafka_bootstrap, topic_prefix, [alert(sequence, material=m) for m in MATERIALS]
            )
            await asyncio.sleep(ROUND_S)  # the stream's pace, not a synchronisation

        expected = len(MATERIALS) * ROUNDS * len(secrets)

        async def all_delivered() -> bool:
            return len({r.headers["webhook-id"] for r in receiver.answered()}) == expected

        await async_wait_until(all_delivered, timeout=120, message="every webhook delivered")
        assert first.process.running and joining.process.running
        bodies: dict[str, set[bytes]] = defaultdict(set)
        first_arrival: dict[tuple[str, str], list[int]] = defaultdict(list)
        seen: set[str] = set()
        for request in receiver.answered():
            webhook_id = request.headers["webhook-id"]
            bodies[webhook_id].add(request.body)
            data = verify(secrets[request.path], request)["data"]
            if webhook_id not in seen:
                seen.add(webhook_id)
                first_arrival[(request.path, data["material"])].append(data["sequence"])
        twice = {webhook_id for webhook_id, sent in bodies.items() if len(sent) > 1}
        assert not twice, f"webhook-ids sent with different bodies: {sorted(twice)[:5]}"
        in_order = list(range(1, ROUNDS + 1))
        assert first_arrival == {(p, m): in_order for p in secrets for m in MATERIALS}
        repeats = len(receiver.answered()) - expected
    finally:
        for worker in workers:
            await asyncio.to_thread(worker.process.stop)
        await receiver.stop()
    print(f"notifier: {expected} webhooks, none lost; {repeats} re-sent with identical bodies")
