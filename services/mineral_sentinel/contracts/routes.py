"""The HTTP routes both services serve, as data: `schemas/openapi.json` is built from this.

HTTP owners (risk service, notifier) add their routes to `ROUTES` *in this module* -- not by
appending at runtime -- so that `sentinel schemas` sees every route without importing Faust.
Views can look their route up here (`route_for`) so that the served surface and the published
contract cannot drift apart silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from ..auth import Scope
from .api import ApiError
from .common import OutputMessage
from .events import InputEvent

Service = Literal["risk", "notifier"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
ParamType = Literal["string", "integer", "number", "boolean"]
SERVICES: tuple[Service, ...] = ("risk", "notifier")
HealthStatus = Literal["ok", "starting", "degraded"]
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    type: ParamType = "string"
    description: str = ""
    required: bool = False
    enum: tuple[str, ...] = ()
    default: str | int | float | bool | None = None


@dataclass(frozen=True, slots=True)
class NamedType:
    """A body type that is not a model class (e.g. the InputEvent union), with its schema name."""

    name: str
    type: object


BodyType = type[BaseModel] | NamedType


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP operation of one service. Path parameters are written `{name}` in `path`."""

    service: Service
    method: HttpMethod
    path: str
    summary: str
    request_model: BodyType | None = None
    response_model: BodyType | None = None
    response_is_list: bool = False
    """The body is a JSON array of `response_model`."""
    status_codes: tuple[tuple[int, str], ...] = ((200, "OK"),)
    """(status, description) pairs; the first 2xx carries the response body."""
    query_params: tuple[QueryParam, ...] = ()
    scope: Scope | None = None
    """The scope a bearer token needs (`admin` has them all); None = an open route."""
    response_media_type: str = "application/json"
    description: str = ""
    status_bodies: tuple[tuple[int, BodyType], ...] = ()
    """Bodies of non-2xx statuses that are not `ApiError` (e.g. /readyz's 503 is a Health)."""

    @property
    def auth(self) -> bool:
        """A bearer token is required (every /v1 route)."""
        return self.scope is not None

    def body_of_status(self, status: int) -> BodyType | None:
        """The body model of a non-2xx status: its override, else ApiError for 4xx/5xx."""
        for code, body in self.status_bodies:
            if code == status:
                return body
        return ApiError if status >= 400 else None


AUTH_STATUSES: tuple[tuple[int, str], ...] = (
    (401, "Missing, malformed or unknown bearer token (WWW-Authenticate says which)"),
    (403, "The token lacks the route's scope"),
)
NOT_READY: tuple[int, str] = (503, "Worker not ready yet (starting or degraded); see Retry-After")


class Health(OutputMessage):
    """Body of /healthz and /readyz: liveness says the process runs, readiness that it serves."""

    status: HealthStatus
    """`ok`: alive (/healthz) or serving (/readyz); `starting`: not serving yet; `degraded`: a
    part that serves the API has failed (the detail says which)."""
    service: Service
    detail: str = Field("", max_length=500)


INPUT_EVENT = NamedType("InputEvent", InputEvent)
"""Request body of an event-ingest route: any input event, discriminated on `type`."""


def _open_endpoints(service: Service) -> tuple[Route, ...]:
    return (
        Route(
            service, "GET", "/healthz", "Liveness: the process is running.", response_model=Health
        ),
        Route(
            service,
            "GET",
            "/readyz",
            "Readiness: consumers assigned and tables recovered; 503 until then.",
            response_model=Health,
            status_codes=((200, "Ready"), (503, "Not ready yet")),
            status_bodies=((503, Health),),
        ),
        Route(
            service,
            "GET",
            "/metrics",
            "Prometheus metrics in the text exposition format.",
            response_media_type=PROMETHEUS_TEXT,
        ),
    )


def _risk_api() -> tuple[Route, ...]:
    from .api import EventsAccepted, MaterialDetail, MaterialSummary
    from .outputs import Alert, StockpileRecommendation

    auth = AUTH_STATUSES
    material = QueryParam("material", description="only this material (catalog code)")
    scope = QueryParam(
        "scope",
        enum=("all", "local"),
        default="all",
        description="`local`: only this worker's materials (how workers gather from each other)",
    )
    return (
        Route(
            "risk",
            "POST",
            "/v1/events",
            "Ingest one input event or a JSON array of up to 1,000.",
            request_model=INPUT_EVENT,
            response_model=EventsAccepted,
            status_codes=(
                (202, "Every event produced to its topic"),
                *auth,
                (413, "Body over the size limit"),
                (422, "At least one item invalid; nothing was produced"),
                NOT_READY,
            ),
            scope="events:write",
            description="All or nothing: a request with any invalid item produces nothing and "
            "lists every failing item (index, field path, message). The body is one event "
            "object or an array of them. Error bodies are ApiError.",
        ),
        Route(
            "risk",
            "GET",
            "/v1/materials",
            "Current level, score and top drivers of every material seen so far.",
            response_model=MaterialSummary,
            response_is_list=True,
            query_params=(scope,),
            status_codes=((200, "OK"), *auth, (422, "Bad query parameter"), NOT_READY),
            scope="risk:read",
            description="Gathered from every worker of the group.",
        ),
        Route(
            "risk",
            "GET",
            "/v1/materials/{code}",
            "Full live state of one material.",
            response_model=MaterialDetail,
            status_codes=(
                (200, "OK"),
                *auth,
                (404, "Not a catalog material, or no event seen yet"),
                NOT_READY,
            ),
            scope="risk:read",
            description="Answered by the worker that owns the material's partition.",
        ),
        Route(
            "risk",
            "GET",
            "/v1/alerts",
            "Latest version of recent alerts (up to 20 per material), newest first.",
            response_model=Alert,
            response_is_list=True,
            query_params=(
                QueryParam("status", enum=("firing", "resolved"), description="filter"),
                material,
                scope,
            ),
            status_codes=((200, "OK"), *auth, (422, "Bad filter"), NOT_READY),
            scope="risk:read",
        ),
        Route(
            "risk",
            "GET",
            "/v1/recommendations",
            "Recent stockpile recommendations (up to 20 per material), newest first.",
            response_model=StockpileRecommendation,
            response_is_list=True,
            query_params=(material, scope),
            status_codes=((200, "OK"), *auth, (422, "Bad filter"), NOT_READY),
            scope="risk:read",
        ),
    )


def _notifier_api() -> tuple[Route, ...]:
    from .subscriptions import (
        Queued,
        ReplayRequest,
        SecretRotated,
        SubscriptionCreate,
        SubscriptionCreated,
        SubscriptionOut,
        SubscriptionPatch,
    )
    from .webhooks import DELIVERY_STATUSES, DeliveryOut

    auth = AUTH_STATUSES
    unknown = (404, "Unknown subscription id, or one of another tenant")
    one = "/v1/subscriptions/{sub_id}"
    return (
        Route(
            "notifier",
            "POST",
            "/v1/subscriptions",
            "Create a webhook subscription; the signing secret is returned here only.",
            request_model=SubscriptionCreate,
            response_model=SubscriptionCreated,
            status_codes=(
                (201, "Created"),
                *auth,
                (422, "Invalid body or URL refused (SSRF)"),
                NOT_READY,
            ),
            scope="subscriptions:write",
            description="The URL must be https (http only when SENTINEL_WEBHOOK_ALLOW_HTTP) and "
            "resolve to public addresses (or SENTINEL_WEBHOOK_ALLOW_NETWORKS). The subscription "
            "belongs to the token's tenant; only an admin token may name another `tenant` "
            "(else 403).",
        ),
        Route(
            "notifier",
            "GET",
            "/v1/subscriptions",
            "Every subscription (never the secret).",
            response_model=SubscriptionOut,
            response_is_list=True,
            status_codes=((200, "OK"), *auth, NOT_READY),
            scope="subscriptions:read",
        ),
        Route(
            "notifier",
            "GET",
            one,
            "One subscription (never the secret).",
            response_model=SubscriptionOut,
            status_codes=((200, "OK"), *auth, unknown, NOT_READY),
            scope="subscriptions:read",
        ),
        Route(
            "notifier",
            "PATCH",
            one,
            "Change url, description, event types, materials or minimum severity.",
            request_model=SubscriptionPatch,
            response_model=SubscriptionOut,
            status_codes=(
                (200, "OK"),
                *auth,
                unknown,
                (422, "Invalid body or URL refused"),
                NOT_READY,
            ),
            scope="subscriptions:write",
        ),
        Route(
            "notifier",
            "DELETE",
            one,
            "Delete a subscription (tombstone on the subscriptions topic).",
            status_codes=((204, "Deleted"), *auth, unknown, NOT_READY),
            scope="subscriptions:write",
        ),
        Route(
            "notifier",
            "POST",
            one + "/rotate-secret",
            "New signing secret; the previous one keeps signing alongside for 24 h.",
            response_model=SecretRotated,
            status_codes=((200, "OK"), *auth, unknown, NOT_READY),
            scope="subscriptions:write",
        ),
        Route(
            "notifier",
            "POST",
            one + "/test",
            "Queue a subscription.test delivery.",
            response_model=Queued,
            status_codes=(
                (202, "Queued"),
                *auth,
                unknown,
                (409, "Subscription disabled"),
                NOT_READY,
            ),
            scope="subscriptions:write",
        ),
        Route(
            "notifier",
            "GET",
            one + "/deliveries",
            "Deliveries with every attempt (time, status code or error, duration).",
            response_model=DeliveryOut,
            response_is_list=True,
            query_params=(
                QueryParam(
                    "status",
                    enum=DELIVERY_STATUSES,
                    description="only deliveries in this status",
                ),
            ),
            status_codes=((200, "OK"), *auth, unknown, (422, "Bad filter"), NOT_READY),
            scope="subscriptions:read",
        ),
        Route(
            "notifier",
            "POST",
            one + "/replay",
            "Re-send every message created since `since`, with the original webhook-ids.",
            request_model=ReplayRequest,
            response_model=Queued,
            status_codes=(
                (202, "Queued"),
                *auth,
                unknown,
                (409, "Subscription disabled"),
                (422, "Invalid body"),
                NOT_READY,
            ),
            scope="subscriptions:write",
        ),
        Route(
            "notifier",
            "POST",
            one + "/enable",
            "Re-enable a subscription disabled by 410 Gone or continuous failure.",
            response_model=SubscriptionOut,
            status_codes=((200, "OK"), *auth, unknown, NOT_READY),
            scope="subscriptions:write",
        ),
        *_silence_routes(),
    )


def _silence_routes() -> tuple[Route, ...]:
    from .silences import MAX_SILENCE, SILENCE_STATES, SilenceCreate, SilenceOut

    auth = AUTH_STATUSES
    unknown = (404, "Unknown silence id, or one of another tenant")
    one = "/v1/silences/{silence_id}"
    reading = (
        "Needs `subscriptions:read` (what is muted is part of what a tenant receives); "
        "a tenant sees its own silences, an admin every tenant's."
    )
    return (
        Route(
            "notifier",
            "POST",
            "/v1/silences",
            "Silence the deliveries of the token's tenant that match, for a time window.",
            request_model=SilenceCreate,
            response_model=SilenceOut,
            status_codes=(
                (201, "Created"),
                *auth,
                (422, "Invalid body, window or subscription id"),
                NOT_READY,
            ),
            scope="silences:write",
            description="A delivery whose source message was produced in [starts_at, ends_at) "
            "to a subscription of the tenant, matching every matcher given (an empty list "
            "matches all), is recorded in the delivery log as `silenced` and not sent; once "
            "the silence ends later messages flow again, and replay re-sends muted ones on "
            "request. `ends_at` must be after `starts_at` (default: now) and in the future, "
            f"at most {MAX_SILENCE.days} days later; `subscription_ids` must be the tenant's. "
            "Only an admin token may name another `tenant` (else 403). Every worker applies "
            "a silence once it has read it from the silences topic (within about a second).",
        ),
        Route(
            "notifier",
            "GET",
            "/v1/silences",
            "The silences the token may see, with their state now.",
            response_model=SilenceOut,
            response_is_list=True,
            query_params=(
                QueryParam("state", enum=SILENCE_STATES, description="only silences in it"),
            ),
            status_codes=((200, "OK"), *auth, (422, "Bad filter"), NOT_READY),
            scope="subscriptions:read",
            description=reading,
        ),
        Route(
            "notifier",
            "GET",
            one,
            "One silence.",
            response_model=SilenceOut,
            status_codes=((200, "OK"), *auth, unknown, NOT_READY),
            scope="subscriptions:read",
            description=reading,
        ),
        Route(
            "notifier",
            "DELETE",
            one,
            "End a silence now (an active one expires and stays listed; a pending one goes).",
            status_codes=(
                (204, "Expired or removed (also when already expired)"),
                *auth,
                unknown,
                NOT_READY,
            ),
            scope="silences:write",
        ),
    )


ROUTES: list[Route] = [
    *_open_endpoints("risk"),
    *_risk_api(),
    *_open_endpoints("notifier"),
    *_notifier_api(),
]
"""Every route of both services. Append yours here, grouped by service."""


def routes_of(service: Service) -> tuple[Route, ...]:
    return tuple(r for r in ROUTES if r.service == service)


def route_for(service: Service, method: HttpMethod, path: str) -> Route:
    for route in ROUTES:
        if (route.service, route.method, route.path) == (service, method, path):
            return route
    raise KeyError(f"no route {method} {path} registered for {service}")
