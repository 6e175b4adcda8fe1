"""Tokens, tenants and scopes: the keyring (401 vs 403), the token file's precise errors, and the
view guard's order (503 until ready, then token, then query) on a fake view."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from multidict import MultiDict

from mineral_sentinel.auth import (
    DEFAULT_TENANT,
    SCOPES,
    Principal,
    Refusal,
    TokenFileError,
    TokenGrant,
    keyring_of,
    load_keyring,
    load_token_file,
    parse_token_file,
    token_digest,
    token_file_text,
)
from mineral_sentinel.config import Settings
from mineral_sentinel.contracts.routes import ROUTES, QueryParam, Route, route_for
from mineral_sentinel.webkit import RETRY_AFTER_S, guarded, query_errors

pytestmark = pytest.mark.unit

ACME = TokenGrant(tenant="acme", scopes=["subscriptions:read", "subscriptions:write"])
READER = TokenGrant(tenant="acme", scopes=["risk:read"])
OPS = TokenGrant(tenant="ops", scopes=["admin"])
KEYRING = keyring_of(
    ["plain-local"],
    {token_digest("acme-token"): ACME, token_digest("reader"): READER, token_digest("op"): OPS},
)


def test_plain_tokens_are_admins_of_the_default_tenant() -> None:
    found = KEYRING.authorize("Bearer plain-local", "events:write")
    assert found == Principal(DEFAULT_TENANT, frozenset({"admin"}))
    assert isinstance(found, Principal) and found.sees("acme") and found.sees(DEFAULT_TENANT)


def test_a_file_grant_gives_its_tenant_and_only_its_scopes() -> None:
    found = KEYRING.authorize("Bearer acme-token", "subscriptions:write")
    assert isinstance(found, Principal)
    assert found.tenant == "acme" and not found.is_admin
    assert found.sees("acme") and not found.sees("other") and not found.sees(DEFAULT_TENANT)
    assert not found.can("risk:read") and not found.can("admin")


def test_admin_of_the_file_has_every_scope_and_sees_every_tenant() -> None:
    for scope in SCOPES:
        found = KEYRING.authorize("bearer op", scope)  # the scheme is case-insensitive
        assert isinstance(found, Principal) and found.sees("acme")


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer   ", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "acme-token", "Bearer a b"],
)
def test_missing_or_malformed_token_is_401_invalid_request(header: str) -> None:
    found = KEYRING.authorize(header, "risk:read")
    assert isinstance(found, Refusal)
    assert (found.status, found.error) == (401, "invalid_request")
    assert found.www_authenticate() == 'Bearer realm="sentinel"'


def test_unknown_token_is_401_invalid_token() -> None:
    found = KEYRING.authorize("Bearer acme-token-but-longer", "risk:read")
    assert isinstance(found, Refusal) and (found.status, found.error) == (401, "invalid_token")
    assert 'error="invalid_token"' in found.www_authenticate()


def test_known_token_lacking_the_scope_is_403_naming_the_scope() -> None:
    found = KEYRING.authorize("Bearer reader", "events:write")
    assert isinstance(found, Refusal) and found.status == 403
    challenge = found.www_authenticate()
    assert 'error="insufficient_scope"' in challenge and 'scope="events:write"' in challenge


def test_no_tokens_configured_refuses_everything() -> None:
    found = keyring_of([], {}).authorize("Bearer anything", "risk:read")
    assert isinstance(found, Refusal) and found.status == 401


def test_the_keyring_holds_digests_never_plain_tokens() -> None:
    assert "plain-local" not in repr(KEYRING) and "acme-token" not in repr(KEYRING)
    assert set(KEYRING.principals) >= {token_digest("plain-local"), token_digest("acme-token")}


def test_token_file_round_trip_and_load(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(token_file_text({token_digest("t1"): ACME}), encoding="utf-8")
    assert load_token_file(path) == {token_digest("t1"): ACME}
    keyring = load_keyring(["p"], path)
    assert isinstance(keyring.authorize("Bearer t1", "subscriptions:read"), Principal)
    assert isinstance(keyring.authorize("Bearer p", "risk:read"), Principal)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{nope", "invalid token file: (root): Invalid JSON"),
        ('{"not-a-digest": {"tenant": "a", "scopes": ["admin"]}}', "not-a-digest.[key]"),
        (
            json.dumps({"a" * 64: {"tenant": "a", "scopes": ["root"]}}),
            f"{'a' * 64}.scopes.0: Input should be",
        ),
        (json.dumps({"a" * 64: {"scopes": ["admin"]}}), f"{'a' * 64}.tenant: Field required"),
        (
            json.dumps({"a" * 64: {"tenant": "Acme Corp", "scopes": ["admin"]}}),
            f"{'a' * 64}.tenant: String should match pattern",
        ),
        (json.dumps({"a" * 64: {"tenant": "a", "scopes": []}}), "scopes: List should have"),
        (
            json.dumps({"a" * 64: {"tenant": "a", "scopes": ["admin"], "token": "x"}}),
            "token: Extra inputs are not permitted",
        ),
        ("[]", "(root): Input should be an object"),
    ],
)
def test_bad_token_files_fail_with_the_file_and_the_field(content: str, expected: str) -> None:
    with pytest.raises(TokenFileError) as raised:
        parse_token_file(content, "/etc/sentinel/tokens.json")
    message = str(raised.value)
    assert message.startswith("/etc/sentinel/tokens.json: ")
    assert expected in message, message


def test_a_missing_token_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError, match=r"missing\.json: cannot read the token file"):
        load_keyring([], tmp_path / "missing.json")


def test_settings_read_the_token_file_path_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENTINEL_API_TOKENS_FILE", "/run/secrets/tokens.json")
    monkeypatch.setenv("SENTINEL_API_TOKENS", "a, b")
    settings = Settings()
    assert settings.api_tokens_file == Path("/run/secrets/tokens.json")
    assert settings.api_tokens == ["a", "b"]


def test_every_v1_route_names_a_known_scope_and_open_routes_none() -> None:
    for route in ROUTES:
        assert (route.scope is not None) == route.path.startswith("/v1/"), route
        assert route.scope is None or route.scope in SCOPES
    assert route_for("risk", "POST", "/v1/events").scope == "events:write"
    assert {r.scope for r in ROUTES if r.service == "risk" and r.method == "GET" and r.auth} == {
        "risk:read"
    }


# ---------------------------------------------------------------------------- query parameters

STATUS = QueryParam("status", enum=("firing", "resolved"))
SCOPE = QueryParam("scope", enum=("all", "local"), default="all")


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        (MultiDict(), []),
        (MultiDict(status="firing", scope="local"), []),
        (MultiDict(scope="null"), [("scope", "enum")]),
        (MultiDict(scope=""), [("scope", "enum")]),
        (MultiDict([("status", "firing"), ("status", "resolved")]), [("status", "duplicate")]),
        (MultiDict(status="FIRING", scope="none"), [("status", "enum"), ("scope", "enum")]),
        (MultiDict(other="whatever"), []),
    ],
)
def test_query_parameters_are_checked_against_the_route(
    query: MultiDict[str], errors: list[tuple[str, str]]
) -> None:
    found = query_errors(query, (STATUS, SCOPE))
    assert [(e["field"], e["type"]) for e in found] == errors


def test_typed_and_required_query_parameters() -> None:
    params = (
        QueryParam("limit", type="integer", required=True),
        QueryParam("ratio", type="number"),
        QueryParam("flag", type="boolean"),
    )
    assert [e["field"] for e in query_errors(MultiDict(), params)] == ["limit"]
    bad = MultiDict(limit="1.5", ratio="nan", flag="yes")
    assert [e["type"] for e in query_errors(bad, params)] == ["type", "type", "type"]
    good = MultiDict(limit="-3", ratio="0.25", flag="false")
    assert query_errors(good, params) == []


# ---------------------------------------------------------------------------- the view guard


class _View:
    def json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
        return status, body, headers or {}


def _request(authorization: str | None, **query: str) -> Any:
    headers = {} if authorization is None else {"Authorization": authorization}
    return SimpleNamespace(headers=headers, query=MultiDict(query))


ALERTS = route_for("risk", "GET", "/v1/alerts")


def _call(route: Route, ready: tuple[Any, str], request: Any) -> Any:
    seen: list[Principal] = []

    async def handler(view: Any, request: Any, principal: Principal) -> Any:
        seen.append(principal)
        return 200, {"tenant": principal.tenant}, {}

    wrapped = guarded(route, KEYRING, lambda: ready)(handler)
    return asyncio.run(wrapped(_View(), request))


def test_not_ready_is_503_with_retry_after_before_anything_else() -> None:
    for status in ("starting", "degraded"):
        code, body, headers = _call(ALERTS, (status, "reading topics"), _request(None))
        assert code == 503 and headers["Retry-After"] == str(RETRY_AFTER_S)
        assert body == {
            "status": 503,
            "message": f"not ready ({status}): reading topics",
            "errors": [],
        }


def test_guard_order_token_then_scope_then_query_then_the_handler() -> None:
    ok = ("ok", "")
    code, body, headers = _call(ALERTS, ok, _request(None))
    assert code == 401 and headers["WWW-Authenticate"].startswith("Bearer realm=")
    code, _, headers = _call(ALERTS, ok, _request("Bearer wrong"))
    assert code == 401 and 'error="invalid_token"' in headers["WWW-Authenticate"]
    code, body, headers = _call(ALERTS, ok, _request("Bearer acme-token"))
    assert code == 403 and body["message"] == "the token lacks the scope 'risk:read'"
    code, body, _ = _call(ALERTS, ok, _request("Bearer reader", scope="null"))
    assert code == 422 and body["errors"][0]["field"] == "scope"
    code, body, _ = _call(ALERTS, ok, _request("Bearer reader", scope="local"))
    assert (code, body) == (200, {"tenant": "acme"})


def test_open_routes_cannot_be_guarded() -> None:
    with pytest.raises(ValueError, match="open route"):
        guarded(route_for("risk", "GET", "/healthz"), KEYRING, lambda: ("ok", ""))
