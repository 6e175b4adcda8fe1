"""Input events parse as their contract says: strict where it matters, lenient on extras."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from mineral_sentinel.contracts import (
    ExportControl,
    PriceObserved,
    ShipmentUpdated,
    StockpilePosition,
    parse_event,
)

pytestmark = pytest.mark.unit

VALID: dict[str, dict[str, Any]] = {
    "price_observed": {
        "type": "price_observed",
        "event_id": "p-1",
        "material": "gallium",
        "observed_at": "2023-07-04T00:00:00Z",
        "price": 350.5,
        "currency": "USD",
        "unit": "kg",
        "source": "fastmarkets",
        "market": "rotterdam",
        "grade": "99.99%",
    },
    "shipment_updated": {
        "type": "shipment_updated",
        "event_id": "s-1",
        "shipment_id": "SHP-7",
        "material": "cobalt",
        "status": "delayed",
        "origin_country": "CD",
        "destination_country": "BE",
        "quantity_t": 120.0,
        "planned_arrival": "2025-03-01",
        "eta": "2025-03-20",
        "occurred_at": "2025-02-23T08:00:00+01:00",
        "chokepoints": ["suez", "bab_el_mandeb"],
    },
    "export_control": {
        "type": "export_control",
        "event_id": "e-1",
        "measure_id": "CN-2023-GA-GE",
        "country": "CN",
        "materials": ["gallium", "germanium"],
        "measure": "licensing",
        "status": "announced",
        "announced_at": "2023-07-03T12:00:00+08:00",
        "effective_at": "2023-08-01T00:00:00+08:00",
        "coverage": 1.0,
        "summary": "Dual-use export licensing for gallium and germanium items.",
        "source_url": "https://example.org/mofcom-2023-23",
    },
    "stockpile_position": {
        "type": "stockpile_position",
        "event_id": "k-1",
        "material": "gallium",
        "stock_t": 12.5,
        "as_of": "2023-06-30T00:00:00Z",
        "holder": "eu_pilot",
    },
}
MODELS = {
    "price_observed": PriceObserved,
    "shipment_updated": ShipmentUpdated,
    "export_control": ExportControl,
    "stockpile_position": StockpilePosition,
}
OPTIONAL: dict[str, set[str]] = {
    "price_observed": {"market", "grade"},
    "shipment_updated": {"eta", "chokepoints"},
    "export_control": {"expires_at", "coverage", "destinations", "source_url"},
    "stockpile_position": {"holder", "floor_t", "target_t"},
}


def _event(kind: str, **changes: Any) -> dict[str, Any]:
    data = dict(VALID[kind])
    data.update(changes)
    return data


def _error_locations(raw: dict[str, Any]) -> set[tuple[str | int, ...]]:
    with pytest.raises(ValidationError) as info:
        parse_event(json.dumps(raw))
    # the union adds the discriminator tag as the first location element
    return {tuple(e["loc"][1:]) for e in info.value.errors()}


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_event_type_parses_from_json_to_its_model(kind: str) -> None:
    event = parse_event(json.dumps(VALID[kind]).encode())
    assert isinstance(event, MODELS[kind])
    assert event.type == kind
    assert event.event_id == VALID[kind]["event_id"]


def _required_fields() -> list[tuple[str, str]]:
    return [
        (kind, name)
        for kind, data in sorted(VALID.items())
        for name in sorted(data)
        if name != "type" and name not in OPTIONAL[kind]
    ]


@pytest.mark.parametrize(("kind", "field"), _required_fields())
def test_missing_required_field_is_named_in_the_error(kind: str, field: str) -> None:
    raw = _event(kind)
    del raw[field]
    assert _error_locations(raw) == {(field,)}


@pytest.mark.parametrize("kind", sorted(VALID))
def test_optional_fields_may_be_omitted(kind: str) -> None:
    raw = {k: v for k, v in VALID[kind].items() if k not in OPTIONAL[kind]}
    assert isinstance(parse_event(json.dumps(raw)), MODELS[kind])


@pytest.mark.parametrize("price", ["NaN", "Infinity", "-Infinity", "0", "-1.5"])
def test_price_must_be_positive_and_finite(price: str) -> None:
    text = json.dumps(_event("price_observed", price="PLACEHOLDER")).replace('"PLACEHOLDER"', price)
    with pytest.raises(ValidationError) as info:
        parse_event(text)
    assert {e["loc"][1:] for e in info.value.errors()} == {("price",)}


@pytest.mark.parametrize(
    ("kind", "field"), [("shipment_updated", "quantity_t"), ("stockpile_position", "stock_t")]
)
def test_quantities_reject_negative_and_nan(kind: str, field: str) -> None:
    assert _error_locations(_event(kind, **{field: -1})) == {(field,)}
    text = json.dumps(_event(kind, **{field: "PLACEHOLDER"})).replace('"PLACEHOLDER"', "NaN")
    with pytest.raises(ValidationError):
        parse_event(text)


def test_empty_stockpile_is_valid_but_empty_shipment_is_not() -> None:
    assert parse_event(json.dumps(_event("stockpile_position", stock_t=0))).stock_t == 0  # type: ignore[union-attr]
    assert _error_locations(_event("shipment_updated", quantity_t=0)) == {("quantity_t",)}


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("price_observed", "observed_at"),
        ("shipment_updated", "occurred_at"),
        ("export_control", "announced_at"),
        ("export_control", "effective_at"),
        ("stockpile_position", "as_of"),
    ],
)
def test_naive_timestamps_are_rejected(kind: str, field: str) -> None:
    assert _error_locations(_event(kind, **{field: "2023-07-03T12:00:00"})) == {(field,)}


@pytest.mark.parametrize(
    ("kind", "changes", "location"),
    [
        ("shipment_updated", {"origin_country": "XX"}, ("origin_country",)),
        ("shipment_updated", {"destination_country": "de"}, ("destination_country",)),
        ("shipment_updated", {"destination_country": "DEU"}, ("destination_country",)),
        ("export_control", {"country": "ZZ"}, ("country",)),
        ("export_control", {"destinations": ["US", "QQ"]}, ("destinations", 1)),
        ("price_observed", {"currency": "usd"}, ("currency",)),
        ("price_observed", {"currency": "XYZ"}, ("currency",)),
        ("price_observed", {"currency": "US"}, ("currency",)),
    ],
)
def test_bad_country_and_currency_codes_are_rejected(
    kind: str, changes: dict[str, Any], location: tuple[str | int, ...]
) -> None:
    assert _error_locations(_event(kind, **changes)) == {location}


@pytest.mark.parametrize(
    ("kind", "changes", "location"),
    [
        ("price_observed", {"unit": "oz"}, ("unit",)),
        ("shipment_updated", {"status": "lost"}, ("status",)),
        ("export_control", {"measure": "embargo"}, ("measure",)),
        ("export_control", {"status": "pending"}, ("status",)),
        ("export_control", {"coverage": 1.5}, ("coverage",)),
        ("price_observed", {"material": "Gallium"}, ("material",)),
        ("price_observed", {"material": "natural graphite"}, ("material",)),
        ("price_observed", {"event_id": ""}, ("event_id",)),
        ("price_observed", {"event_id": "x" * 129}, ("event_id",)),
    ],
)
def test_closed_vocabularies_and_bounds(
    kind: str, changes: dict[str, Any], location: tuple[str | int, ...]
) -> None:
    assert _error_locations(_event(kind, **changes)) == {location}


@pytest.mark.parametrize("kind", sorted(VALID))
def test_unknown_fields_are_ignored(kind: str) -> None:
    raw = _event(kind, producer_version="7.1", nested={"anything": [1, 2]})
    event = parse_event(json.dumps(raw))
    assert event == parse_event(json.dumps(VALID[kind]))
    assert not hasattr(event, "producer_version")


def test_discriminator_selects_the_model_and_names_an_unknown_type() -> None:
    # a stockpile-shaped payload tagged as a price is validated as a price
    raw = dict(VALID["stockpile_position"], type="price_observed")
    with pytest.raises(ValidationError) as info:
        parse_event(json.dumps(raw))
    assert {e["loc"][0] for e in info.value.errors()} == {"price_observed"}
    with pytest.raises(ValidationError) as info:
        parse_event(json.dumps(_event("price_observed", type="price_observd")))
    assert info.value.errors()[0]["type"] == "union_tag_invalid"
    raw = dict(VALID["price_observed"])
    del raw["type"]
    with pytest.raises(ValidationError) as info:
        parse_event(json.dumps(raw))
    assert info.value.errors()[0]["type"] == "union_tag_not_found"


@pytest.mark.parametrize(
    ("kind", "field", "limit"),
    [
        ("export_control", "materials", 64),
        ("export_control", "destinations", 250),
        ("shipment_updated", "chokepoints", 16),
    ],
)
def test_list_size_bounds(kind: str, field: str, limit: int) -> None:
    sample = {"materials": "gallium", "destinations": "US", "chokepoints": "suez"}[field]
    at_limit = parse_event(json.dumps(_event(kind, **{field: [sample] * limit})))
    assert len(getattr(at_limit, field)) == limit
    assert _error_locations(_event(kind, **{field: [sample] * (limit + 1)})) == {(field,)}


def test_export_control_needs_at_least_one_material() -> None:
    assert _error_locations(_event("export_control", materials=[])) == {("materials",)}


def test_expires_before_effective_is_rejected_and_equal_is_allowed() -> None:
    effective = VALID["export_control"]["effective_at"]
    with pytest.raises(ValidationError, match="expires_at is before effective_at"):
        parse_event(json.dumps(_event("export_control", expires_at="2023-07-31T23:59:59+08:00")))
    event = parse_event(json.dumps(_event("export_control", expires_at=effective)))
    assert isinstance(event, ExportControl) and event.expires_at == event.effective_at


def test_expiry_comparison_respects_time_zones() -> None:
    # 2023-08-01T00:00+08:00 == 2023-07-31T16:00Z: a UTC expiry at 17:00 is after it
    event = parse_event(json.dumps(_event("export_control", expires_at="2023-07-31T17:00:00Z")))
    assert isinstance(event, ExportControl)
    with pytest.raises(ValidationError):
        parse_event(json.dumps(_event("export_control", expires_at="2023-07-31T15:00:00Z")))


def test_events_are_immutable() -> None:
    event = parse_event(json.dumps(VALID["price_observed"]))
    with pytest.raises(ValidationError):
        event.price = 1.0  # type: ignore[misc,union-attr]


@given(price=st.floats(min_value=1e-9, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_any_positive_finite_price_round_trips(price: float) -> None:
    event = parse_event(json.dumps(_event("price_observed", price=price)))
    assert isinstance(event, PriceObserved)
    assert event.price == price
    assert parse_event(event.model_dump_json()) == event


@given(price=st.floats().filter(lambda p: math.isnan(p) or math.isinf(p) or p <= 0))
def test_no_non_positive_or_non_finite_price_is_accepted(price: float) -> None:
    text = json.dumps(_event("price_observed", price=price))  # json writes NaN/Infinity tokens
    with pytest.raises(ValidationError):
        parse_event(text)


@given(
    moment=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    offset_minutes=st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_any_aware_timestamp_keeps_its_instant(moment: datetime, offset_minutes: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    event = parse_event(json.dumps(_event("stockpile_position", as_of=aware.isoformat())))
    assert isinstance(event, StockpilePosition)
    assert event.as_of == aware
    assert event.as_of.astimezone(UTC) == aware.astimezone(UTC)


@given(event_id=st.text(min_size=1, max_size=128))
def test_any_event_id_within_bounds_is_kept_verbatim(event_id: str) -> None:
    event = parse_event(json.dumps(_event("stockpile_position", event_id=event_id)))
    assert event.event_id == event_id


@given(code=st.text(alphabet=st.characters(categories=["Lu"]), min_size=2, max_size=2))
def test_only_listed_country_codes_pass(code: str) -> None:
    from mineral_sentinel.contracts.codes import ISO_COUNTRIES

    raw = _event("shipment_updated", origin_country=code)
    if code in ISO_COUNTRIES:
        assert parse_event(json.dumps(raw)).origin_country == code  # type: ignore[union-attr]
    else:
        with pytest.raises(ValidationError):
            parse_event(json.dumps(raw))


# ---- strict types and bounded years (what the published JSON Schemas say) -------------------

TIMESTAMP_FIELDS = [
    ("price_observed", "observed_at"),
    ("shipment_updated", "occurred_at"),
    ("export_control", "announced_at"),
    ("export_control", "effective_at"),
    ("stockpile_position", "as_of"),
]


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("price_observed", "price", "300"),
        ("price_observed", "price", True),
        ("shipment_updated", "quantity_t", "120"),
        ("stockpile_position", "stock_t", False),
        ("export_control", "coverage", "1"),
        ("price_observed", "event_id", 17),
        ("price_observed", "observed_at", 1_688_428_800),
        ("shipment_updated", "planned_arrival", "2025-03-01T00:00:00Z"),
        ("export_control", "materials", "gallium"),
    ],
)
def test_no_lax_conversions(kind: str, field: str, value: Any) -> None:
    assert _error_locations(_event(kind, **{field: value})) == {(field,)}


def test_json_integers_are_numbers() -> None:
    event = parse_event(json.dumps(_event("price_observed", price=300)))
    assert isinstance(event, PriceObserved) and event.price == 300.0


@pytest.mark.parametrize(("kind", "field"), TIMESTAMP_FIELDS)
@pytest.mark.parametrize(
    ("value", "kind_of_error"),
    [
        ("9999-12-31T23:59:59-14:00", "future_timestamp"),
        ("9999-12-31T23:59:59Z", "future_timestamp"),
        ("3000-01-01T00:00:00Z", "future_timestamp"),
        ("0001-01-01T00:00:00+14:00", "past_timestamp"),
        ("1899-12-31T23:59:59Z", "past_timestamp"),
    ],
)
def test_timestamp_years_outside_1900_2999_are_named_errors(
    kind: str, field: str, value: str, kind_of_error: str
) -> None:
    with pytest.raises(ValidationError) as info:
        parse_event(json.dumps(_event(kind, **{field: value})))
    first = info.value.errors()[0]
    assert (first["type"], first["loc"][1:]) == (kind_of_error, (field,))


def test_the_contract_years_are_inclusive_and_no_utc_conversion_overflows() -> None:
    for value in ("1900-01-01T00:00:00+14:00", "2999-12-31T23:59:59-14:00"):
        event = parse_event(json.dumps(_event("stockpile_position", as_of=value)))
        assert isinstance(event, StockpilePosition)
        assert event.as_of.astimezone(UTC).year in (1899, 3000)
        assert event.as_of.timestamp()


@pytest.mark.parametrize("field", ["planned_arrival", "eta"])
def test_date_years_are_bounded_too(field: str) -> None:
    for value, kind_of_error in [
        ("0999-01-01", "past_timestamp"),
        ("3000-01-01", "future_timestamp"),
    ]:
        with pytest.raises(ValidationError) as info:
            parse_event(json.dumps(_event("shipment_updated", **{field: value})))
        assert info.value.errors()[0]["type"] == kind_of_error
