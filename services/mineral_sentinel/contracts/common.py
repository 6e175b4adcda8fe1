"""Field types shared by every message: strict, bounded, timezone-aware."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from .codes import ISO_COUNTRIES, ISO_CURRENCIES


def _country(value: str) -> str:
    if value not in ISO_COUNTRIES:
        raise ValueError(f"'{value}' is not an ISO 3166-1 alpha-2 country code")
    return value


def _currency(value: str) -> str:
    if value not in ISO_CURRENCIES:
        raise ValueError(f"'{value}' is not an ISO 4217 currency code")
    return value


EventId = Annotated[str, Field(min_length=1, max_length=128)]
MaterialCode = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]{0,63}$",
        description="catalog material code: lower-case English name, '_' for spaces",
    ),
]
CountryCode = Annotated[
    str,
    Field(
        min_length=2,
        max_length=2,
        description="ISO 3166-1 alpha-2",
        json_schema_extra={"enum": sorted(ISO_COUNTRIES)},
    ),
    AfterValidator(_country),
]
CurrencyCode = Annotated[
    str,
    Field(
        min_length=3,
        max_length=3,
        description="ISO 4217",
        json_schema_extra={"enum": sorted(ISO_CURRENCIES)},
    ),
    AfterValidator(_currency),
]
Timestamp = AwareDatetime
"""An aware datetime (output messages; input events use `EventTimestamp`)."""

MIN_EVENT_YEAR = 1900
MAX_EVENT_YEAR = 2999
EVENT_YEAR_PATTERN = r"^(19|2[0-9])[0-9]{2}-"
"""The JSON Schema twin of the year check: the written year is 1900-2999."""
_YEAR_RULE = (
    f"the year as written must be {MIN_EVENT_YEAR}-{MAX_EVENT_YEAR} (earlier: past_timestamp, "
    f"later: future_timestamp), so no conversion to UTC can overflow; the lower bound is "
    f"{MIN_EVENT_YEAR}-01-01T00:00:00 in the written offset"
)
_Moment = TypeVar("_Moment", date, datetime)


def _bounded_year(value: _Moment) -> _Moment:
    if value.year < MIN_EVENT_YEAR:
        raise PydanticCustomError(
            "past_timestamp",
            "year {year} is before {min_year}",
            {"year": value.year, "min_year": MIN_EVENT_YEAR},
        )
    if value.year > MAX_EVENT_YEAR:
        raise PydanticCustomError(
            "future_timestamp",
            "year {year} is after {max_year}",
            {"year": value.year, "max_year": MAX_EVENT_YEAR},
        )
    return value


EventTimestamp = Annotated[
    AwareDatetime,
    AfterValidator(_bounded_year),
    Field(
        description=f"RFC 3339 date-time with an offset; {_YEAR_RULE}",
        json_schema_extra={"pattern": EVENT_YEAR_PATTERN},
    ),
]
"""A timestamp of an input event: aware, RFC 3339 text in JSON, year 1900-2999."""
EventDate = Annotated[
    date,
    AfterValidator(_bounded_year),
    Field(
        description=f"ISO 8601 calendar date (YYYY-MM-DD); {_YEAR_RULE}",
        json_schema_extra={"pattern": EVENT_YEAR_PATTERN},
    ),
]
"""A calendar date of an input event: YYYY-MM-DD in JSON, year 1900-2999."""
ShortText = Annotated[str, Field(min_length=1, max_length=128)]
LongText = Annotated[str, Field(max_length=2000)]
PositiveFinite = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFinite = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


def _type_is_required(schema: dict[str, Any]) -> None:
    """On the wire `type` is required (the input union's discriminator); Python may omit it."""
    properties = schema.get("properties", {})
    required = schema.setdefault("required", [])
    if "type" in properties and "type" not in required:
        required.insert(0, "type")
        properties["type"].pop("default", None)


class Message(BaseModel):
    """Base of the input events: immutable, strict, unknown fields ignored (forward compatible).

    Strict: JSON values must have the JSON Schema's type -- no `"300"` or `true` for a number,
    no epoch integer for a timestamp (a JSON integer is a number, so it is accepted as a float).
    """

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        allow_inf_nan=False,
        strict=True,
        json_schema_extra=_type_is_required,
    )


class OutputMessage(BaseModel):
    """Base of messages we publish: immutable and strict about their own fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def utc_iso(moment: datetime) -> str:
    """RFC 3339 text of an aware datetime, for ids and logs."""
    return moment.isoformat()
