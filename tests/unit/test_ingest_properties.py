"""What the ingest accepts is what the published JSON Schemas accept (schemas/json/).

For each of the four input event schemas, hypothesis-jsonschema generates instances and
`ingest.classify` must accept every one; mutated instances (a required field of the wrong type
or missing, a string or a bool for a number, an epoch integer or year 0001 / 9999 for a
timestamp) must be rejected by both the schema and the ingest, with the expected reason.

The schema fed to the generator is the published one with three documented extra rules, which
JSON Schema cannot state, built in by overriding properties:

- material codes must be catalog materials (`unknown_material` otherwise): `material` and the
  items of `materials` become an enum of the catalog's codes;
- the event time may be at most SENTINEL_MAX_FUTURE_S ahead of the wall clock
  (`future_timestamp`): every timestamp and date is drawn from a sane window, 1990-2029, with
  `now` after it (the years 1900-2999 of the contract itself are in the schema, as a pattern,
  and are checked by the mutations);
- an export control's `expires_at` is not before its `effective_at` (set equal when drawn
  earlier).

The ingest's size bounds (SENTINEL_RISK_MAX_EVENT_BYTES, nesting depth 32) are a fourth extra
rule; the generated instances stay far below them (unknown fields, which the contract ignores,
are drawn as scalars or flat lists). Every generated instance is also checked against the
unmodified published schema.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import utils as _cu
from hypothesis_jsonschema import _from_schema, from_schema
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from mineral_sentinel.catalog.loader import load_catalog
from mineral_sentinel.ingest import Accepted, Rejected, classify

pytestmark = pytest.mark.unit


class _LegacyMany:
    """`elements.more()` / `elements.reject()` over hypothesis' current internal `many` (now a
    context-managed iterator, as in hypothesis 6.170), for hypothesis-jsonschema 0.23.1, which
    still calls the old interface when it draws an object (AttributeError: 'many' object has no
    attribute 'more'). Installed only when `many` lacks `more`; drop it once upstream adapts."""

    def __init__(
        self, data: Any, min_size: int, max_size: float, average_size: float, **_: Any
    ) -> None:
        self._many = _cu.many(data, min_size=min_size, max_size=max_size, average_size=average_size)
        self._many.__enter__()
        self._elements = iter(self._many)

    def more(self) -> bool:
        try:
            next(self._elements)
        except StopIteration:
            self._many.__exit__(None, None, None)
            return False
        return True

    def reject(self, why: str | None = None) -> None:
        self._many.reject(why)


if not hasattr(_cu.many, "more"):
    _from_schema.cu = SimpleNamespace(many=_LegacyMany)  # type: ignore[assignment,attr-defined]

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "json"
CATALOG = load_catalog()
NOW = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
STEMS = ("price_observed", "shipment_updated", "export_control", "stockpile_position")
NUMBERS = {
    "price_observed": "price",
    "shipment_updated": "quantity_t",
    "export_control": "coverage",
    "stockpile_position": "stock_t",
}
SANE = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

_offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
SANE_DATE_TIME = st.builds(
    lambda moment, tz, zulu: (
        moment.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
        if zulu
        else moment.replace(tzinfo=tz).isoformat()
    ),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2029, 12, 31)),
    _offsets,
    st.booleans(),
)
SANE_DATE = st.dates(
    min_value=datetime(1990, 1, 1).date(), max_value=datetime(2029, 12, 31).date()
).map(lambda d: d.isoformat())


@cache
def _published(stem: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (SCHEMAS / f"{stem}.v1.schema.json").read_text(encoding="utf-8")
    )
    return schema


def _with_extra_rules(node: Any) -> Any:
    """The published schema with catalog materials and sane-window timestamps built in."""
    if isinstance(node, dict):
        if node.get("format") in ("date-time", "date"):
            return {"type": "string", "format": f"sane-{node['format']}"}
        out = {key: _with_extra_rules(value) for key, value in node.items()}
        properties = out.get("properties")
        if isinstance(properties, dict):
            codes = sorted(CATALOG.materials)
            if "material" in properties:
                properties["material"] = {"type": "string", "enum": codes}
            if "materials" in properties:
                properties["materials"]["items"] = {"type": "string", "enum": codes}
        return out
    if isinstance(node, list):
        return [_with_extra_rules(value) for value in node]
    return node


@cache
def _generator(stem: str) -> st.SearchStrategy[Any]:
    schema = _with_extra_rules(_published(stem))
    # unknown fields (ignored by the contract) as scalars or flat lists: arbitrary nested JSON
    # makes the generator slow and tests nothing more
    schema["additionalProperties"] = {
        "anyOf": [
            {"type": ["null", "boolean", "number", "string"]},
            {"type": "array", "items": {"type": ["number", "string"]}, "maxItems": 3},
        ]
    }
    return from_schema(
        schema,
        custom_formats={"sane-date-time": SANE_DATE_TIME, "sane-date": SANE_DATE},
    )


def _order_expiry(instance: dict[str, Any]) -> dict[str, Any]:
    expires = instance.get("expires_at")
    if expires is not None:
        effective = datetime.fromisoformat(instance["effective_at"])
        if datetime.fromisoformat(expires) < effective:
            instance["expires_at"] = instance["effective_at"]
    return instance


def _classify(instance: Any) -> Accepted | Rejected:
    raw = json.dumps(instance).encode()
    return classify(raw, CATALOG, max_bytes=65536, now=NOW, max_future_s=3600.0)


def _timestamp_fields(schema: dict[str, Any]) -> list[str]:
    return [
        name
        for name, prop in schema["properties"].items()
        if prop.get("format") == "date-time" and name in schema["required"]
    ]


def _mutations(stem: str, valid: dict[str, Any], data: st.DataObject) -> list[tuple[Any, str]]:
    """Invalid variants of a valid instance, each with the reason the ingest must give."""
    schema = _published(stem)
    required = sorted(schema["required"])
    field = data.draw(st.sampled_from(required), label="field")
    stamp = data.draw(st.sampled_from(_timestamp_fields(schema)), label="timestamp")
    number = NUMBERS[stem]
    wrong_type = {"type": 7, "materials": "gallium", "quantity_t": "1", "price": "1"}.get(
        field, 12345 if schema["properties"][field].get("type") == "string" else "x"
    )
    dropped = {k: v for k, v in valid.items() if k != field}
    return [
        ({**valid, field: wrong_type}, "schema_violation"),
        (dropped, "schema_violation"),
        ({**valid, number: "0.5"}, "schema_violation"),
        ({**valid, number: True}, "schema_violation"),
        ({**valid, stamp: 1_700_000_000}, "schema_violation"),
        ({**valid, stamp: "0001-01-01T00:00:00+14:00"}, "past_timestamp"),
        ({**valid, stamp: "9999-12-31T23:59:59-14:00"}, "future_timestamp"),
    ]


@pytest.mark.parametrize("stem", STEMS)
def test_schema_valid_instances_are_accepted_and_mutations_are_dead_letters(stem: str) -> None:
    validator = Draft202012Validator(_published(stem))

    @SANE
    @given(instance=_generator(stem), data=st.data())
    def check(instance: dict[str, Any], data: st.DataObject) -> None:
        valid = _order_expiry(copy.deepcopy(instance))
        validator.validate(valid)  # valid per the published schema itself
        result = _classify(valid)
        assert isinstance(result, Accepted), (valid, result)
        assert result.event.type == stem
        for mutated, reason in _mutations(stem, valid, data):
            assert not validator.is_valid(mutated), mutated
            rejected = _classify(mutated)
            assert isinstance(rejected, Rejected), mutated
            assert rejected.reason == reason, (mutated, rejected)

    check()
