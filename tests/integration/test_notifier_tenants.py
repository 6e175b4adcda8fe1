"""Tenants, scopes and readiness of the notifier's /v1 API on a real worker and broker.

One worker with a token file of two tenants (and the harness's plain admin token). While it
starts, every /v1 answer is 503 with Retry-After and an ApiError body (never a 500). Then every
route of contracts/routes.py is walked: no or an unknown token is 401, a token lacking the
route's scope 403, the other tenant's subscription or silence 404 on every route that names
one; lists and creation are confined to the caller's tenant; the admin sees all.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mineral_sentinel.auth import TokenGrant, token_digest, token_file_text
from mineral_sentinel.contracts.api import ApiError
from mineral_sentinel.contracts.routes import Health, Route, routes_of
from tests.helpers.polling import async_wait_until
from tests.helpers.receiver import Receiver
from tests.integration.notifier_harness import (
    TOKEN,
    Notifier,
    running_receiver,
    start_notifier,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ALPHA = "alpha-token-rw"
BETA = "beta-token-rw"
BETA_READ = "beta-token-ro"
BETA_RISK = "beta-token-risk"
GRANTS = {
    ALPHA: TokenGrant(
        tenant="alpha", scopes=["subscriptions:read", "subscriptions:write", "silences:write"]
    ),
    BETA: TokenGrant(
        tenant="beta", scopes=["subscriptions:read", "subscriptions:write", "silences:write"]
    ),
    BETA_READ: TokenGrant(tenant="beta", scopes=["subscriptions:read"]),
    BETA_RISK: TokenGrant(tenant="beta", scopes=["risk:read", "events:write"]),
}
V1_ROUTES = tuple(r for r in routes_of("notifier") if r.auth)
COLLECTIONS = ("/v1/subscriptions", "/v1/silences")
"""Paths naming no object (list and create)."""
MISSING = {"sub_id": "sub_doesnotexist00", "silence_id": "sil_doesnotexist00"}
SINCE = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/v1/subscriptions/{sub_id}"): {"description": "changed"},
    ("POST", "/v1/subscriptions/{sub_id}/replay"): {"since": SINCE},
}


@dataclass
class Started:
    notifier: Notifier
    while_starting: list[tuple[str, int, dict[str, str], Any]]
    """(route, status, headers, body) of each /v1 answer before the first non-503."""


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as r:
        yield r


@pytest.fixture(scope="module")
async def started(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, receiver: Receiver
) -> AsyncIterator[Started]:
    tmp = tmp_path_factory.mktemp("notifier-tenants")
    tokens = tmp / "tokens.json"
    tokens.write_text(token_file_text({token_digest(t): g for t, g in GRANTS.items()}))
    env = {
        "SENTINEL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SENTINEL_TOPIC_PREFIX": f"t{uuid.uuid4().hex[:10]}.",
        "SENTINEL_DATA_DIR": str(tmp / "data"),
    }
    worker = start_notifier(
        env, tmp / "notifier.log", extra={"SENTINEL_API_TOKENS_FILE": str(tokens)}
    )
    try:
        seen = await _poll_while_starting(worker, receiver)
        yield Started(worker, seen)
    finally:
        worker.process.stop()
    log = worker.process.log_text()
    assert "whsec_" not in log, "a secret reached the log"
    assert not any(t in log for t in (ALPHA, BETA, BETA_READ, BETA_RISK, TOKEN)), "a token logged"


async def _poll_while_starting(
    worker: Notifier, receiver: Receiver
) -> list[tuple[str, int, dict[str, str], Any]]:
    """Ask a read and a write route from the moment the port opens until one is served."""
    seen: list[tuple[str, int, dict[str, str], Any]] = []
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(base_url=worker.base, headers=_auth(ALPHA), timeout=5) as client:
        while time.monotonic() < deadline:
            assert worker.process.running, worker.process.log_text()[-4000:]
            try:
                answers = [
                    ("GET /v1/subscriptions", await client.get("/v1/subscriptions")),
                    (
                        "POST /v1/subscriptions",
                        await client.post("/v1/subscriptions", json={"url": receiver.url}),
                    ),
                ]
            except httpx.TransportError:
                continue  # the port is not open yet
            for name, response in answers:
                seen.append((name, response.status_code, dict(response.headers), response.json()))
            if any(r.status_code != 503 for _, r in answers):
                return seen
    raise AssertionError(f"the notifier never served /v1: {seen[-2:]}")


async def test_every_v1_answer_while_starting_is_503_with_retry_after(started: Started) -> None:
    starting = started.while_starting
    assert starting, "no answer while starting"
    before_ready = [s for s in starting if s[1] == 503]
    # The web port opens before the worker has read its topics, so some answers are 503s.
    assert before_ready, f"no 503 observed while starting: {starting}"
    for name, status, _headers, body in starting:
        assert status in (503, 200, 201), (name, status, body)
    for _, _, headers, body in before_ready:
        assert int(headers["retry-after"]) >= 1
        error = ApiError.model_validate(body)
        assert error.status == 503 and error.message.startswith("not ready (starting)")
    async with started.notifier.client(token=None) as client:
        ready = await client.get("/readyz")
        health = await client.get("/healthz")
    assert ready.status_code == 200
    assert Health.model_validate(ready.json()) == Health(status="ok", service="notifier")
    assert Health.model_validate(health.json()) == Health(status="ok", service="notifier")


async def _create(started: Started, token: str, url: str, **fields: Any) -> dict[str, Any]:
    async with started.notifier.client(token=token) as client:
        response = await client.post("/v1/subscriptions", json={"url": url, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _silence(started: Started, token: str) -> dict[str, Any]:
    ends_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = {"ends_at": ends_at, "comment": "walk", "created_by": "tests"}
    async with started.notifier.client(token=token) as client:
        response = await client.post("/v1/silences", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _path(route: Route, ids: dict[str, str]) -> str:
    path = route.path
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


async def _call(
    started: Started, token: str | None, route: Route, ids: dict[str, str]
) -> httpx.Response:
    body = BODIES.get((route.method, route.path))
    async with started.notifier.client(token=token) as client:
        return await client.request(route.method, _path(route, ids), json=body)


async def test_walk_every_route_with_no_token_an_unknown_one_and_one_lacking_the_scope(
    started: Started, receiver: Receiver
) -> None:
    needs_body = {
        (r.method, r.path)
        for r in V1_ROUTES
        if r.request_model is not None and r.path not in COLLECTIONS
    }
    assert needs_body == set(BODIES), "every route with a request body needs one in BODIES"
    own = await _create(started, ALPHA, receiver.url)
    ids = {"sub_id": own["id"], "silence_id": (await _silence(started, ALPHA))["id"]}
    for route in V1_ROUTES:
        for token, error in ((None, None), ("no-such-token", "invalid_token")):
            response = await _call(started, token, route, ids)
            assert response.status_code == 401, (route.method, route.path, response.text)
            challenge = response.headers["WWW-Authenticate"]
            assert challenge.startswith('Bearer realm="sentinel"')
            assert error is None or f'error="{error}"' in challenge
            assert ApiError.model_validate(response.json()).status == 401
        response = await _call(started, BETA_RISK, route, ids)
        assert response.status_code == 403, (route.method, route.path, response.text)
        assert f'scope="{route.scope}"' in response.headers["WWW-Authenticate"]
        if route.scope in ("subscriptions:write", "silences:write"):
            response = await _call(started, BETA_READ, route, ids)
            assert response.status_code == 403, (route.method, route.path)


async def test_walk_every_route_naming_a_subscription_with_the_other_tenants_token(
    started: Started, receiver: Receiver
) -> None:
    alpha = await _create(started, ALPHA, receiver.url, description="alpha's")
    ids = {"sub_id": alpha["id"], "silence_id": (await _silence(started, ALPHA))["id"]}
    with_id = [r for r in V1_ROUTES if r.path not in COLLECTIONS]
    assert all("{" in r.path for r in with_id), "every route but list and create names an id"
    assert len(with_id) == len(V1_ROUTES) - 2 * len(COLLECTIONS)
    for route in with_id:
        response = await _call(started, BETA, route, ids)
        assert response.status_code == 404, (route.method, route.path, response.text)
        error = ApiError.model_validate(response.json())
        missing = await _call(started, BETA, route, MISSING)
        assert missing.status_code == 404
        expected = missing.json()["message"]
        for name, value in MISSING.items():
            expected = expected.replace(value, ids[name])
        assert error.message == expected, "another tenant's id is answered like a missing one"
    # Nothing of alpha's changed, and alpha's own token still reaches every route.
    for route in sorted(with_id, key=lambda r: r.method == "DELETE"):
        response = await _call(started, ALPHA, route, ids)
        assert response.status_code in (200, 202, 204), (route.method, route.path, response.text)
    async with started.notifier.client(token=ALPHA) as client:
        assert (await client.get(f"/v1/subscriptions/{alpha['id']}")).status_code == 404
        expired = await client.get(f"/v1/silences/{ids['silence_id']}")
        assert expired.status_code == 200 and expired.json()["state"] == "expired"


async def test_lists_and_creation_are_confined_to_the_tenant_admin_sees_all(
    started: Started, receiver: Receiver
) -> None:
    alpha = await _create(started, ALPHA, receiver.url)
    beta = await _create(started, BETA, receiver.url)
    assert (alpha["tenant"], beta["tenant"]) == ("alpha", "beta")
    for_alpha = await _create(started, TOKEN, receiver.url, tenant="alpha")
    assert for_alpha["tenant"] == "alpha"
    admin_own = await _create(started, TOKEN, receiver.url)
    assert admin_own["tenant"] == "default"

    async def listed(token: str) -> set[str]:
        async with started.notifier.client(token=token) as client:
            response = await client.get("/v1/subscriptions")
        assert response.status_code == 200
        assert token == TOKEN or all(s["tenant"] == GRANTS[token].tenant for s in response.json())
        return {s["id"] for s in response.json()}

    ids = {s["id"] for s in (alpha, beta, for_alpha, admin_own)}
    assert {alpha["id"], for_alpha["id"]} <= await listed(ALPHA)
    assert not {beta["id"], admin_own["id"]} & await listed(ALPHA)
    assert beta["id"] in await listed(BETA_READ)
    assert not {alpha["id"], for_alpha["id"], admin_own["id"]} & await listed(BETA)
    assert ids <= await listed(TOKEN)
    async with started.notifier.client(token=BETA) as client:
        refused = await client.post(
            "/v1/subscriptions", json={"url": receiver.url, "tenant": "alpha"}
        )
        assert refused.status_code == 403 and ApiError.model_validate(refused.json())
        own_read = await client.get(f"/v1/subscriptions/{beta['id']}")
        assert own_read.status_code == 200 and own_read.json()["tenant"] == "beta"
    async with started.notifier.client(token=TOKEN) as client:
        for sub_id in ids:
            assert (await client.get(f"/v1/subscriptions/{sub_id}/deliveries")).status_code == 200


async def test_bodies_and_queries_are_validated_as_strictly_as_the_spec(
    started: Started, receiver: Receiver
) -> None:
    own = await _create(started, ALPHA, receiver.url)
    async with started.notifier.client(token=ALPHA) as client:
        for since in (-1.5, 0, "not a time", None):
            response = await client.post(
                f"/v1/subscriptions/{own['id']}/replay", json={"since": since}
            )
            assert response.status_code == 422, (since, response.text)
            assert response.json()["errors"][0]["field"] == "since"
        for query in ("status=null", "status=", "status=failed&status=succeeded"):
            response = await client.get(f"/v1/subscriptions/{own['id']}/deliveries?{query}")
            assert response.status_code == 422, (query, response.text)
            assert response.json()["errors"][0]["field"] == "status"


async def test_token_file_errors_stop_the_worker_at_start(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    bad = tmp_path / "tokens.json"
    bad.write_text('{"abc": {"tenant": "alpha", "scopes": ["subscriptions:read"]}}')
    env = {
        "SENTINEL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SENTINEL_TOPIC_PREFIX": f"t{uuid.uuid4().hex[:10]}.",
        "SENTINEL_DATA_DIR": str(tmp_path / "data"),
    }
    worker = start_notifier(env, tmp_path / "bad.log", extra={"SENTINEL_API_TOKENS_FILE": str(bad)})

    async def exited() -> bool:
        return not worker.process.running

    await async_wait_until(exited, timeout=60, interval=0.2, message="worker refuses to start")
    assert worker.process.process is not None and worker.process.process.returncode == 2
    log = worker.process.log_text()
    assert f"{bad}: invalid token file: abc.[key]: String should match pattern" in log, log[-2000:]


async def test_unserved_methods_and_paths_answer_an_api_error(started: Started) -> None:
    async with started.notifier.client(token=ALPHA) as client:
        for method, path in (("PUT", "/v1/subscriptions"), ("DELETE", "/healthz")):
            response = await client.request(method, path)
            assert response.status_code == 405, (method, path, response.text)
            assert ApiError.model_validate(response.json()).status == 405
            assert method not in response.headers["Allow"]
        for path in ("/", "/v1/nothing-here", "/router/"):
            response = await client.get(path)
            assert response.status_code == 404, (path, response.text)
            assert ApiError.model_validate(response.json()).status == 404
