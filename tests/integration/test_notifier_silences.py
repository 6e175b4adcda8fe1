"""Silences on a real broker with two notifier workers sharing the silences topic.

Tenant alpha silences its gallium deliveries; tenant beta subscribes to the same alerts. While
the silence lasts, alpha's gallium messages are recorded `silenced` (by whichever worker fans
them out, also after one worker is stopped) and none reaches alpha's endpoints, while cobalt and
beta's deliveries flow. Once `ends_at` passes (or the silence is deleted) new messages are
delivered, without the muted ones; replay re-sends those on request. Beta can neither see nor
delete alpha's silence.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mineral_sentinel.auth import TokenGrant, token_digest, token_file_text
from mineral_sentinel.contracts.api import ApiError
from mineral_sentinel.contracts.silences import SilenceOut
from tests.helpers.polling import async_wait_until
from tests.helpers.receiver import Receiver
from tests.integration.notifier_harness import (
    TOKEN,
    Notifier,
    alert,
    publish,
    running_receiver,
    start_notifier,
    verify,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ALPHA = "alpha-silences-token"
BETA = "beta-silences-token"
ALL_SCOPES: list[Any] = ["subscriptions:read", "subscriptions:write", "silences:write"]
GRANTS = {
    ALPHA: TokenGrant(tenant="alpha", scopes=ALL_SCOPES),
    BETA: TokenGrant(tenant="beta", scopes=ALL_SCOPES),
}
SILENCED = 'sentinel_notifier_silenced_total{event_type="alert.firing"}'


@dataclass
class Cluster:
    bootstrap: str
    prefix: str
    first: Notifier
    second: Notifier
    receiver: Receiver


@pytest.fixture(scope="module")
async def cluster(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    tmp = tmp_path_factory.mktemp("notifier-silences")
    tokens = tmp / "tokens.json"
    tokens.write_text(token_file_text({token_digest(t): g for t, g in GRANTS.items()}))
    prefix = f"t{uuid.uuid4().hex[:10]}."
    env = {
        "SENTINEL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SENTINEL_TOPIC_PREFIX": prefix,
        "SENTINEL_DATA_DIR": str(tmp / "data"),
    }
    extra = {"SENTINEL_API_TOKENS_FILE": str(tokens)}
    async with running_receiver() as receiver:
        first = start_notifier(env, tmp / "first.log", extra=extra)
        second = start_notifier(env, tmp / "second.log", extra=extra)
        try:
            await first.wait_ready(timeout=90)
            await second.wait_ready(timeout=90)
            yield Cluster(kafka_bootstrap, prefix, first, second, receiver)
        finally:
            first.process.stop()
            second.process.stop()


async def _subscribe(worker: Notifier, token: str, url: str) -> tuple[str, str]:
    async with worker.client(token=token) as client:
        response = await client.post(
            "/v1/subscriptions", json={"url": url, "min_severity": "watch"}
        )
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["secret"]


async def _silence(worker: Notifier, token: str, **body: Any) -> SilenceOut:
    payload = {"comment": "supplier maintenance", "created_by": "ops@alpha", **body}
    async with worker.client(token=token) as client:
        response = await client.post("/v1/silences", json=payload)
    assert response.status_code == 201, response.text
    return SilenceOut.model_validate(response.json())


async def _visible_on(worker: Notifier, silence_id: str) -> None:
    async def seen() -> bool:
        async with worker.client(token=ALPHA) as client:
            return (await client.get(f"/v1/silences/{silence_id}")).status_code == 200

    await async_wait_until(seen, timeout=20, interval=0.1, message="silence on every worker")


async def _deliveries(worker: Notifier, sub_id: str, status: str) -> list[dict[str, Any]]:
    """Asked again while the worker answers 503 (taking over partitions after a stop)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        async with worker.client(token=ALPHA) as client:
            response = await client.get(f"/v1/subscriptions/{sub_id}/deliveries?status={status}")
        if response.status_code != 503 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)  # poll interval, not synchronisation: the deadline bounds it
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def _sequences(receiver: Receiver, path: str, secret: str, material: str) -> list[int]:
    """Sequence numbers of `material` alerts delivered (2xx) to `path`, verified, in order."""
    found = []
    for request in receiver.answered():
        if request.path == path:
            data = verify(secret, request)["data"]
            if data["material"] == material:
                found.append(data["sequence"])
    return found


async def test_a_second_tenant_cannot_see_or_delete_and_delete_lets_messages_flow(
    cluster: Cluster,
) -> None:
    worker, receiver = cluster.second, cluster.receiver
    sub_id, secret = await _subscribe(worker, ALPHA, receiver.url + "/deleted-alpha")
    muted = await _silence(
        worker,
        ALPHA,
        ends_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        matchers={"materials": ["germanium"], "subscription_ids": [sub_id]},
    )
    assert (muted.tenant, muted.state, muted.created_by) == ("alpha", "active", "ops@alpha")
    async with worker.client(token=BETA) as beta:
        for method in ("GET", "DELETE"):
            response = await beta.request(method, f"/v1/silences/{muted.id}")
            assert response.status_code == 404, (method, response.text)
            missing = await beta.request(method, "/v1/silences/sil_doesnotexist00")
            assert ApiError.model_validate(response.json()).message == missing.json()[
                "message"
            ].replace("sil_doesnotexist00", muted.id), "answered exactly like a missing id"
        listed = await beta.get("/v1/silences")
        assert listed.status_code == 200 and muted.id not in {s["id"] for s in listed.json()}
        for_alpha = await beta.post(
            "/v1/silences",
            json={
                "tenant": "alpha",
                "ends_at": muted.ends_at.isoformat(),
                "comment": "x",
                "created_by": "beta",
            },
        )
        assert for_alpha.status_code == 403, for_alpha.text
        foreign_sub = await beta.post(
            "/v1/silences",
            json={
                "ends_at": muted.ends_at.isoformat(),
                "comment": "x",
                "created_by": "beta",
                "matchers": {"subscription_ids": [sub_id]},
            },
        )
        assert foreign_sub.status_code == 422, foreign_sub.text
        assert foreign_sub.json()["errors"][0]["field"] == "matchers.subscription_ids.0"
    async with worker.client(token=TOKEN) as admin:
        assert muted.id in {s["id"] for s in (await admin.get("/v1/silences")).json()}
    async with worker.client(token=ALPHA) as alpha:
        for bad in (
            {"ends_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()},
            {"ends_at": (datetime.now(UTC) + timedelta(days=31)).isoformat()},
        ):
            refused = await alpha.post(
                "/v1/silences", json={"comment": "c", "created_by": "me", **bad}
            )
            assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == (
                "ends_at"
            ), refused.text
    await _visible_on(cluster.first, muted.id)

    await publish(cluster.bootstrap, cluster.prefix, [alert(1, material="germanium")])

    async def recorded_silenced() -> bool:
        return len(await _deliveries(worker, sub_id, "silenced")) == 1

    await async_wait_until(recorded_silenced, timeout=30, message="germanium 1 silenced")
    async with worker.client(token=ALPHA) as alpha:
        assert (await alpha.delete(f"/v1/silences/{muted.id}")).status_code == 204
        after = SilenceOut.model_validate((await alpha.get(f"/v1/silences/{muted.id}")).json())
        assert after.state == "expired" and after.ends_at < muted.ends_at
        expired = (await alpha.get("/v1/silences?state=expired")).json()
        assert muted.id in {s["id"] for s in expired}

    async def expired_everywhere() -> bool:
        async with cluster.first.client(token=ALPHA) as client:
            body = (await client.get(f"/v1/silences/{muted.id}")).json()
        return bool(body["state"] == "expired")

    await async_wait_until(expired_everywhere, timeout=20, interval=0.1)
    await publish(cluster.bootstrap, cluster.prefix, [alert(2, material="germanium")])

    async def delivered() -> bool:
        return _sequences(receiver, "/hook/deleted-alpha", secret, "germanium") == [2]

    await async_wait_until(delivered, timeout=30, message="germanium 2 delivered after delete")
    assert len(await _deliveries(worker, sub_id, "silenced")) == 1, "no flood of the muted one"


async def test_two_workers_one_stopped_mid_silence_then_messages_flow_after_ends_at(
    cluster: Cluster,
) -> None:
    first, second, receiver = cluster.first, cluster.second, cluster.receiver
    alpha_subs = [await _subscribe(first, ALPHA, f"{receiver.url}/alpha{n}") for n in (1, 2)]
    beta_sub = await _subscribe(first, BETA, f"{receiver.url}/beta")
    ends_at = datetime.now(UTC) + timedelta(seconds=40)
    muted = await _silence(
        first,
        ALPHA,
        ends_at=ends_at.isoformat(),
        matchers={"materials": ["gallium"], "min_severity": "warning"},
    )
    await _visible_on(second, muted.id)
    async with second.client(token=ALPHA) as client:
        assert muted.id in {s["id"] for s in (await client.get("/v1/silences")).json()}

    await publish(
        cluster.bootstrap,
        cluster.prefix,
        [alert(1), alert(2), alert(1, material="cobalt")],
    )

    async def silenced_on_alpha(count: int) -> bool:
        for sub_id, _ in alpha_subs:
            if len(await _deliveries(second, sub_id, "silenced")) != count:
                return False
        return True

    async def first_batch() -> bool:
        flowing = all(
            _sequences(receiver, f"/hook/alpha{n}", secret, "cobalt") == [1]
            for n, (_, secret) in zip((1, 2), alpha_subs, strict=True)
        )
        beta = _sequences(receiver, "/hook/beta", beta_sub[1], "gallium") == [1, 2]
        return flowing and beta and await silenced_on_alpha(2)

    await async_wait_until(first_batch, timeout=60, message="first batch silenced / delivered")
    silenced_by_first = await first.metric(SILENCED)

    first.process.stop()
    await publish(cluster.bootstrap, cluster.prefix, [alert(3), alert(4)])
    assert datetime.now(UTC) < ends_at, "the test was too slow: batch 2 not inside the silence"

    async def second_batch() -> bool:
        beta = _sequences(receiver, "/hook/beta", beta_sub[1], "gallium") == [1, 2, 3, 4]
        return beta and await silenced_on_alpha(4)

    await async_wait_until(second_batch, timeout=90, message="the survivor silences batch 2")

    async def ended() -> bool:
        async with second.client(token=ALPHA) as client:
            response = await client.get(f"/v1/silences/{muted.id}")
        # 503 while the survivor takes over the stopped worker's partitions: ask again
        return response.status_code == 200 and response.json()["state"] == "expired"

    await async_wait_until(ended, timeout=60, interval=0.2, message="silence expired")
    await publish(cluster.bootstrap, cluster.prefix, [alert(5)])

    async def third_batch() -> bool:
        return all(
            _sequences(receiver, f"/hook/alpha{n}", secret, "gallium") == [5]
            for n, (_, secret) in zip((1, 2), alpha_subs, strict=True)
        )

    await async_wait_until(third_batch, timeout=30, message="gallium 5 delivered after ends_at")
    for sub_id, _ in alpha_subs:
        silenced = await _deliveries(second, sub_id, "silenced")
        assert len(silenced) == 4, "nothing muted was sent later"
        assert {d["silenced_by"] for d in silenced} == {muted.id}
        assert all(d["attempts"] == [] for d in silenced)
    assert silenced_by_first + await second.metric(SILENCED) >= 2 * len(alpha_subs) * 2

    # Replay is the explicit way to get what was muted.
    sub_id, secret = alpha_subs[0]
    async with second.client(token=ALPHA) as client:
        since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        replay = await client.post(f"/v1/subscriptions/{sub_id}/replay", json={"since": since})
    assert replay.status_code == 202, replay.text

    async def replayed() -> bool:
        return sorted(_sequences(receiver, "/hook/alpha1", secret, "gallium")) == [1, 2, 3, 4, 5, 5]

    await async_wait_until(replayed, timeout=30, message="replay sends the muted messages")
