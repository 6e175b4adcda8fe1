"""HTTP pieces both services share: bearer-token auth, precise error bodies, health and metrics.

Error bodies have one shape everywhere so clients can handle them generically:
`{"status": 422, "message": "...", "errors": [{"index": 0, "field": "price", "message": "..."}]}`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from pydantic import ValidationError

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


def check_bearer(request: Request, tokens: Sequence[str]) -> tuple[int, str] | None:
    """None when authorised; else (401, why) without credentials or (403, why) with wrong ones.

    With no tokens configured every request is refused: an API must never be open by accident.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return 401, "missing bearer token (Authorization: Bearer <token>)"
    presented = credential.strip().encode()
    if any(hmac.compare_digest(presented, token.encode()) for token in tokens):
        return None
    return 403, "bearer token not accepted"


def json_error(
    view: View, status: int, message: str, errors: Sequence[dict[str, Any]] = ()
) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="sentinel"'} if status == 401 else None
    response: Response = view.json(
        error_body(status, message, errors), status=status, headers=headers
    )
    return response


def guarded(tokens: Callable[[], Sequence[str]]) -> Callable[[Any], Any]:
    """Decorate a View handler so it runs only for an accepted bearer token."""

    def decorate(handler: Any) -> Any:
        async def wrapper(self: View, request: Request, *args: Any, **kwargs: Any) -> Response:
            refusal = check_bearer(request, tokens())
            if refusal is not None:
                return json_error(self, *refusal)
            result: Response = await handler(self, request, *args, **kwargs)
            return result

        wrapper.__name__ = handler.__name__
        wrapper.__doc__ = handler.__doc__
        return wrapper

    return decorate


def add_health_and_metrics(
    app: faust.App, ready: Callable[[], bool], registry: CollectorRegistry = REGISTRY
) -> None:
    """Open endpoints: /healthz (process up), /readyz (partitions assigned, serving), /metrics."""

    @app.page("/healthz")
    class Healthz(View):
        async def get(self, request: Request) -> Response:
            result: Response = self.json({"status": "ok"})
            return result

    @app.page("/readyz")
    class Readyz(View):
        async def get(self, request: Request) -> Response:
            is_ready = ready()
            result: Response = self.json(
                {"status": "ready" if is_ready else "starting"}, status=200 if is_ready else 503
            )
            return result

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            result: Response = self.bytes(
                generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0]
            )
            return result
