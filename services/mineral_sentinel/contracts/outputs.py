"""Output events (schemas/json/): the published contract; field names stable within v1."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .common import (
    EventId,
    MaterialCode,
    NonNegativeFinite,
    OutputMessage,
    ShortText,
    Timestamp,
)

RiskLevel = Literal["normal", "watch", "warning", "critical"]
Severity = Literal["watch", "warning", "critical"]
AlertStatus = Literal["firing", "resolved"]
StockpileAction = Literal["release", "hold", "replenish"]
StockpileRule = Literal[
    "release.emergency",
    "hold.at_floor",
    "release.price_spike",
    "hold.alert",
    "hold.cooldown",
    "replenish.below_target",
    "hold.prices_elevated",
    "hold.at_target",
]
"""The rule of the deployment protocol that decided a recommendation (docs/policy.md)."""
ProtocolVersion = Annotated[
    str,
    Field(
        pattern=r"^sha256:[0-9a-f]{16}$",
        description="sha256: + the first 16 hex digits of the SHA-256 of the canonical JSON "
        "of the deployment protocol (docs/policy.md)",
    ),
]
LEVEL_ORDER: dict[str, int] = {"normal": 0, "watch": 1, "warning": 2, "critical": 3}

Score = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
EventIds = Annotated[list[EventId], Field(max_length=64)]


class Component(OutputMessage):
    """One named sub-score of the risk score (0-100) and its weight in the total."""

    name: ShortText
    value: Score
    weight: Annotated[float, Field(ge=0, le=1)]
    detail: Annotated[str, Field(max_length=500)] = ""


class Driver(OutputMessage):
    """A human-readable reason behind the score, with the events that support it."""

    component: ShortText
    text: Annotated[str, Field(max_length=500)]
    event_ids: EventIds = Field(default_factory=list)


class SupplyRisk(OutputMessage):
    """EU-method supply risk, live: trade factors raised by active export controls."""

    value: NonNegativeFinite
    baseline: NonNegativeFinite
    bottleneck_stage: Literal["extraction", "processing"]


class HolderPosition(OutputMessage):
    """One holder's reported stock of the material and its share of the days of cover."""

    holder: ShortText | None = Field(description="as reported; null: the report named none")
    stock_t: NonNegativeFinite
    days_of_cover: NonNegativeFinite | None = Field(
        description="this holder's stock / the material's average daily net imports"
    )
    floor_t: NonNegativeFinite = Field(
        description="declared floor, else its pro-rata share (by stock) of the material's"
    )
    target_t: NonNegativeFinite = Field(
        description="declared target, else its pro-rata share (by stock) of the material's"
    )
    as_of: Timestamp
    event_id: EventId


class HolderAllocation(OutputMessage):
    """One holder's part of a release (from stock above its floor) or a replenishment."""

    holder: ShortText | None
    quantity_t: NonNegativeFinite
    stock_before_t: NonNegativeFinite
    stock_after_t: NonNegativeFinite


class RiskSnapshot(OutputMessage):
    type: Literal["risk_snapshot"] = "risk_snapshot"
    material: MaterialCode
    score: Score
    level: RiskLevel
    components: list[Component]
    drivers: Annotated[list[Driver], Field(max_length=20)]
    supply_risk: SupplyRisk
    level_cap: RiskLevel = Field(
        "critical",
        description="highest level the evidence present allows, whatever the score "
        "(docs/severity.md): watch without EU-relevant evidence, warning without physical "
        "exposure of EU supply",
    )
    level_basis: Annotated[str, Field(max_length=500)] = Field(
        "", description="why the evidence allows that level, and whether it capped the score's"
    )
    days_of_cover: NonNegativeFinite | None
    as_of: Timestamp
    alert_id: str | None = None
    holdings: Annotated[list[HolderPosition], Field(max_length=64)] = Field(
        default_factory=list,
        description="per-holder positions; days_of_cover is their sum / daily net imports",
    )


class Alert(OutputMessage):
    type: Literal["alert"] = "alert"
    alert_id: Annotated[str, Field(min_length=1, max_length=128)]
    material: MaterialCode
    status: AlertStatus
    severity: Severity
    causes: Annotated[list[ShortText], Field(max_length=8)]
    score: Score
    summary: Annotated[str, Field(max_length=1000)]
    started_at: Timestamp
    updated_at: Timestamp
    sequence: Annotated[int, Field(ge=1)]
    evidence: EventIds
    recommendation_id: str | None = None


class StockpileRecommendation(OutputMessage):
    type: Literal["stockpile_recommendation"] = "stockpile_recommendation"
    recommendation_id: Annotated[str, Field(min_length=1, max_length=128)]
    material: MaterialCode
    action: StockpileAction
    quantity_t: NonNegativeFinite
    days_of_cover_before: NonNegativeFinite | None
    days_of_cover_after: NonNegativeFinite | None
    horizon_days: Annotated[int, Field(ge=0, le=3650)]
    rationale: Annotated[str, Field(max_length=1000)]
    alert_id: str | None
    issued_at: Timestamp
    valid_until: Timestamp
    allocations: Annotated[list[HolderAllocation], Field(max_length=64)] = Field(
        default_factory=list,
        description="per-holder split of quantity_t (docs/stockpiles.md); empty for a hold",
    )
    protocol: ProtocolVersion | None = Field(
        None,
        description="version of the deployment protocol applied (docs/policy.md); null only "
        "in recommendations issued before protocols were versioned",
    )
    rule: StockpileRule | None = Field(
        None,
        description="the protocol's rule that decided (docs/policy.md); null only in "
        "recommendations issued before rules were named",
    )


DeadLetterReason = Literal[
    "undecodable",
    "invalid_json",
    "schema_violation",
    "unknown_material",
    "too_large",
    "empty",
    "future_timestamp",
    "past_timestamp",
    "unusable_state",
    "processing_error",
]
"""Why a message is a dead letter: future_timestamp / past_timestamp for a timestamp beyond the
contract's years (1900-2999) or an event time more than SENTINEL_MAX_FUTURE_S ahead of the wall
clock at intake; unusable_state and processing_error are a worker's own failures."""


class DeadLetterError(OutputMessage):
    reason: DeadLetterReason
    path: str = Field("", description="dotted path of the failing field, empty for the message")
    message: Annotated[str, Field(max_length=2000)]


DEAD_LETTER_VALUE_LIMIT = 256 * 1024
"""Bytes of the original value a dead letter keeps: its base64 must fit Kafka's default 1 MB."""


class DeadLetter(OutputMessage):
    type: Literal["dead_letter"] = "dead_letter"
    source_topic: str
    source_partition: int | None
    source_offset: int | None
    key_b64: str | None = Field(None, description="original key bytes, base64")
    value_b64: str = Field(description="original value bytes, base64 (the first 256 KiB)")
    value_size: int = Field(ge=0, description="size of the original value in bytes")
    errors: Annotated[list[DeadLetterError], Field(min_length=1, max_length=20)]
    received_at: Timestamp
