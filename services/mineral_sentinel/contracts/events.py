"""Input events (normative, published as schemas/json/): other teams produce these.

A discriminated union on `type`; unknown fields are ignored, missing or invalid required fields
are errors (the services turn them into dead letters). The models are strict: a JSON value must
have the type the published JSON Schema gives it (a JSON integer is a number; timestamps are
RFC 3339 strings with an offset, dates `YYYY-MM-DD`), so what the schema accepts is what the
models accept. Two rules are beyond the schema and enforced at intake (`mineral_sentinel.ingest`):
material codes must be catalog materials, and the event time `occurred_at` may be at most
SENTINEL_MAX_FUTURE_S (default 3600 s, as Kafka's KIP-937 timestamp validation) ahead of the wall
clock. Every timestamp and date has a year 1900-2999 as written (the lower bound is
1900-01-01T00:00:00 in the written offset): earlier is `past_timestamp`, later or too far ahead
is `future_timestamp`.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

from pydantic import Field, TypeAdapter, model_validator

from .common import (
    CountryCode,
    CurrencyCode,
    EventDate,
    EventId,
    EventTimestamp,
    LongText,
    MaterialCode,
    Message,
    NonNegativeFinite,
    PositiveFinite,
    Share,
    ShortText,
    Timestamp,
)

PriceUnit = Literal["kg", "t", "lb", "mtu", "toz"]
ShipmentStatus = Literal[
    "booked", "departed", "in_transit", "delayed", "held", "arrived", "cancelled"
]
MeasureKind = Literal["licensing", "quota", "ban", "export_tax", "other"]
MeasureStatus = Literal["announced", "effective", "amended", "suspended", "lifted"]


class PriceObserved(Message):
    """One price print of one series (material, source, market, grade, currency, unit).

    Event time: observed_at. It may be at most SENTINEL_MAX_FUTURE_S (default 3600 s) ahead of
    the wall clock at intake (future_timestamp); every timestamp's year is 1900-2999 as written.
    """

    type: Literal["price_observed"] = "price_observed"
    event_id: EventId
    material: MaterialCode
    observed_at: EventTimestamp
    price: PositiveFinite
    currency: CurrencyCode
    unit: PriceUnit
    source: ShortText
    market: ShortText | None = None
    grade: ShortText | None = None

    @property
    def series_key(self) -> tuple[str, str, str, str, str]:
        return (self.source, self.market or "", self.grade or "", self.currency, self.unit)

    @property
    def occurred_at(self) -> Timestamp:
        return self.observed_at


class ShipmentUpdated(Message):
    """A status change of one inbound shipment.

    Event time: occurred_at. It may be at most SENTINEL_MAX_FUTURE_S (default 3600 s) ahead of
    the wall clock at intake (future_timestamp); every timestamp's and date's year is 1900-2999
    as written.
    """

    type: Literal["shipment_updated"] = "shipment_updated"
    event_id: EventId
    shipment_id: ShortText
    material: MaterialCode
    status: ShipmentStatus
    origin_country: CountryCode
    destination_country: CountryCode
    quantity_t: PositiveFinite
    planned_arrival: EventDate
    eta: EventDate | None = None
    occurred_at: EventTimestamp
    chokepoints: Annotated[list[ShortText], Field(max_length=16)] = Field(default_factory=list)


class ExportControl(Message):
    """A state of an export-control measure; later events with the same measure_id update it.

    Event time: announced_at while announced, else the later of announced_at and effective_at.
    It may be at most SENTINEL_MAX_FUTURE_S (default 3600 s) ahead of the wall clock at intake
    (future_timestamp, naming that field), so a measure announced now to take effect next month
    is sent as `announced`. expires_at must not be before effective_at. Every timestamp's year
    is 1900-2999 as written.
    """

    type: Literal["export_control"] = "export_control"
    event_id: EventId
    measure_id: ShortText
    country: CountryCode
    materials: Annotated[list[MaterialCode], Field(min_length=1, max_length=64)]
    measure: MeasureKind
    status: MeasureStatus
    announced_at: EventTimestamp
    effective_at: EventTimestamp
    expires_at: EventTimestamp | None = None
    coverage: Share = 1.0
    destinations: Annotated[list[CountryCode], Field(max_length=250)] | None = None
    summary: LongText
    source_url: Annotated[str, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> ExportControl:
        if self.expires_at is not None and self.expires_at < self.effective_at:
            raise ValueError("expires_at is before effective_at")
        return self

    @property
    def occurred_at(self) -> Timestamp:
        """Event time of this state: when it was announced, or took effect if that is later
        and the status says it is in force; amendments/suspensions/lifts take effect at
        effective_at too (the feed states when the new state applies)."""
        if self.status == "announced":
            return self.announced_at
        return max(self.announced_at, self.effective_at)


class StockpilePosition(Message):
    """The strategic stock held for one material.

    Event time: as_of. It may be at most SENTINEL_MAX_FUTURE_S (default 3600 s) ahead of the
    wall clock at intake (future_timestamp); every timestamp's year is 1900-2999 as written.
    """

    type: Literal["stockpile_position"] = "stockpile_position"
    event_id: EventId
    material: MaterialCode
    stock_t: NonNegativeFinite
    as_of: EventTimestamp
    holder: ShortText | None = None
    """Who holds this stock (a national stockpile, an EU scheme, ...). Positions are kept per
    (material, holder): a holder's later report replaces only its own, and days of cover are
    the sum over holders. No holder is one more holder, the unnamed one."""
    floor_t: NonNegativeFinite | None = None
    """This holder's own minimum stock; default: its pro-rata share (by stock) of the
    material's floor. Releases are allocated from holders above their floor."""
    target_t: NonNegativeFinite | None = None
    """This holder's own target stock; default: its pro-rata share (by stock) of the
    material's target. Replenishments are allocated to holders below their target (a target
    below the floor is read as the floor)."""

    @property
    def occurred_at(self) -> Timestamp:
        return self.as_of


InputEvent: TypeAlias = Annotated[
    PriceObserved | ShipmentUpdated | ExportControl | StockpilePosition,
    Field(discriminator="type"),
]
INPUT_EVENT_TYPES: tuple[type[Message], ...] = (
    PriceObserved,
    ShipmentUpdated,
    ExportControl,
    StockpilePosition,
)

input_event_adapter: TypeAdapter[InputEvent] = TypeAdapter(InputEvent)
input_event_list_adapter: TypeAdapter[list[InputEvent]] = TypeAdapter(list[InputEvent])


def parse_event(raw: bytes | str) -> InputEvent:
    """Parse one JSON-encoded input event; raises pydantic.ValidationError on bad input."""
    return input_event_adapter.validate_json(raw)
