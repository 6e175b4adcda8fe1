"""HTTP pieces both services share: bearer-token auth, precise error bodies, health and metrics.

Error bodies have one shape everywhere so clients can handle them generically:
`{"status": 422, "message": "...", "errors": [{"index": 0, "field": "price", "message": "..."}]}`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any

import faust
from aiohttp import web as aiohttp_web
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from pydantic import ValidationError

from .auth import Keyring, Refusal, Scope
from .contracts.routes import Health, HealthStatus, QueryParam, Route, Service
from .ingest import rejected_from_validation


def error_body(status: int, message: str, errors: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    return {"status": status, "message": message, "errors": list(errors)}


def validation_errors(error: ValidationError, index: int | None = None) -> list[dict[str, Any]]:
    """One entry per failing field: dotted path, pydantic's message, the dead-letter reason as
    `type` (the ingest module's one mapping), and the item index if any."""
    entries: list[dict[str, Any]] = []
    for item in rejected_from_validation(error).errors:
        entry: dict[str, Any] = {"field": item.path, "message": item.message, "type": item.reason}
        if index is not None:
            entry["index"] = index
        entries.append(entry)
    return entries


log = logging.getLogger(__name__)
RETRY_AFTER_S = 1
"""What a 503 of a starting worker tells clients to wait before asking again."""
Readiness = Callable[[], tuple[HealthStatus, str]]
"""Says whether a worker serves its API: ("ok", "") or ("starting"|"degraded", why not)."""


def json_error(
    view: View,
    status: int,
    message: str,
    errors: Sequence[dict[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An `ApiError` response; 401 always carries a WWW-Authenticate challenge (RFC 6750), 503
    a Retry-After."""
    all_headers = dict(headers or {})
    if status == 401:
        all_headers.setdefault("WWW-Authenticate", 'Bearer realm="sentinel"')
    if status == 503:
        all_headers.setdefault("Retry-After", str(RETRY_AFTER_S))
    response: Response = view.json(
        error_body(status, message, errors), status=status, headers=all_headers or None
    )
    return response


def query_errors(query: Mapping[str, str], params: Sequence[QueryParam]) -> list[dict[str, Any]]:
    """Each declared query parameter given twice, or not of its declared type or enum."""
    multi: Any = query
    errors: list[dict[str, Any]] = []
    for param in params:
        values = multi.getall(param.name, []) if hasattr(multi, "getall") else []
        if not values and param.name in query:
            values = [query[param.name]]
        if not values:
            if param.required:
                errors.append(_query_error(param.name, "required", "missing"))
            continue
        if len(values) > 1:
            errors.append(_query_error(param.name, "given more than once", "duplicate"))
            continue
        problem = _query_value_problem(param, values[0])
        if problem is not None:
            errors.append(_query_error(param.name, *problem))
    return errors


def _query_error(name: str, message: str, kind: str) -> dict[str, Any]:
    return {"field": name, "message": message, "type": kind}


def _query_value_problem(param: QueryParam, value: str) -> tuple[str, str] | None:
    if param.enum:
        if value not in param.enum:
            return f"must be one of {', '.join(param.enum)} (got {value[:64]!r})", "enum"
        return None
    if param.type == "integer" and not value.lstrip("-").isdigit():
        return "must be an integer", "type"
    if param.type == "number":
        try:
            number = float(value)
        except ValueError:
            return "must be a number", "type"
        if not math.isfinite(number):
            return "must be a finite number", "type"
    if param.type == "boolean" and value not in ("true", "false"):
        return "must be true or false", "type"
    return None


class ApiView(View):
    """Base of every view: a Faust `WebError` raised in a handler is answered as `ApiError` too
    (aiohttp's own 404/405 are converted by `answer_errors_as_api_error`)."""

    def error(
        self,
        status: int,
        reason: str,
        headers: MutableMapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Response:
        return json_error(self, status, reason, headers=headers)


Handler = Callable[..., Awaitable[Response]]


def guarded(route: Route, keyring: Keyring, readiness: Readiness) -> Callable[[Handler], Any]:
    """Decorate a View handler of `route`: 503 until ready, then the token (401/403), then the
    declared query parameters (422); the handler gets the caller's `Principal` after `request`.
    """
    if route.scope is None:
        raise ValueError(f"{route.method} {route.path} is an open route: nothing to guard")
    scope: Scope = route.scope

    def decorate(handler: Handler) -> Any:
        async def wrapper(self: View, request: Request, *args: Any, **kwargs: Any) -> Response:
            status, why = readiness()
            if status != "ok":
                return json_error(self, 503, f"not ready ({status}): {why}")
            found = keyring.authorize(request.headers.get("Authorization", ""), scope)
            if isinstance(found, Refusal):
                challenge = {"WWW-Authenticate": found.www_authenticate()}
                return json_error(self, found.status, found.message, headers=challenge)
            errors = query_errors(request.query, route.query_params)
            if errors:
                return json_error(self, 422, "invalid query", errors)
            return await handler(self, request, found, *args, **kwargs)

        wrapper.__name__ = handler.__name__
        wrapper.__doc__ = handler.__doc__
        return wrapper

    return decorate


def add_health_and_metrics(
    app: faust.App,
    service: Service,
    readiness: Readiness,
    registry: CollectorRegistry = REGISTRY,
) -> None:
    """Open endpoints: /healthz (process up), /readyz (serving the API), /metrics.

    Both health bodies are the contract's `Health` model, validated before they are sent.
    """

    @app.page("/healthz")
    class Healthz(ApiView):
        async def get(self, request: Request) -> Response:
            body = Health(status="ok", service=service)
            result: Response = self.json(body.model_dump(mode="json"))
            return result

    @app.page("/readyz")
    class Readyz(ApiView):
        async def get(self, request: Request) -> Response:
            status, why = readiness()
            body = Health(status=status, service=service, detail=why[:500])
            headers = None if status == "ok" else {"Retry-After": str(RETRY_AFTER_S)}
            result: Response = self.json(
                body.model_dump(mode="json"),
                status=200 if status == "ok" else 503,
                headers=headers,
            )
            return result

    @app.page("/metrics")
    class Metrics(ApiView):
        async def get(self, request: Request) -> Response:
            result: Response = self.bytes(
                generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0]
            )
            return result


def answer_errors_as_api_error(app: faust.App) -> None:
    """Answers aiohttp makes itself (404 for an unknown path, 405 for a method a route does not
    serve) and any unexpected exception of a handler are `ApiError` bodies too."""

    @aiohttp_web.middleware
    async def api_errors(
        request: aiohttp_web.Request,
        handler: Callable[[aiohttp_web.Request], Awaitable[aiohttp_web.StreamResponse]],
    ) -> aiohttp_web.StreamResponse:
        try:
            return await handler(request)
        except aiohttp_web.HTTPException as exc:
            if exc.status < 400:
                raise
            headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
            return aiohttp_web.json_response(
                error_body(exc.status, exc.reason), status=exc.status, headers=headers
            )
        except Exception:
            log.exception("unexpected error answering %s %s", request.method, request.path)
            return aiohttp_web.json_response(error_body(500, "internal error"), status=500)

    web: Any = app.web
    web.web_app.middlewares.append(api_errors)
