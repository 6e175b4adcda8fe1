"""The two ends of the retry road on a real worker: a delivery whose attempts run out is marked
failed and counted (never dropped), and an endpoint failing continuously for longer than
SENTINEL_WEBHOOK_DISABLE_AFTER_S is disabled. Schedules are shrunk to seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.polling import async_wait_until
from tests.helpers.receiver import Behaviour, Receiver
from tests.integration.notifier_harness import alert, publish, start_notifier, subscribe

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_exhausted_retries_mark_the_delivery_failed_and_count_it(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    receiver = await Receiver(Behaviour(status=500)).start()
    # The whole eight-attempt schedule (99,305 s) shrinks to about 2 s.
    notifier = start_notifier(
        service_env, tmp_path / "n.log", extra={"SENTINEL_WEBHOOK_RETRY_SCALE": "0.00002"}
    )
    try:
        await notifier.wait_ready()
        sub_id, _ = await subscribe(notifier, receiver.url)
        await publish(kafka_bootstrap, topic_prefix, [alert(1)])

        async def failed() -> list[dict]:  # type: ignore[type-arg]
            async with notifier.client() as client:
                response = await client.get(
                    f"/v1/subscriptions/{sub_id}/deliveries", params={"status": "failed"}
                )
            result: list[dict] = response.json()  # type: ignore[type-arg]
            return result

        (delivery,) = await async_wait_until(failed, timeout=30, message="delivery failed")
        assert [a["status_code"] for a in delivery["attempts"]] == [500] * 8
        assert len(receiver.requests) == 8, "eight attempts, then no more"
        assert await notifier.metric('sentinel_webhook_deliveries_total{outcome="failed"}') == 1
        assert await notifier.metric('sentinel_webhook_deliveries_total{outcome="retry"}') == 7
        async with notifier.client() as client:
            sub = (await client.get(f"/v1/subscriptions/{sub_id}")).json()
        assert sub["enabled"] is True, "exhaustion alone does not disable the endpoint"
    finally:
        notifier.process.stop()
        await receiver.stop()


async def test_endpoint_failing_continuously_is_disabled(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    receiver = await Receiver(Behaviour(status=503)).start()
    notifier = start_notifier(
        service_env, tmp_path / "n.log", extra={"SENTINEL_WEBHOOK_DISABLE_AFTER_S": "1.0"}
    )
    try:
        await notifier.wait_ready()
        sub_id, _ = await subscribe(notifier, receiver.url)
        await publish(kafka_bootstrap, topic_prefix, [alert(1), alert(2)])

        async def disabled() -> dict:  # type: ignore[type-arg]
            async with notifier.client() as client:
                sub: dict = (await client.get(f"/v1/subscriptions/{sub_id}")).json()  # type: ignore[type-arg]
            return sub if not sub["enabled"] else {}

        sub = await async_wait_until(disabled, timeout=30, message="subscription disabled")
        assert "failing continuously" in sub["disabled_reason"]
        async with notifier.client() as client:

            async def both_disabled() -> bool:
                listed = (await client.get(f"/v1/subscriptions/{sub_id}/deliveries")).json()
                return [d["status"] for d in listed] == ["disabled", "disabled"]

            await async_wait_until(both_disabled, timeout=10, message="queued ones disabled too")
        assert await notifier.metric('sentinel_webhook_deliveries_total{outcome="disabled"}') == 2
        assert await notifier.metric('sentinel_subscriptions{state="disabled"}') == 1
    finally:
        notifier.process.stop()
        await receiver.stop()
