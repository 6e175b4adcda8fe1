"""Silences (Alertmanager's model): the compacted-topic record and the bodies of /v1/silences.

A silence belongs to one tenant and mutes the deliveries to that tenant's subscriptions whose
message matches every matcher given (an empty list matches everything) and whose source message
was produced in `[starts_at, ends_at)`. A muted delivery is still written to the delivery log,
with status `silenced`; it is not sent later (replay re-sends it on request).

`Silence` is the value on `sentinel.silences.v1` (key = id). DELETE expires an active silence
(`ends_at` becomes the time of the request, the record stays, so re-reading a message from its
window after a crash is muted the same way) and removes a pending one (tombstone).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal, Self, get_args

from pydantic import Field, model_validator

from ..auth import TenantId
from .common import MaterialCode, OutputMessage, Timestamp
from .outputs import LEVEL_ORDER, Severity
from .subscriptions import RequestBody, SubscriptionId

SilenceId = Annotated[str, Field(pattern=r"^sil_[A-Za-z0-9]{8,64}$")]
SilenceState = Literal["pending", "active", "expired"]
SILENCE_STATES: tuple[SilenceState, ...] = ("pending", "active", "expired")
SilencedEventType = Literal["alert.firing", "alert.resolved", "stockpile.recommendation"]
"""Event types a silence can match (a subscription.test probe is an explicit request: never
silenced)."""
SILENCED_EVENT_TYPES: tuple[SilencedEventType, ...] = get_args(SilencedEventType)
MAX_SILENCE = timedelta(days=30)
"""The longest a silence may last (`ends_at - starts_at`), so none is forgotten for ever."""
MAX_SILENCE_START_AHEAD = timedelta(days=30)
"""How far ahead of now a silence may start."""


class SilenceMatchers(RequestBody):
    """What a silence mutes: all of the given matchers must match (an empty list: any)."""

    materials: Annotated[
        list[MaterialCode], Field(max_length=200, description="material codes; empty = all")
    ] = Field(default_factory=list)
    event_types: Annotated[
        list[SilencedEventType],
        Field(max_length=3, description="event types; empty = all but subscription.test"),
    ] = Field(default_factory=list)
    subscription_ids: Annotated[
        list[SubscriptionId],
        Field(max_length=200, description="subscriptions of the tenant; empty = all of them"),
    ] = Field(default_factory=list)
    min_severity: Severity | None = Field(
        None, description="alerts of at least this severity (set: recommendations never match)"
    )
    max_severity: Severity | None = Field(
        None, description="alerts of at most this severity (set: recommendations never match)"
    )

    @model_validator(mode="after")
    def _severity_range(self) -> Self:
        low, high = self.min_severity, self.max_severity
        if low is not None and high is not None and LEVEL_ORDER[low] > LEVEL_ORDER[high]:
            raise ValueError(f"min_severity {low!r} is above max_severity {high!r}")
        return self


Comment = Annotated[str, Field(min_length=1, max_length=500, description="why it is silenced")]
CreatedBy = Annotated[str, Field(min_length=1, max_length=200, description="who silenced it")]


def _check_window(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise ValueError("ends_at must be after starts_at")
    if ends_at - starts_at > MAX_SILENCE:
        raise ValueError(f"a silence lasts at most {MAX_SILENCE.days} days (ends_at - starts_at)")


class Silence(OutputMessage):
    """A silence as stored on sentinel.silences.v1 (key = id)."""

    type: Literal["silence"] = "silence"
    id: SilenceId
    tenant: TenantId
    matchers: SilenceMatchers
    starts_at: Timestamp
    ends_at: Timestamp
    comment: Comment
    created_by: CreatedBy
    created_at: Timestamp
    updated_at: Timestamp

    def state_at(self, now: datetime) -> SilenceState:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"


class SilenceCreate(RequestBody):
    """Body of POST /v1/silences; `starts_at` defaults to now."""

    tenant: TenantId | None = Field(
        None, description="admin only: silence this tenant's deliveries (default: the token's)"
    )
    matchers: SilenceMatchers = Field(default_factory=SilenceMatchers)
    starts_at: Timestamp | None = None
    ends_at: Timestamp = Field(
        description=f"after starts_at and now, at most {MAX_SILENCE.days} days after starts_at"
    )
    comment: Comment
    created_by: CreatedBy


def window_problem(starts_at: datetime, ends_at: datetime, now: datetime) -> str | None:
    """Why a silence window is refused at `now` (None: accepted)."""
    try:
        _check_window(starts_at, ends_at)
    except ValueError as error:
        return str(error)
    if ends_at <= now:
        return "ends_at must be in the future"
    if starts_at - now > MAX_SILENCE_START_AHEAD:
        return f"starts_at may be at most {MAX_SILENCE_START_AHEAD.days} days ahead"
    return None


class SilenceOut(OutputMessage):
    """A silence as the API shows it, with its state at the time of the request."""

    id: SilenceId
    tenant: TenantId
    matchers: SilenceMatchers
    starts_at: Timestamp
    ends_at: Timestamp
    comment: str
    created_by: str
    created_at: Timestamp
    updated_at: Timestamp
    state: SilenceState

    @classmethod
    def of(cls, silence: Silence, now: datetime) -> SilenceOut:
        return cls(**silence.model_dump(exclude={"type"}), state=silence.state_at(now))
