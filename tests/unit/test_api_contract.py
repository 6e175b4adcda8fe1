"""The HTTP contract's details the services rely on: tenant migration of stored subscriptions,
strict request bodies, ApiError on every error response, Retry-After on every 503, and Health
bodies that validate against their published model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from mineral_sentinel import schemagen
from mineral_sentinel.contracts.routes import ROUTES, Health
from mineral_sentinel.contracts.subscriptions import (
    ReplayRequest,
    Subscription,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionPatch,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 1, tzinfo=UTC)
STORED_BEFORE_TENANTS = {
    "type": "subscription",
    "id": "sub_0123456789abcdef",
    "url": "https://hooks.example.com/x",
    "created_at": T0.isoformat(),
    "updated_at": T0.isoformat(),
    "secrets": [{"value": "whsec_" + "A" * 43 + "="}],
}


def test_a_subscription_stored_before_tenants_belongs_to_default() -> None:
    sub = Subscription.model_validate_json(json.dumps(STORED_BEFORE_TENANTS))
    assert sub.tenant == "default"
    assert SubscriptionOut.of(sub).tenant == "default"
    again = Subscription.model_validate_json(sub.model_dump_json())
    assert again.tenant == "default"


@pytest.mark.parametrize("since", [-1.5, 0, 1700000000, "yesterday", None, True])
def test_replay_since_must_be_an_rfc3339_string(since: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        ReplayRequest.model_validate_json(json.dumps({"since": since}))
    assert raised.value.errors()[0]["loc"] == ("since",)


def test_replay_since_accepts_rfc3339_with_an_offset_only() -> None:
    ok = ReplayRequest.model_validate_json('{"since": "2026-11-01T12:00:00+01:00"}')
    assert ok.since.utcoffset() is not None
    with pytest.raises(ValidationError):
        ReplayRequest.model_validate_json('{"since": "2026-11-01T12:00:00"}')


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (SubscriptionCreate, {"url": 12345678}, "url"),
        (
            SubscriptionCreate,
            {"url": "https://h.example.com/", "materials": "gallium"},
            "materials",
        ),
        (SubscriptionCreate, {"url": "https://h.example.com/", "tenant": "Not A Tenant"}, "tenant"),
        (SubscriptionPatch, {"description": 5}, "description"),
        (SubscriptionPatch, {"tenant": "other"}, "tenant"),
    ],
)
def test_request_bodies_are_strict(model: Any, body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        model.model_validate_json(json.dumps(body))
    assert raised.value.errors()[0]["loc"][0] == field


def _responses() -> list[tuple[str, str, str, dict[str, Any]]]:
    doc = schemagen.openapi_document(ROUTES)
    return [
        (path, method, status, response)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method != "servers"
        for status, response in operation["responses"].items()
    ]


def test_api_error_is_a_component_and_every_error_response_references_it() -> None:
    doc = schemagen.openapi_document(ROUTES)
    assert set(doc["components"]["schemas"]["ApiError"]["required"]) == {"status", "message"}
    errors = [r for r in _responses() if int(r[2]) >= 400]
    assert len(errors) > 40
    for path, method, status, response in errors:
        schema = response["content"]["application/json"]["schema"]
        expected = "Health" if (path, status) == ("/readyz", "503") else "ApiError"
        assert schema == {"$ref": f"#/components/schemas/{expected}"}, (path, method, status)


def test_every_v1_operation_has_401_403_and_a_503_with_retry_after() -> None:
    doc = schemagen.openapi_document(ROUTES)
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "servers" or not path.startswith("/v1/"):
                continue
            responses = operation["responses"]
            assert {"401", "403", "503"} <= set(responses), (path, method)
            assert "Retry-After" in responses["503"]["headers"]
            assert "WWW-Authenticate" in responses["401"]["headers"]
            assert operation["x-required-scope"] in operation["description"]


def test_health_bodies_validate_against_the_model() -> None:
    for body in (
        {"status": "ok", "service": "risk", "detail": ""},
        {"status": "starting", "service": "notifier", "detail": "reading topics"},
        {"status": "degraded", "service": "notifier", "detail": "the follower of x died"},
    ):
        assert Health.model_validate(body).model_dump(mode="json") == body
    with pytest.raises(ValidationError):
        Health.model_validate({"status": "ready", "service": "risk"})
