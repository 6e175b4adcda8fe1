"""Notifier delivery against a real broker and real HTTP receivers on 127.0.0.1.

One worker serves the module (retries scaled by 0.001, 1 s timeout); each test isolates itself
with its own subscriptions filtered to its own material.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from mineral_sentinel.contracts.outputs import DeadLetter
from mineral_sentinel.topics import ALERTS, DEAD_LETTER
from tests.helpers.kafka import produce, read_topic
from tests.helpers.polling import async_wait_until
from tests.helpers.receiver import Behaviour, Receiver
from tests.integration.notifier_harness import (
    Notifier,
    alert,
    publish,
    recommendation,
    running_notifier,
    running_receiver,
    subscribe,
    verify,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest.fixture(scope="module")
def module_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture(scope="module")
async def notifier(
    kafka_bootstrap: str, module_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Notifier]:
    tmp = tmp_path_factory.mktemp("notifier")
    async with running_notifier(kafka_bootstrap, module_prefix, tmp) as worker:
        yield worker


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as r:
        yield r


def answered(receiver: Receiver, n: int):  # type: ignore[no-untyped-def]
    async def reached() -> bool:
        return len(receiver.answered()) >= n

    return reached


async def deliveries(notifier: Notifier, sub_id: str, status: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    async with notifier.client() as client:
        params = {"status": status} if status else {}
        response = await client.get(f"/v1/subscriptions/{sub_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    result: list[dict] = response.json()  # type: ignore[type-arg]
    return result


async def test_signed_delivery_verified_by_reference_library_and_filters_apply(
    notifier: Notifier, receiver: Receiver, kafka_bootstrap: str, module_prefix: str
) -> None:
    sub_id, secret = await subscribe(notifier, receiver.url, materials=["gallium", "germanium"])
    await publish(
        kafka_bootstrap,
        module_prefix,
        [
            alert(1),
            alert(2, severity="watch"),  # below the default minimum severity
            alert(1, material="antimony"),  # not in the materials filter
            recommendation("germanium"),
            alert(3, status="resolved"),
        ],
    )
    await async_wait_until(answered(receiver, 3), timeout=30, message="3 matching deliveries")
    bodies = [verify(secret, r) for r in receiver.requests]
    assert sorted(b["type"] for b in bodies) == [
        "alert.firing",
        "alert.resolved",
        "stockpile.recommendation",
    ]
    for request in receiver.requests:
        assert request.headers["webhook-id"].startswith("msg_")
        assert set(json.loads(request.body)) == {"type", "timestamp", "data"}
    gallium = [b["data"]["sequence"] for b in bodies if b["data"].get("material") == "gallium"]
    assert gallium == [1, 3], "in alert sequence order; the watch-level update is filtered"

    async def all_recorded() -> bool:
        return [d["status"] for d in await deliveries(notifier, sub_id)] == ["succeeded"] * 3

    await async_wait_until(all_recorded, timeout=10, message="attempts recorded")
    for delivery in await deliveries(notifier, sub_id):
        (only,) = delivery["attempts"]
        assert only["status_code"] == 200 and only["duration_ms"] > 0 and only["at"]


async def test_failures_then_timeout_then_recovery_deliver_each_id_once_in_order(
    notifier: Notifier, receiver: Receiver, kafka_bootstrap: str, module_prefix: str
) -> None:
    receiver.then(Behaviour(status=500), Behaviour(status=503), Behaviour(hang=True))
    _, secret = await subscribe(notifier, receiver.url, materials=["cobalt"])
    await publish(
        kafka_bootstrap, module_prefix, [alert(n, material="cobalt") for n in range(1, 7)]
    )
    await async_wait_until(answered(receiver, 6), timeout=30, message="6 deliveries after recovery")
    failures = [r for r in receiver.requests if r.answered not in range(200, 300)]
    assert len(failures) == 3, "two 5xx and one timeout before recovery"
    ok = receiver.answered()
    ids = [r.headers["webhook-id"] for r in ok]
    assert len(ids) == len(set(ids)) == 6, "every webhook-id exactly once after recovery"
    assert {r.headers["webhook-id"] for r in failures} <= set(ids), "retries keep the webhook-id"
    sequences = [verify(secret, r)["data"]["sequence"] for r in ok]
    assert sequences == [1, 2, 3, 4, 5, 6], "delivered in alert sequence order"


async def test_hanging_endpoint_does_not_delay_a_healthy_one(
    notifier: Notifier, kafka_bootstrap: str, module_prefix: str
) -> None:
    hanging = await Receiver(Behaviour(hang=True)).start()
    healthy = await Receiver().start()
    try:
        await subscribe(notifier, hanging.url, materials=["nickel"])
        await subscribe(notifier, healthy.url, materials=["nickel"])
        await publish(kafka_bootstrap, module_prefix, [alert(n, material="nickel") for n in (1, 2)])
        await async_wait_until(answered(healthy, 2), timeout=30, message="healthy got both")
        assert len(hanging.requests) >= 1, "the hanging endpoint was tried in parallel"
        produced = time.monotonic()
        await publish(
            kafka_bootstrap, module_prefix, [alert(n, material="nickel") for n in range(3, 8)]
        )
        await async_wait_until(answered(healthy, 7), timeout=30, message="healthy got all")
        delay = healthy.answered()[-1].at - produced
        assert delay < 1.0, f"healthy endpoint delayed {delay:.2f} s by the hanging one"
        assert all(r.answered is None for r in hanging.requests)
    finally:
        await hanging.stop()
        await healthy.stop()


async def test_410_disables_the_subscription_and_enable_restores_it(
    notifier: Notifier, receiver: Receiver, kafka_bootstrap: str, module_prefix: str
) -> None:
    receiver.default = Behaviour(status=410)
    sub_id, _ = await subscribe(notifier, receiver.url, materials=["lithium"])
    await publish(kafka_bootstrap, module_prefix, [alert(1, material="lithium")])

    async def disabled() -> bool:
        async with notifier.client() as client:
            sub = (await client.get(f"/v1/subscriptions/{sub_id}")).json()
        return not sub["enabled"] and "410" in sub["disabled_reason"]

    await async_wait_until(disabled, timeout=30, message="subscription disabled by 410")
    assert len(receiver.requests) == 1, "no retry after 410"
    assert [d["status"] for d in await deliveries(notifier, sub_id, "disabled")] == ["disabled"]
    await publish(kafka_bootstrap, module_prefix, [alert(2, material="lithium")])
    async with notifier.client() as client:
        refused = await client.post(f"/v1/subscriptions/{sub_id}/test")
        assert refused.status_code == 409
        enabled = await client.post(f"/v1/subscriptions/{sub_id}/enable")
    assert enabled.status_code == 200 and enabled.json()["enabled"] is True
    receiver.default = Behaviour()
    await publish(kafka_bootstrap, module_prefix, [alert(3, material="lithium")])
    await async_wait_until(answered(receiver, 1), timeout=30, message="delivered after enable")
    sequences = [json.loads(r.body)["data"]["sequence"] for r in receiver.answered()]
    assert sequences == [3], "nothing was sent while disabled"


async def test_retry_after_is_honoured(
    notifier: Notifier, receiver: Receiver, kafka_bootstrap: str, module_prefix: str
) -> None:
    receiver.then(Behaviour(status=429, headers={"Retry-After": "2"}))
    await subscribe(notifier, receiver.url, materials=["tungsten"])
    await publish(kafka_bootstrap, module_prefix, [alert(1, material="tungsten")])
    await async_wait_until(answered(receiver, 1), timeout=30, message="delivered after 429")
    first, second = receiver.requests
    gap = second.at - first.at
    assert gap >= 1.9, f"retried after {gap:.2f} s; Retry-After asked for 2 s (schedule: 5 ms)"
    assert gap < 5.0


async def test_redirects_are_not_followed(
    notifier: Notifier, receiver: Receiver, kafka_bootstrap: str, module_prefix: str
) -> None:
    receiver.then(Behaviour(status=302, headers={"Location": "/elsewhere"}))
    sub_id, _ = await subscribe(notifier, receiver.url, materials=["vanadium"])
    await publish(kafka_bootstrap, module_prefix, [alert(1, material="vanadium")])
    await async_wait_until(answered(receiver, 1), timeout=30, message="delivered on retry")
    assert [r.path for r in receiver.requests] == ["/hook", "/hook"], "never went to Location"
    (delivery,) = await deliveries(notifier, sub_id)
    first = delivery["attempts"][0]
    assert first["status_code"] == 302 and "redirect not followed" in first["error"]


async def test_oversized_response_is_cut(
    notifier: Notifier, receiver: Receiver, kafka_bootstrap: str, module_prefix: str
) -> None:
    receiver.default = Behaviour(status=200, endless=True)
    sub_id, _ = await subscribe(notifier, receiver.url, materials=["magnesium"])
    await publish(kafka_bootstrap, module_prefix, [alert(1, material="magnesium")])

    async def done() -> list[dict]:  # type: ignore[type-arg]
        return await deliveries(notifier, sub_id, "succeeded")

    (delivery,) = await async_wait_until(done, timeout=30, message="endless body cut, success")
    (attempt,) = delivery["attempts"]
    assert attempt["status_code"] == 200 and attempt["error"] == ""
    assert attempt["duration_ms"] < 1000, "did not read until the timeout"
    assert len(receiver.requests) == 1


async def test_invalid_alert_goes_to_dead_letter_and_worker_carries_on(
    notifier: Notifier, receiver: Receiver, kafka_bootstrap: str, module_prefix: str
) -> None:
    await subscribe(notifier, receiver.url, materials=["bismuth"])
    bad = b'{"type": "alert", "material": "bismuth"}'
    await produce(kafka_bootstrap, ALERTS.full_name(module_prefix), [(b"bismuth", bad)])
    await publish(kafka_bootstrap, module_prefix, [alert(1, material="bismuth")])
    await async_wait_until(answered(receiver, 1), timeout=30, message="valid alert delivered")
    records = await read_topic(kafka_bootstrap, DEAD_LETTER.full_name(module_prefix), expected=1)
    letters = [DeadLetter.model_validate_json(r.value or b"") for r in records]
    ours = [d for d in letters if base64.b64decode(d.value_b64) == bad]
    assert len(ours) == 1 and ours[0].errors[0].reason == "schema_violation"
    assert ours[0].source_topic == ALERTS.name and ours[0].source_offset is not None
    async with notifier.client() as client:
        text = (await client.get("/metrics")).text
    assert (
        'sentinel_events_invalid_total{reason="schema_violation",topic="minerals.alerts.v1"}'
        in text
    )
    assert 'sentinel_webhook_deliveries_total{outcome="success"}' in text
    assert 'sentinel_build_info{service="notifier"' in text
    assert "sub_" not in text, "never a subscription id in metrics"
