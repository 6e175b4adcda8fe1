"""HTTP bodies of the risk service's /v1 API (request bodies are the input events themselves)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .common import EventId, MaterialCode, OutputMessage, Timestamp
from .outputs import (
    Alert,
    Driver,
    HolderPosition,
    RiskLevel,
    RiskSnapshot,
    Score,
    StockpileRecommendation,
)


class ApiErrorItem(OutputMessage):
    """One precise reason a request was refused: which item, which field, what is wrong."""

    index: int | None = Field(None, description="position in the request array, if any")
    field: str = Field("", description="dotted path of the failing field, empty for the item")
    message: str
    type: str = Field("", description="machine-readable error kind")


class ApiError(OutputMessage):
    """Every error response: status, a sentence, and the precise errors if there are several."""

    status: int
    message: str
    errors: list[ApiErrorItem] = Field(default_factory=list)


class EventsAccepted(OutputMessage):
    """202 body of POST /v1/events: every event was produced to its topic."""

    accepted: Annotated[int, Field(ge=1, le=1000)]
    event_ids: list[EventId]


class MaterialSummary(OutputMessage):
    """One row of GET /v1/materials."""

    material: MaterialCode
    level: RiskLevel
    score: Score
    drivers: Annotated[list[Driver], Field(max_length=3)]
    """The top drivers of the score, largest contribution first."""
    alert_id: str | None = None
    as_of: Timestamp


class ActiveMeasure(OutputMessage):
    """An export-control measure that still applies to the material."""

    measure_id: str
    country: str
    measure: str
    status: str
    announced_at: Timestamp
    effective_at: Timestamp
    expires_at: Timestamp | None
    coverage: float
    reaches_eu: bool


class MaterialDetail(OutputMessage):
    """GET /v1/materials/{code}: the full live state of one material."""

    material: MaterialCode
    level: RiskLevel
    score: Score
    snapshot: RiskSnapshot
    """Components, drivers, live supply risk and days of cover, as of the latest event."""
    active_measures: list[ActiveMeasure]
    holdings: list[HolderPosition] = Field(
        default_factory=list,
        description="stock per holder (the snapshot's breakdown): days of cover is their sum",
    )
    open_alert: Alert | None
    last_alert: Alert | None
    """The open alert, or the last resolved one."""
    last_recommendation: StockpileRecommendation | None
    as_of: Timestamp


AlertStatusFilter = Literal["firing", "resolved"]
