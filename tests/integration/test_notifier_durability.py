"""kill -9 the notifier while deliveries are pending (in flight to a hanging endpoint) and
retries are scheduled (a failing endpoint); after a restart every delivery completes, in order,
and the retry state (attempt count) survived."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from tests.helpers.polling import async_wait_until
from tests.helpers.receiver import Behaviour, Receiver
from tests.integration.notifier_harness import (
    Notifier,
    alert,
    publish,
    start_notifier,
    subscribe,
    verify,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

MATERIALS = ("gallium", "germanium")
PER_MATERIAL = 5
SLOW: dict[str, str] = {"SENTINEL_WEBHOOK_RETRY_SCALE": "0.004", "SENTINEL_WEBHOOK_TIMEOUT_S": "5"}


async def test_kill_9_with_pending_and_scheduled_retries_loses_nothing(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    failing = await Receiver(Behaviour(status=500)).start()
    hanging = await Receiver(Behaviour(hang=True)).start()
    notifier = start_notifier(service_env, tmp_path / "first.log", extra=SLOW)
    restarted: Notifier | None = None
    try:
        await notifier.wait_ready()
        failing_id, failing_secret = await subscribe(notifier, failing.url)
        _, hanging_secret = await subscribe(notifier, hanging.url)
        await publish(
            kafka_bootstrap,
            topic_prefix,
            [alert(n, material=m) for m in MATERIALS for n in range(1, PER_MATERIAL + 1)],
        )

        async def retries_scheduled_and_sends_in_flight() -> bool:
            heads = {r.headers["webhook-id"] for r in failing.requests}
            return len(failing.requests) >= 4 and len(heads) == 2 and len(hanging.requests) >= 2

        await async_wait_until(retries_scheduled_and_sends_in_flight, timeout=30)
        assert not failing.answered() and not hanging.answered()
        notifier.process.kill()

        failing.default = Behaviour()
        hanging.default = Behaviour()
        restarted = start_notifier(
            service_env, tmp_path / "second.log", port=notifier.port, extra=SLOW
        )
        await restarted.wait_ready(timeout=90)
        total = len(MATERIALS) * PER_MATERIAL

        async def all_delivered() -> bool:
            return all(
                len({r.headers["webhook-id"] for r in rx.answered()}) == total
                for rx in (failing, hanging)
            )

        await async_wait_until(all_delivered, timeout=60, message="every delivery completed")
        for rx, secret in ((failing, failing_secret), (hanging, hanging_secret)):
            order: dict[str, list[int]] = defaultdict(list)
            for request in rx.answered():
                data = verify(secret, request)["data"]
                if data["sequence"] not in order[data["material"]]:
                    order[data["material"]].append(data["sequence"])
            assert order == {m: list(range(1, PER_MATERIAL + 1)) for m in MATERIALS}

        async with restarted.client() as client:
            listed = (await client.get(f"/v1/subscriptions/{failing_id}/deliveries")).json()
        assert len(listed) == total and {d["status"] for d in listed} == {"succeeded"}
        carried = [d for d in listed if len(d["attempts"]) > 1]
        assert len(carried) >= 2, "the lane heads kept their failed attempts across the kill"
        for delivery in carried:
            codes = [a["status_code"] for a in delivery["attempts"]]
            assert codes[-1] == 200 and set(codes[:-1]) == {500}
            assert delivery["attempts"][-1]["attempt"] == len(codes), "attempt count survived"
    finally:
        notifier.process.kill()
        if restarted is not None:
            restarted.process.stop()
        await failing.stop()
        await hanging.stop()
