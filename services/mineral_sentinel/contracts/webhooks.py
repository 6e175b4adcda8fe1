"""Webhook payloads and the delivery log (`sentinel.deliveries.v1`, key = subscription id).

The delivery log is event-sourced: a `task` record is written before any HTTP attempt (so a crash
loses nothing; a message muted by a silence is a task record marked `silenced_by`, final at
once), every attempt appends an `attempt` record with its outcome and the next due time,
and folding the log gives each delivery's state -- after a kill -9 as well as for the API.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Field, RootModel

from .common import OutputMessage, Timestamp
from .subscriptions import EventType, SubscriptionId

DeliveryStatus = Literal["pending", "retrying", "succeeded", "failed", "disabled", "silenced"]
DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = get_args(DeliveryStatus)
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "disabled", "silenced"})
WebhookId = Annotated[str, Field(pattern=r"^msg_[A-Za-z0-9_]{8,100}$")]


class WebhookPayload(OutputMessage):
    """The JSON body subscribers receive (Standard Webhooks style envelope)."""

    type: EventType
    timestamp: Timestamp
    data: dict[str, Any]


class DeliveryTask(OutputMessage):
    """A message to deliver to one subscription; `body` is the exact bytes signed and sent."""

    type: Literal["delivery_task"] = "delivery_task"
    webhook_id: WebhookId
    subscription_id: SubscriptionId
    event_type: EventType
    ordering_key: Annotated[
        str, Field(max_length=200, description="deliveries sharing it go in order")
    ]
    body: str
    created_at: Timestamp
    source_produced_at: Timestamp | None = Field(
        None, description="when the alert/recommendation was produced (latency metric)"
    )
    replay_of: str | None = Field(None, description="set when re-queued by /replay")
    delivery_id: Annotated[str, Field(min_length=1, max_length=200)]
    silenced_by: str | None = Field(
        None,
        description="the silence that muted this message: the delivery is final as `silenced` "
        "from its task record on, never attempted",
    )


class DeliveryAttempt(OutputMessage):
    """The outcome of one HTTP attempt and what happens next."""

    type: Literal["delivery_attempt"] = "delivery_attempt"
    delivery_id: Annotated[str, Field(min_length=1, max_length=200)]
    subscription_id: SubscriptionId
    attempt: Annotated[int, Field(ge=0, description="HTTP attempt number; 0 = none was made")]
    at: Timestamp
    duration_ms: Annotated[float, Field(ge=0)]
    status_code: int | None = None
    error: Annotated[str, Field(max_length=500)] = ""
    status: DeliveryStatus = Field(description="the delivery's status after this attempt")
    next_attempt_at: Timestamp | None = None
    failing_since: Timestamp | None = Field(
        None, description="start of the endpoint's current run of failures (auto-disable)"
    )
    early: bool = Field(
        False,
        description="made before its scheduled time because the endpoint looked recovered; "
        "a failed early attempt keeps the retry schedule as it was",
    )


class DeliveryRecord(
    RootModel[Annotated[DeliveryTask | DeliveryAttempt, Field(discriminator="type")]]
):
    """A value on sentinel.deliveries.v1: a task or an attempt outcome."""


class AttemptOut(OutputMessage):
    attempt: int
    at: Timestamp
    duration_ms: float
    status_code: int | None
    error: str
    early: bool = Field(False, description="made ahead of the retry schedule (endpoint recovery)")


class DeliveryOut(OutputMessage):
    """A delivery as GET /v1/subscriptions/{id}/deliveries shows it."""

    delivery_id: str
    webhook_id: str
    event_type: EventType
    status: DeliveryStatus
    created_at: Timestamp
    next_attempt_at: Timestamp | None
    replay_of: str | None
    silenced_by: str | None = Field(None, description="the silence that muted it, if any")
    attempts: list[AttemptOut]
