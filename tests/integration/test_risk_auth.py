"""Readiness, tokens and scopes of the risk service's /v1 API on a real worker and broker.

While the worker starts (port open, not ready) every /v1 route answers 503 with Retry-After and
an ApiError body, never a 500. Then every risk route of contracts/routes.py is walked with no
token, an unknown one (401), a second tenant's token lacking the route's scope (403) and that
tenant's token with the scope (served); query parameters are checked against their enums.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mineral_sentinel.auth import TokenGrant, token_digest, token_file_text
from mineral_sentinel.contracts.api import ApiError
from mineral_sentinel.contracts.routes import Health, Route, routes_of
from tests.integration.risk_harness import RiskWorker

pytestmark = pytest.mark.integration

READER = "beta-risk-reader"
WRITER = "beta-events-writer"
SUBSCRIBER = "beta-subscriptions"
GRANTS = {
    READER: TokenGrant(tenant="beta", scopes=["risk:read"]),
    WRITER: TokenGrant(tenant="beta", scopes=["events:write"]),
    SUBSCRIBER: TokenGrant(tenant="beta", scopes=["subscriptions:read", "subscriptions:write"]),
}
V1_ROUTES = tuple(r for r in routes_of("risk") if r.auth)
EVENT = {
    "type": "price_observed",
    "event_id": "auth-walk-1",
    "material": "gallium",
    "observed_at": "2024-06-03T16:00:00Z",
    "price": 312.5,
    "currency": "USD",
    "unit": "kg",
    "source": "fastmarkets",
}


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _call(worker: RiskWorker, route: Route, token: str | None, **params: str) -> httpx.Response:
    path = route.path.replace("{code}", "gallium")
    body = EVENT if route.method == "POST" else None
    return httpx.request(
        route.method, worker.url + path, headers=_auth(token), json=body, params=params, timeout=10
    )


def _poll_while_starting(worker: RiskWorker) -> list[tuple[str, int, dict[str, str], Any]]:
    """Ask every /v1 route, with tokens holding the scopes, until one is served."""
    seen: list[tuple[str, int, dict[str, str], Any]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert worker.running, worker.process.log_text()[-4000:]
        try:
            answers = [
                (route, _call(worker, route, READER if route.method == "GET" else WRITER))
                for route in V1_ROUTES
            ]
        except httpx.TransportError:
            continue  # the port is not open yet
        for route, response in answers:
            name = f"{route.method} {route.path}"
            seen.append((name, response.status_code, dict(response.headers), response.json()))
        if all(r.status_code != 503 for _, r in answers):
            return seen
    raise AssertionError(f"the risk worker never served /v1: {seen[-4:]}")


def test_risk_v1_is_503_until_ready_then_tokens_and_scopes_are_enforced(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(token_file_text({token_digest(t): g for t, g in GRANTS.items()}))
    env = {**service_env, "SENTINEL_API_TOKENS_FILE": str(tokens)}
    worker = RiskWorker(env, tmp_path / "worker.log")
    worker.process.start()
    try:
        starting = _poll_while_starting(worker)
        unready = [s for s in starting if s[1] == 503]
        assert unready, f"no 503 observed while starting: {starting[:4]}"
        for name, status, headers, body in starting:
            assert status < 500 or status == 503, (name, status, body)
            if status == 503:
                assert int(headers["retry-after"]) >= 1, name
                assert ApiError.model_validate(body).status == 503
        worker.wait_ready()
        for path in ("/healthz", "/readyz"):
            health = httpx.get(worker.url + path, timeout=5)
            assert health.status_code == 200
            assert Health.model_validate(health.json()) == Health(status="ok", service="risk")

        for route in V1_ROUTES:
            where = (route.method, route.path)
            for token, error in ((None, None), ("no-such-token", "invalid_token")):
                response = _call(worker, route, token)
                assert response.status_code == 401, where
                challenge = response.headers["WWW-Authenticate"]
                assert error is None or f'error="{error}"' in challenge, where
                assert ApiError.model_validate(response.json()).status == 401
            lacking = WRITER if route.scope == "risk:read" else READER
            for token in (lacking, SUBSCRIBER):
                response = _call(worker, route, token)
                assert response.status_code == 403, (where, token, response.text)
                assert f'scope="{route.scope}"' in response.headers["WWW-Authenticate"]
            holding = READER if route.scope == "risk:read" else WRITER
            response = _call(worker, route, holding)
            assert response.status_code in (200, 202, 404), (where, response.text)
            admin = _call(worker, route, "test-token")  # SENTINEL_API_TOKENS: admin of default
            assert admin.status_code in (200, 202, 404), (where, admin.text)

        with_scope = {
            r.path: r for r in V1_ROUTES if any(p.name == "scope" for p in r.query_params)
        }
        assert set(with_scope) == {"/v1/materials", "/v1/alerts", "/v1/recommendations"}
        for route in with_scope.values():
            for value in ("null", "", "LOCAL"):
                response = _call(worker, route, READER, scope=value)
                assert response.status_code == 422, (route.path, value, response.text)
                assert response.json()["errors"][0]["field"] == "scope"
            assert _call(worker, route, READER, scope="local").status_code == 200
        alerts = next(r for r in V1_ROUTES if r.path == "/v1/alerts")
        assert _call(worker, alerts, READER, status="null").status_code == 422
    finally:
        worker.stop()
    assert not any(t in worker.process.log_text() for t in GRANTS), "a token reached the log"
