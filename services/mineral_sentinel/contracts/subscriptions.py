"""Webhook subscriptions: the compacted-topic record and the HTTP bodies of /v1/subscriptions.

`Subscription` is the value on `sentinel.subscriptions.v1` (key = id, tombstone = deleted). It
carries the signing secrets because every notifier worker must sign; the HTTP views never return
it, they return `SubscriptionOut` (no secret) or, at creation/rotation only, the secret itself.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from ..auth import DEFAULT_TENANT, TenantId
from .common import MaterialCode, OutputMessage, Timestamp
from .outputs import Severity

EventType = Literal[
    "alert.firing", "alert.resolved", "stockpile.recommendation", "subscription.test"
]
EVENT_TYPES: tuple[EventType, ...] = (
    "alert.firing",
    "alert.resolved",
    "stockpile.recommendation",
    "subscription.test",
)
SubscriptionId = Annotated[str, Field(pattern=r"^sub_[A-Za-z0-9]{8,64}$")]
WebhookUrl = Annotated[str, Field(min_length=8, max_length=2048)]
Description = Annotated[str, Field(max_length=500)]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=len(EVENT_TYPES))]
Materials = Annotated[
    list[MaterialCode], Field(max_length=200, description="material codes; empty = all materials")
]


class SigningSecret(OutputMessage):
    """One `whsec_` secret; `expires_at` is set on a rotated-out secret (signs until then)."""

    value: str = Field(repr=False, pattern=r"^whsec_[A-Za-z0-9+/=]{32,100}$")
    expires_at: Timestamp | None = None


class RequestBody(OutputMessage):
    """Base of HTTP request bodies: strict, so JSON values must have the schema's type (no
    number for a timestamp, no string for a list)."""

    model_config = ConfigDict(strict=True)


class Subscription(OutputMessage):
    """A webhook endpoint and what it wants to receive (value on sentinel.subscriptions.v1).

    Records written before tenants existed have no `tenant` and belong to `default`.
    """

    type: Literal["subscription"] = "subscription"
    id: SubscriptionId
    tenant: TenantId = DEFAULT_TENANT
    url: WebhookUrl
    description: Description = ""
    event_types: EventTypes = Field(default_factory=lambda: list(EVENT_TYPES))
    materials: Materials = Field(default_factory=list)
    min_severity: Severity = "warning"
    enabled: bool = True
    disabled_reason: Annotated[str, Field(max_length=500)] = ""
    created_at: Timestamp
    updated_at: Timestamp
    secrets: Annotated[list[SigningSecret], Field(min_length=1, max_length=4, repr=False)]


class SubscriptionCreate(RequestBody):
    """Body of POST /v1/subscriptions."""

    tenant: TenantId | None = Field(
        None, description="admin only: create for this tenant (default: the token's own)"
    )
    url: WebhookUrl
    description: Description = ""
    event_types: EventTypes = Field(default_factory=lambda: list(EVENT_TYPES))
    materials: Materials = Field(default_factory=list)
    min_severity: Severity = "warning"


class SubscriptionPatch(RequestBody):
    """Body of PATCH /v1/subscriptions/{id}: only the fields present change."""

    url: WebhookUrl | None = None
    description: Description | None = None
    event_types: EventTypes | None = None
    materials: Materials | None = None
    min_severity: Severity | None = None


class SubscriptionOut(OutputMessage):
    """A subscription as the API shows it: never the secret."""

    id: SubscriptionId
    tenant: TenantId
    url: WebhookUrl
    description: Description
    event_types: list[EventType]
    materials: list[MaterialCode]
    min_severity: Severity
    enabled: bool
    disabled_reason: str
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, sub: Subscription) -> SubscriptionOut:
        return cls(**sub.model_dump(exclude={"type", "secrets"}))


class SubscriptionCreated(SubscriptionOut):
    """Response of POST /v1/subscriptions: the only time the secret is shown."""

    secret: str


class SecretRotated(OutputMessage):
    """Response of rotate-secret: the new secret; the old one signs until `previous_expires_at`."""

    id: SubscriptionId
    secret: str
    previous_expires_at: Timestamp


class ReplayRequest(RequestBody):
    """Body of POST /v1/subscriptions/{id}/replay: re-send everything created since `since`."""

    since: Timestamp


class Queued(OutputMessage):
    """Response of /test and /replay: the webhook-ids queued for delivery."""

    subscription_id: SubscriptionId
    webhook_ids: list[str]
