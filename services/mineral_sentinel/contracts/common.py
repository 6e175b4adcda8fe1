"""Field types shared by every message: strict, bounded, timezone-aware."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

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
    Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2"),
    AfterValidator(_country),
]
CurrencyCode = Annotated[
    str, Field(min_length=3, max_length=3, description="ISO 4217"), AfterValidator(_currency)
]
Timestamp = AwareDatetime
ShortText = Annotated[str, Field(min_length=1, max_length=128)]
LongText = Annotated[str, Field(max_length=2000)]
PositiveFinite = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFinite = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class Message(BaseModel):
    """Base of every contract message: immutable, unknown fields ignored (forward compatible)."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


class OutputMessage(BaseModel):
    """Base of messages we publish: immutable and strict about their own fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def utc_iso(moment: datetime) -> str:
    """RFC 3339 text of an aware datetime, for ids and logs."""
    return moment.isoformat()
