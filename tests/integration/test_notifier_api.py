"""The /v1/subscriptions API end to end: every route's success and error paths, secrets shown
only at creation/rotation, rotation signing with both secrets, test deliveries and replay."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.helpers.polling import async_wait_until
from tests.helpers.receiver import Receiver
from tests.integration.notifier_harness import (
    Notifier,
    alert,
    publish,
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
    tmp = tmp_path_factory.mktemp("notifier-api")
    async with running_notifier(kafka_bootstrap, module_prefix, tmp) as worker:
        yield worker
    assert "whsec_" not in worker.process.log_text(), "a secret reached the log"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as r:
        yield r


async def test_auth_is_required(notifier: Notifier) -> None:
    async with notifier.client(token=None) as client:
        assert (await client.get("/v1/subscriptions")).status_code == 401
    async with notifier.client(token="wrong") as client:
        # An unknown token is 401 like a missing one (RFC 6750); 403 is a known token lacking
        # the scope (tests/integration/test_notifier_tenants.py).
        assert (await client.get("/v1/subscriptions")).status_code == 401
        assert (await client.post("/v1/subscriptions", json={})).status_code == 401


async def test_create_list_get_patch_delete(notifier: Notifier, receiver: Receiver) -> None:
    async with notifier.client() as client:
        created = await client.post(
            "/v1/subscriptions",
            json={"url": receiver.url, "description": "ops", "min_severity": "critical"},
        )
        assert created.status_code == 201
        body = created.json()
        sub_id, secret = body["id"], body["secret"]
        assert secret.startswith("whsec_") and body["enabled"] is True
        assert body["event_types"] == [
            "alert.firing",
            "alert.resolved",
            "stockpile.recommendation",
            "subscription.test",
        ]
        listed = (await client.get("/v1/subscriptions")).json()
        assert sub_id in {s["id"] for s in listed}
        assert "whsec_" not in str(listed) and "secret" not in str(listed)
        one = await client.get(f"/v1/subscriptions/{sub_id}")
        assert one.status_code == 200 and "secret" not in one.json()

        patched = await client.patch(
            f"/v1/subscriptions/{sub_id}", json={"materials": ["gallium"], "description": "x"}
        )
        assert patched.status_code == 200
        assert patched.json()["materials"] == ["gallium"]
        assert patched.json()["min_severity"] == "critical", "unset fields unchanged"
        bad = await client.patch(f"/v1/subscriptions/{sub_id}", json={"min_severity": "loud"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "min_severity"
        unknown_field = await client.patch(f"/v1/subscriptions/{sub_id}", json={"secret": "x"})
        assert unknown_field.status_code == 422
        refused = await client.patch(
            f"/v1/subscriptions/{sub_id}", json={"url": "https://10.0.0.1/hook"}
        )
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "url"

        assert (await client.delete(f"/v1/subscriptions/{sub_id}")).status_code == 204
        assert (await client.get(f"/v1/subscriptions/{sub_id}")).status_code == 404
        assert (await client.delete(f"/v1/subscriptions/{sub_id}")).status_code == 404


async def test_validation_errors_name_the_fields(notifier: Notifier) -> None:
    async with notifier.client() as client:
        response = await client.post(
            "/v1/subscriptions",
            json={
                "url": "https://hooks.example.com/x",
                "event_types": ["nope"],
                "materials": ["X"],
            },
        )
        assert response.status_code == 422
        fields = {e["field"] for e in response.json()["errors"]}
        assert fields == {"event_types.0", "materials.0"}
        missing = await client.post("/v1/subscriptions", json={"description": "no url"})
        assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "url"
        not_json = await client.post("/v1/subscriptions", content=b"{nope")
        assert not_json.status_code == 422
        http = await client.post("/v1/subscriptions", json={"url": "ftp://hooks.example.com/"})
        assert http.status_code == 422 and http.json()["errors"][0]["field"] == "url"


async def test_unknown_ids_are_404_everywhere(notifier: Notifier) -> None:
    missing = "sub_doesnotexist00"
    async with notifier.client() as client:
        for method, path in [
            ("GET", ""),
            ("PATCH", ""),
            ("DELETE", ""),
            ("POST", "/rotate-secret"),
            ("POST", "/test"),
            ("GET", "/deliveries"),
            ("POST", "/replay"),
            ("POST", "/enable"),
        ]:
            response = await client.request(method, f"/v1/subscriptions/{missing}{path}", json={})
            assert response.status_code == 404, (method, path, response.text)


async def test_rotation_signs_with_both_secrets_and_test_delivery(
    notifier: Notifier, receiver: Receiver
) -> None:
    sub_id, old_secret = await subscribe(notifier, receiver.url, materials=["gallium"])
    async with notifier.client() as client:
        rotated = await client.post(f"/v1/subscriptions/{sub_id}/rotate-secret")
        assert rotated.status_code == 200
        new_secret = rotated.json()["secret"]
        expires = datetime.fromisoformat(rotated.json()["previous_expires_at"])
        assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)
        queued = await client.post(f"/v1/subscriptions/{sub_id}/test")
    assert queued.status_code == 202 and new_secret != old_secret
    (webhook_id,) = queued.json()["webhook_ids"]
    await async_wait_until(_answered(receiver, 1), timeout=30, message="test delivery")
    (request,) = receiver.requests
    assert request.headers["webhook-id"] == webhook_id
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verify(new_secret, request)["type"] == "subscription.test"
    assert verify(old_secret, request)["data"]["subscription_id"] == sub_id
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(request.body, request.headers)


async def test_deliveries_filter_and_replay_resends_original_ids(
    notifier: Notifier, receiver: Receiver, kafka_bootstrap: str, module_prefix: str
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    sub_id, secret = await subscribe(notifier, receiver.url, materials=["indium"])
    await publish(kafka_bootstrap, module_prefix, [alert(n, material="indium") for n in (1, 2)])
    await async_wait_until(_answered(receiver, 2), timeout=30, message="two deliveries")
    original = [r.headers["webhook-id"] for r in receiver.requests]
    async with notifier.client() as client:

        async def recorded() -> bool:
            response = await client.get(
                f"/v1/subscriptions/{sub_id}/deliveries", params={"status": "succeeded"}
            )
            return len(response.json()) == 2

        await async_wait_until(recorded, timeout=10, message="deliveries recorded")
        none = await client.get(f"/v1/subscriptions/{sub_id}/deliveries?status=failed")
        assert none.status_code == 200 and none.json() == []
        bad = await client.get(f"/v1/subscriptions/{sub_id}/deliveries?status=bogus")
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
        no_since = await client.post(f"/v1/subscriptions/{sub_id}/replay", json={})
        assert no_since.status_code == 422 and no_since.json()["errors"][0]["field"] == "since"
        replay = await client.post(
            f"/v1/subscriptions/{sub_id}/replay", json={"since": since.isoformat()}
        )
        assert replay.status_code == 202
        future = await client.post(
            f"/v1/subscriptions/{sub_id}/replay",
            json={"since": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
        )
        assert future.status_code == 202 and future.json()["webhook_ids"] == []
    assert sorted(replay.json()["webhook_ids"]) == sorted(original)
    await async_wait_until(_answered(receiver, 4), timeout=30, message="replayed deliveries")
    resent = [r.headers["webhook-id"] for r in receiver.requests[2:]]
    assert resent == original, "same webhook-ids, same order"
    assert [verify(secret, r)["data"]["sequence"] for r in receiver.requests] == [1, 2, 1, 2]
    async with notifier.client() as client:
        listed = (await client.get(f"/v1/subscriptions/{sub_id}/deliveries")).json()
    assert sum(1 for d in listed if d["replay_of"]) == 2


async def test_enable_on_an_enabled_subscription_is_harmless(
    notifier: Notifier, receiver: Receiver
) -> None:
    sub_id, _ = await subscribe(notifier, receiver.url)
    async with notifier.client() as client:
        response = await client.post(f"/v1/subscriptions/{sub_id}/enable")
        assert response.status_code == 200 and response.json()["enabled"] is True
        assert (await client.delete(f"/v1/subscriptions/{sub_id}")).status_code == 204


def _answered(receiver: Receiver, n: int):  # type: ignore[no-untyped-def]
    async def reached() -> bool:
        return len(receiver.answered()) >= n

    return reached
