"""`sentinel schemas`: generate schemas/ (JSON Schema, AsyncAPI 3.0, OpenAPI 3.1) from the models.

The pydantic models in `contracts/`, the topic registry and the route registry are the single
source of truth; the files are generated, checked in, and a test fails when they drift. Output is
deterministic (sorted keys, stable order, trailing newline) so a diff means a contract changed.
`asyncapi.yaml` is written as JSON, which is valid YAML 1.2: no YAML dependency, and any YAML or
JSON tool reads it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, TypeAdapter

from . import __version__, topics
from .config import Settings
from .contracts import events, outputs
from .contracts.api import ApiError
from .contracts.routes import ROUTES, SERVICES, BodyType, NamedType, Route, Service

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_FILE = "asyncapi.yaml"
OPENAPI_FILE = "openapi.json"
JSON_DIR = "json"
KAFKA_BINDING_VERSION = "0.5.0"
GENERATED_BY = "sentinel schemas (mineral_sentinel.schemagen); do not edit by hand"
Mode = Literal["validation", "serialization"]


@dataclass(frozen=True, slots=True)
class MessageSchema:
    """One published message: file stem, the Python type, and which side of it we publish.

    Inputs are described as we *accept* them (validation), outputs as we *emit* them.
    """

    stem: str
    title: str
    type: object
    mode: Mode


MESSAGES: tuple[MessageSchema, ...] = (
    MessageSchema("price_observed", "PriceObserved", events.PriceObserved, "validation"),
    MessageSchema("shipment_updated", "ShipmentUpdated", events.ShipmentUpdated, "validation"),
    MessageSchema("export_control", "ExportControl", events.ExportControl, "validation"),
    MessageSchema(
        "stockpile_position", "StockpilePosition", events.StockpilePosition, "validation"
    ),
    MessageSchema("input_event", "InputEvent", events.InputEvent, "validation"),
    MessageSchema("risk_snapshot", "RiskSnapshot", outputs.RiskSnapshot, "serialization"),
    MessageSchema("alert", "Alert", outputs.Alert, "serialization"),
    MessageSchema(
        "stockpile_recommendation",
        "StockpileRecommendation",
        outputs.StockpileRecommendation,
        "serialization",
    ),
    MessageSchema("dead_letter", "DeadLetter", outputs.DeadLetter, "serialization"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default: schemas/ at the repository root)",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 and list the files that differ"
    )


def run(args: argparse.Namespace) -> int:
    out: Path = args.out if args.out is not None else default_out_dir()
    files = render_all()
    if args.check:
        stale = differing_files(out, files)
        for name in stale:
            print(f"schemas out of date: {out / name}", file=sys.stderr)
        if stale:
            print("run `sentinel schemas` and commit the result", file=sys.stderr)
            return 1
        print(f"{len(files)} schema files up to date in {out}")
        return 0
    write_files(out, files)
    print(f"wrote {len(files)} schema files to {out}")
    return 0


def default_out_dir() -> Path:
    """schemas/ at the repository root when running from a checkout, else under the cwd."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "services").is_dir():
            return parent / "schemas"
    return Path.cwd() / "schemas"


def render_all() -> dict[str, str]:
    """Every generated file: relative path -> exact text."""
    files: dict[str, str] = {}
    for message in all_messages():
        files[f"{JSON_DIR}/{message.stem}.v1.schema.json"] = _dump(json_schema(message))
    files[ASYNCAPI_FILE] = _dump(asyncapi_document())
    files[OPENAPI_FILE] = _dump(openapi_document(ROUTES))
    return dict(sorted(files.items()))


def differing_files(out: Path, files: dict[str, str]) -> list[str]:
    """Generated files missing or different on disk, plus stale generated JSON schemas."""
    differing = [
        name
        for name, text in files.items()
        if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text
    ]
    json_dir = out / JSON_DIR
    if json_dir.is_dir():
        differing += sorted(
            f"{JSON_DIR}/{p.name}"
            for p in json_dir.glob("*.schema.json")
            if f"{JSON_DIR}/{p.name}" not in files
        )
    return differing


def write_files(out: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    json_dir = out / JSON_DIR
    for path in json_dir.glob("*.schema.json"):
        if f"{JSON_DIR}/{path.name}" not in files:
            path.unlink()


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------- messages


def all_messages() -> tuple[MessageSchema, ...]:
    """The fixed list plus any topic value model defined in contracts/ under its topic's name.

    Topic values owned by other modules (e.g. the notifier's Subscription) are picked up as soon
    as a model of that name appears in a contracts module.
    """
    known = {m.title for m in MESSAGES}
    extra = [
        MessageSchema(_snake(spec.value), spec.value, model, "serialization")
        for spec in topics.ALL_TOPICS
        if spec.value not in known and (model := contract_model(spec.value)) is not None
    ]
    return MESSAGES + tuple(sorted(extra, key=lambda m: m.stem))


def contract_model(name: str) -> type[BaseModel] | None:
    """The pydantic model class called `name` in any module of the contracts package."""
    package = importlib.import_module("mineral_sentinel.contracts")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        candidate = getattr(module, name, None)
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def json_schema(message: MessageSchema) -> dict[str, Any]:
    schema = TypeAdapter(cast(Any, message.type)).json_schema(mode=message.mode)
    schema["title"] = message.title
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:mineral-sentinel:schema:{message.stem}:v1",
        "$comment": GENERATED_BY,
        **schema,
    }


class Components:
    """Collects named schemas for one document; refuses two different schemas under one name."""

    def __init__(self, ref_prefix: str) -> None:
        self.ref_prefix = ref_prefix
        self.schemas: dict[str, Any] = {}

    def ref(self, name: str, type_: object, mode: Mode) -> dict[str, str]:
        schema = TypeAdapter(cast(Any, type_)).json_schema(
            mode=mode, ref_template=self.ref_prefix + "{model}"
        )
        for def_name, definition in schema.pop("$defs", {}).items():
            self._put(def_name, definition)
        self._put(name, schema)
        return {"$ref": self.ref_prefix + name}

    def _put(self, name: str, schema: Any) -> None:
        existing = self.schemas.setdefault(name, schema)
        if existing != schema:
            raise ValueError(f"two different schemas are both named {name!r}")


# ---------------------------------------------------------------------------- AsyncAPI


def _channel_id(spec: topics.TopicSpec) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", spec.name)


def _action(spec: topics.TopicSpec) -> Literal["send", "receive"]:
    """From Mineral Sentinel's point of view: it receives the inputs and sends everything else."""
    return "receive" if spec in topics.INPUT_TOPICS else "send"


def asyncapi_document() -> dict[str, Any]:
    components = Components("#/components/schemas/")
    by_title = {m.title: m for m in all_messages()}
    partitions = Settings.model_fields["topic_partitions"].default
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in topics.ALL_TOPICS:
        channel = _channel_id(spec)
        message = by_title.get(spec.value)
        if message is not None:
            payload: dict[str, Any] = components.ref(message.title, message.type, message.mode)
        else:
            payload = {
                "type": "object",
                "description": f"{spec.value}: model not yet defined in contracts/",
            }
        messages[spec.value] = {
            "name": spec.value,
            "title": spec.value,
            "contentType": "application/json",
            "payload": payload,
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": f"message key: {spec.key}"},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        channels[channel] = {
            "address": spec.name,
            "title": spec.name,
            "description": spec.description,
            "messages": {spec.value: {"$ref": f"#/components/messages/{spec.value}"}},
            "x-key": spec.key,
            "x-cleanup-policy": spec.cleanup,
            "bindings": {
                "kafka": {
                    "topic": spec.name,
                    "partitions": partitions,
                    "topicConfiguration": {"cleanup.policy": [spec.cleanup]},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        action = _action(spec)
        operations[f"{action}_{channel}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{spec.value}"}],
            "summary": f"{'Consume' if action == 'receive' else 'Publish'} {spec.value} "
            f"on {spec.name} (key: {spec.key}, cleanup: {spec.cleanup})",
        }
    return {
        "asyncapi": "3.0.0",
        "x-generated-by": GENERATED_BY,
        "info": {
            "title": "Mineral Sentinel topics",
            "version": __version__,
            "description": "Kafka topics of Mineral Sentinel (see README.md). Topic names are "
            "logical: SENTINEL_TOPIC_PREFIX is prepended on the broker. Material-"
            "scoped topics are keyed by material code.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": Settings.model_fields["kafka_bootstrap"].default,
                "protocol": "kafka",
                "description": "local broker (SENTINEL_KAFKA_BOOTSTRAP)",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": components.schemas},
    }


# ---------------------------------------------------------------------------- OpenAPI


def _server(service: Service) -> dict[str, str]:
    field = f"{service}_web_port"
    port = Settings.model_fields[field].default
    host = Settings.model_fields["web_host"].default
    return {
        "url": f"http://{host}:{port}",
        "description": f"{service} service (SENTINEL_{field.upper()})",
    }


def _operation_id(method: str, path: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
    return f"{method.lower()}_{slug or 'root'}"


def _body_ref(components: Components, body: BodyType, mode: Mode) -> dict[str, Any]:
    if isinstance(body, NamedType):
        return components.ref(body.name, body.type, mode)
    return components.ref(body.__name__, body, mode)


def _merge_services(routes: Iterable[Route]) -> dict[tuple[str, str], tuple[Route, list[str]]]:
    """One operation per (path, method); identical routes of both services share it."""
    merged: dict[tuple[str, str], tuple[Route, list[str]]] = {}
    for route in routes:
        key = (route.path, route.method)
        if key in merged:
            first, services = merged[key]
            if replace(route, service=first.service) != first:
                raise ValueError(f"{route.method} {route.path} differs between services")
            services.append(route.service)
        else:
            merged[key] = (route, [route.service])
    return merged


def _operation(components: Components, route: Route, services: list[str]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    for param in route.query_params:
        schema: dict[str, Any] = {"type": param.type}
        if param.enum:
            schema["enum"] = list(param.enum)
        if param.default is not None:
            schema["default"] = param.default
        parameters.append(
            {
                "name": param.name,
                "in": "query",
                "required": param.required,
                "description": param.description,
                "schema": schema,
            }
        )
    responses: dict[str, Any] = {}
    body_done = False
    for status, description in route.status_codes:
        response: dict[str, Any] = {"description": description}
        if 200 <= status < 300 and not body_done:
            body_done = True
            if route.response_model is not None:
                ref = _body_ref(components, route.response_model, "serialization")
                schema = {"type": "array", "items": ref} if route.response_is_list else ref
                response["content"] = {route.response_media_type: {"schema": schema}}
            elif route.response_media_type != "application/json":
                response["content"] = {route.response_media_type: {"schema": {"type": "string"}}}
        else:
            error_body = route.body_of_status(status)
            if error_body is not None:
                ref = _body_ref(components, error_body, "serialization")
                response["content"] = {"application/json": {"schema": ref}}
        headers = _response_headers(status)
        if headers:
            response["headers"] = headers
        responses[str(status)] = response
    if route.auth and "401" not in responses:
        responses["401"] = {
            "description": "Missing, malformed or unknown bearer token",
            "content": {
                "application/json": {"schema": _body_ref(components, ApiError, "serialization")}
            },
            "headers": _response_headers(401),
        }
    operation: dict[str, Any] = {
        "operationId": _operation_id(route.method, route.path),
        "summary": route.summary,
        "tags": sorted(services),
        "responses": responses,
    }
    if route.description:
        operation["description"] = route.description
    if parameters:
        operation["parameters"] = parameters
    if route.request_model is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": _body_ref(components, route.request_model, "validation")
                }
            },
        }
    if route.scope is not None:
        operation["security"] = [{"bearerAuth": []}]
        operation["x-required-scope"] = route.scope
        scope_note = f"Needs a token with the scope `{route.scope}` (or `admin`)."
        operation["description"] = " ".join(filter(None, (route.description, scope_note)))
    return operation


def _response_headers(status: int) -> dict[str, Any]:
    """Retry-After on 503 (when to ask again), the RFC 6750 challenge on 401 and 403."""
    if status == 503:
        return {
            "Retry-After": {
                "description": "seconds to wait before asking again",
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    if status in (401, 403):
        return {
            "WWW-Authenticate": {
                "description": 'RFC 6750 challenge, e.g. Bearer realm="sentinel", '
                'error="insufficient_scope", scope="risk:read"',
                "schema": {"type": "string"},
            }
        }
    return {}


def openapi_document(routes: Iterable[Route]) -> dict[str, Any]:
    components = Components("#/components/schemas/")
    paths: dict[str, dict[str, Any]] = {}
    path_services: dict[str, set[str]] = {}
    for (path, method), (route, services) in _merge_services(routes).items():
        paths.setdefault(path, {})[method.lower()] = _operation(components, route, services)
        path_services.setdefault(path, set()).update(services)
    for path, served_by in path_services.items():
        if len(served_by) == 1:
            paths[path]["servers"] = [_server(s) for s in SERVICES if s in served_by]
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": JSON_SCHEMA_DIALECT,
        "x-generated-by": GENERATED_BY,
        "info": {
            "title": "Mineral Sentinel HTTP APIs",
            "version": __version__,
            "description": "HTTP routes of the risk service and the notifier. Operations tagged "
            "with both services are served by each of them at its own port.",
        },
        "servers": [_server(s) for s in SERVICES],
        "tags": [{"name": s, "description": f"served by the {s} service"} for s in SERVICES],
        "paths": paths,
        "components": {
            "schemas": components.schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a token of SENTINEL_API_TOKENS_FILE (tenant and scopes) "
                    "or of SENTINEL_API_TOKENS (admin of the `default` tenant); each operation "
                    "names its scope in x-required-scope. No or an unknown token: 401; a token "
                    "lacking the scope: 403; another tenant's object: 404.",
                }
            },
        },
    }
