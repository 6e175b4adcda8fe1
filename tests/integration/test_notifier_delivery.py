"""Notifier delivery against a real broker and real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.polling import async_wait_until
from tests.helpers.receiver import Receiver
from tests.integration.notifier_harness import (
    Notifier,
    alert,
    publish,
    recommendation,
    start_notifier,
    subscribe,
    verify,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest.fixture
async def notifier(service_env: dict[str, str], tmp_path: Path):  # type: ignore[no-untyped-def]
    worker = start_notifier(service_env, tmp_path / "notifier.log")
    try:
        await worker.wait_ready()
        yield worker
    finally:
        worker.process.stop()


@pytest.fixture
async def receiver():  # type: ignore[no-untyped-def]
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.stop()


async def test_signed_delivery_verified_by_reference_library_and_filters_apply(
    notifier: Notifier, receiver: Receiver, kafka_bootstrap: str, topic_prefix: str
) -> None:
    sub_id, secret = await subscribe(notifier, receiver.url, materials=["gallium", "germanium"])
    await publish(
        kafka_bootstrap,
        topic_prefix,
        [
            alert(1),
            alert(2, severity="watch"),  # below the default minimum severity
            alert(1, material="cobalt"),  # not in the materials filter
            recommendation("germanium"),
            alert(3, status="resolved"),
        ],
    )
    await async_wait_until(_count(receiver, 3), timeout=30, message="three matching deliveries")
    bodies = [verify(secret, r) for r in receiver.requests]
    assert [b["type"] for b in sorted(bodies, key=lambda b: b["type"])] == [
        "alert.firing",
        "alert.resolved",
        "stockpile.recommendation",
    ]
    for request in receiver.requests:
        assert request.headers["webhook-id"].startswith("msg_")
        assert set(json.loads(request.body)) == {"type", "timestamp", "data"}
    gallium = [b["data"]["sequence"] for b in bodies if b["data"].get("material") == "gallium"]
    assert gallium == [1, 3], "in alert sequence order; the watch-level update is filtered"
    async with notifier.client() as client:
        deliveries = (await client.get(f"/v1/subscriptions/{sub_id}/deliveries")).json()
    assert sorted(d["status"] for d in deliveries) == ["succeeded"] * 3
    assert all(d["attempts"][0]["status_code"] == 200 for d in deliveries)


def _count(receiver: Receiver, n: int):  # type: ignore[no-untyped-def]
    async def reached() -> bool:
        return len(receiver.answered()) >= n

    return reached
