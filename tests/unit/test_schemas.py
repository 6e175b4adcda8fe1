"""The committed schemas/ match the models, and the generated documents say what users rely on."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from mineral_sentinel import schemagen, topics
from mineral_sentinel.cli import main as sentinel
from mineral_sentinel.contracts.routes import (
    INPUT_EVENT,
    ROUTES,
    QueryParam,
    Route,
    route_for,
    routes_of,
)

pytestmark = pytest.mark.unit

REPO_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _run(out: Path, check: bool = False) -> int:
    return schemagen.run(argparse.Namespace(out=out, check=check))


def test_committed_schemas_match_the_models(tmp_path: Path) -> None:
    """Fails when a model changed and nobody ran `sentinel schemas`."""
    assert _run(tmp_path) == 0
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(REPO_SCHEMAS) for p in REPO_SCHEMAS.rglob("*") if p.is_file())
    assert generated == committed
    for relative in generated:
        assert (tmp_path / relative).read_bytes() == (REPO_SCHEMAS / relative).read_bytes(), (
            f"schemas/{relative} is out of date: run `sentinel schemas`"
        )


def test_output_is_deterministic_and_newline_terminated() -> None:
    first, second = schemagen.render_all(), schemagen.render_all()
    assert first == second
    for name, text in first.items():
        assert text.endswith("}\n"), name
        assert json.loads(text), name


def test_check_flags_changed_missing_and_stale_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(tmp_path) == 0
    assert _run(tmp_path, check=True) == 0
    (tmp_path / "json" / "alert.v1.schema.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "openapi.json").unlink()
    (tmp_path / "json" / "old_event.v1.schema.json").write_text("{}\n", encoding="utf-8")
    capsys.readouterr()
    assert _run(tmp_path, check=True) == 1
    err = capsys.readouterr().err
    assert "alert.v1.schema.json" in err
    assert "openapi.json" in err
    assert "old_event.v1.schema.json" in err
    assert "asyncapi.yaml" not in err
    assert _run(tmp_path) == 0
    assert not (tmp_path / "json" / "old_event.v1.schema.json").exists()
    assert _run(tmp_path, check=True) == 0


def test_cli_subcommand_writes_into_out(tmp_path: Path) -> None:
    assert sentinel(["schemas", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "asyncapi.yaml").is_file()
    assert sentinel(["schemas", "--out", str(tmp_path), "--check"]) == 0


def test_one_json_schema_per_message() -> None:
    files = schemagen.render_all()
    for stem in (
        "price_observed",
        "shipment_updated",
        "export_control",
        "stockpile_position",
        "input_event",
        "risk_snapshot",
        "alert",
        "stockpile_recommendation",
        "dead_letter",
    ):
        schema = json.loads(files[f"json/{stem}.v1.schema.json"])
        assert schema["$schema"] == schemagen.JSON_SCHEMA_DIALECT
        assert schema["$id"].endswith(f":{stem}:v1")
    union = json.loads(files["json/input_event.v1.schema.json"])
    assert union["discriminator"]["propertyName"] == "type"
    assert set(union["discriminator"]["mapping"]) == {
        "price_observed",
        "shipment_updated",
        "export_control",
        "stockpile_position",
    }
    price = json.loads(files["json/price_observed.v1.schema.json"])
    assert price["properties"]["price"]["exclusiveMinimum"] == 0
    assert {"event_id", "material", "price", "currency", "unit", "source", "observed_at"} <= set(
        price["required"]
    )


def test_asyncapi_names_every_topic_with_key_cleanup_and_message() -> None:
    doc = json.loads(schemagen.render_all()["asyncapi.yaml"])
    assert doc["asyncapi"] == "3.0.0"
    channels = {c["address"]: c for c in doc["channels"].values()}
    assert set(channels) == {spec.name for spec in topics.ALL_TOPICS}
    for spec in topics.ALL_TOPICS:
        channel = channels[spec.name]
        kafka = channel["bindings"]["kafka"]
        assert kafka["topicConfiguration"]["cleanup.policy"] == [spec.cleanup]
        assert channel["x-key"] == spec.key
        ref = channel["messages"][spec.value]["$ref"]
        message = doc["components"]["messages"][ref.rsplit("/", 1)[1]]
        assert spec.key in message["bindings"]["kafka"]["key"]["description"]
        payload = message["payload"]
        if "$ref" in payload:
            assert payload["$ref"].rsplit("/", 1)[1] in doc["components"]["schemas"]
    actions = {
        op["channel"]["$ref"].rsplit("/", 1)[1]: op["action"] for op in doc["operations"].values()
    }
    assert actions["minerals_prices_v1"] == "receive"
    assert actions["minerals_alerts_v1"] == "send"


def _resolve_refs(node: Any, doc: dict[str, Any]) -> None:
    if isinstance(node, dict):
        if "$ref" in node:
            pointer = node["$ref"].removeprefix("#/").split("/")
            target: Any = doc
            for part in pointer:
                target = target[part]
        for value in node.values():
            _resolve_refs(value, doc)
    elif isinstance(node, list):
        for value in node:
            _resolve_refs(value, doc)


def test_every_internal_ref_resolves() -> None:
    for text in schemagen.render_all().values():
        doc = json.loads(text)
        _resolve_refs(doc, doc)  # raises KeyError on a dangling $ref


def test_openapi_has_open_endpoints_for_both_services() -> None:
    doc = json.loads(schemagen.render_all()["openapi.json"])
    assert doc["openapi"] == "3.1.0"
    for path in ("/healthz", "/readyz", "/metrics"):
        operation = doc["paths"][path]["get"]
        assert operation["tags"] == ["notifier", "risk"]
        assert "security" not in operation
        assert "servers" not in doc["paths"][path]
    metrics = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain; version=0.0.4; charset=utf-8"]
    ready = doc["paths"]["/readyz"]["get"]["responses"]
    assert set(ready) == {"200", "503"}
    assert {s["url"] for s in doc["servers"]} == {"http://127.0.0.1:6066", "http://127.0.0.1:6067"}
    for service in ("risk", "notifier"):
        open_paths = {r.path for r in routes_of(service) if not r.auth}
        assert {"/healthz", "/readyz", "/metrics"} <= open_paths
    assert route_for("risk", "GET", "/metrics").response_model is None


class _Item(BaseModel):
    name: str


def test_openapi_renders_service_routes_with_auth_params_and_bodies() -> None:
    # Made-up routes on made-up paths, beside the open endpoints, so the test does not depend on
    # (or clash with) the services' real routes.
    routes = [
        *(r for r in ROUTES if not r.auth),
        Route(
            "risk",
            "GET",
            "/v1/example/{material}",
            "One material.",
            response_model=_Item,
            scope="risk:read",
            status_codes=((200, "OK"), (404, "Unknown material")),
        ),
        Route(
            "risk",
            "GET",
            "/v1/example-alerts",
            "Alerts.",
            response_model=_Item,
            response_is_list=True,
            scope="risk:read",
            query_params=(QueryParam("status", enum=("firing", "resolved")),),
        ),
        Route(
            "risk",
            "POST",
            "/v1/example-events",
            "Ingest.",
            request_model=INPUT_EVENT,
            scope="events:write",
            status_codes=((202, "Accepted"),),
        ),
    ]
    doc = schemagen.openapi_document(routes)
    one = doc["paths"]["/v1/example/{material}"]
    assert one["servers"] == [
        {"url": "http://127.0.0.1:6066", "description": "risk service (SENTINEL_RISK_WEB_PORT)"}
    ]
    get_one = one["get"]
    assert get_one["security"] == [{"bearerAuth": []}]
    assert get_one["parameters"][0] == {
        "name": "material",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    assert set(get_one["responses"]) == {"200", "404", "401"}
    listing = doc["paths"]["/v1/example-alerts"]["get"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/_Item"},
    }
    assert listing["parameters"][0]["schema"]["enum"] == ["firing", "resolved"]
    ingest = doc["paths"]["/v1/example-events"]["post"]
    body = ingest["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/InputEvent"}
    assert "PriceObserved" in doc["components"]["schemas"]
    _resolve_refs(doc, doc)


def test_conflicting_route_definitions_across_services_are_refused() -> None:
    routes = [Route("risk", "GET", "/healthz", "a"), Route("notifier", "GET", "/healthz", "b")]
    with pytest.raises(ValueError, match="differs between services"):
        schemagen.openapi_document(routes)


INPUT_STEMS = ("price_observed", "shipment_updated", "export_control", "stockpile_position")


def _string_leaves(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("format") in ("date-time", "date") else []
        return found + [leaf for value in node.values() for leaf in _string_leaves(value)]
    if isinstance(node, list):
        return [leaf for value in node for leaf in _string_leaves(value)]
    return []


@pytest.mark.parametrize("stem", INPUT_STEMS)
def test_input_schemas_bound_the_years_require_type_and_list_the_codes(stem: str) -> None:
    from mineral_sentinel.contracts.common import EVENT_YEAR_PATTERN

    schema = json.loads(schemagen.render_all()[f"json/{stem}.v1.schema.json"])
    stamps = _string_leaves(schema["properties"])
    assert stamps, "every input event has a timestamp"
    for leaf in stamps:
        assert leaf["pattern"] == EVENT_YEAR_PATTERN
        assert "1900-2999" in leaf["description"]
    assert schema["required"][0] == "type"
    assert "default" not in schema["properties"]["type"]
    assert "SENTINEL_MAX_FUTURE_S" in schema["description"]
    for name in ("country", "origin_country", "currency"):
        if name in schema["properties"]:
            assert "enum" in schema["properties"][name]
