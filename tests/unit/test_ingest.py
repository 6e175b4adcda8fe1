"""The one ingest module: reasons, timestamp bounds, depth bound, HTTP body splitting."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from mineral_sentinel.catalog.loader import load_catalog
from mineral_sentinel.config import Settings
from mineral_sentinel.contracts.events import PriceObserved
from mineral_sentinel.contracts.outputs import Alert, StockpileRecommendation
from mineral_sentinel.ingest import (
    MAX_JSON_DEPTH,
    TOPIC_TYPES,
    Accepted,
    Rejected,
    classify,
    classify_output,
    dead_letter,
    materials_of,
    rejected_from_validation,
    split_json_array,
    too_deep,
)
from mineral_sentinel.topics import INPUT_TOPICS
from mineral_sentinel.webkit import validation_errors
from tests.helpers.notifier_data import warning_alert

pytestmark = pytest.mark.unit

CATALOG = load_catalog()
NOW = datetime(2024, 1, 10, tzinfo=UTC).timestamp()
LIMIT = 65536
REPO = Path(__file__).resolve().parents[2]


def _price(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "price_observed",
        "event_id": "p-1",
        "material": "gallium",
        "observed_at": "2024-01-02T16:00:00Z",
        "price": 300.0,
        "currency": "USD",
        "unit": "kg",
        "source": "fastmarkets",
    }
    doc.update(changes)
    return doc


def _control(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "export_control",
        "event_id": "e-1",
        "measure_id": "CN-1",
        "country": "CN",
        "materials": ["gallium", "germanium", "gallium"],
        "measure": "licensing",
        "status": "announced",
        "announced_at": "2024-01-03T12:00:00+08:00",
        "effective_at": "2024-03-01T00:00:00+08:00",
        "summary": "licensing",
    }
    doc.update(changes)
    return doc


def _classify(doc: object, **kwargs: Any) -> Accepted | Rejected:
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return classify(raw, CATALOG, max_bytes=LIMIT, now=NOW, max_future_s=3600.0, **kwargs)


def _rejected(doc: object, **kwargs: Any) -> Rejected:
    result = _classify(doc, **kwargs)
    assert isinstance(result, Rejected), result
    return result


def test_a_valid_event_is_accepted_with_stripped_bytes_and_its_materials() -> None:
    raw = b" \n" + json.dumps(_control()).encode() + b"\r\n"
    result = _classify(raw)
    assert isinstance(result, Accepted)
    assert result.raw == raw.strip()
    assert result.materials == ("gallium", "germanium")
    assert materials_of(result.event) == ("gallium", "germanium")


def test_topic_types_are_derived_from_the_topic_registry() -> None:
    assert {spec.name: spec.event_type for spec in INPUT_TOPICS} == TOPIC_TYPES
    assert TOPIC_TYPES["minerals.prices.v1"] == "price_observed"
    wrong = _rejected(_price(), topic="minerals.shipments.v1")
    assert (wrong.reason, wrong.errors[0].path) == ("schema_violation", "type")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b" \n\t", "empty"),
        (b"\xff\xfe", "undecodable"),
        (b"{not json", "invalid_json"),
        (b" " * 70_000, "too_large"),
        (b"[" * 100_000, "too_large"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "too_large"),
        (json.dumps(_price(price=-1.0)).encode(), "schema_violation"),
        (json.dumps(_price(material="unobtainium")).encode(), "unknown_material"),
    ],
)
def test_reasons_of_the_dead_letter_vocabulary(raw: bytes, reason: str) -> None:
    result = _rejected(raw)
    assert result.reason == reason == result.errors[0].reason
    letter = json.loads(
        dead_letter(
            result,
            raw=raw,
            key=b"k",
            topic="minerals.prices.v1",
            partition=1,
            offset=9,
            received_at=datetime(2024, 1, 1, tzinfo=UTC),
        )
    )
    assert letter["errors"][0]["reason"] == reason
    assert (letter["source_partition"], letter["source_offset"]) == (1, 9)
    assert letter["value_size"] == len(raw)


@pytest.mark.parametrize(
    ("changes", "reason", "path"),
    [
        ({"observed_at": "9999-12-31T23:59:59-14:00"}, "future_timestamp", "observed_at"),
        ({"observed_at": "9999-12-31T23:59:59Z"}, "future_timestamp", "observed_at"),
        ({"observed_at": "3000-01-01T00:00:00Z"}, "future_timestamp", "observed_at"),
        ({"observed_at": "0001-01-01T00:00:00+14:00"}, "past_timestamp", "observed_at"),
        ({"observed_at": "1899-12-31T23:59:59Z"}, "past_timestamp", "observed_at"),
        ({"observed_at": 1_704_211_200}, "schema_violation", "observed_at"),
        ({"price": "300"}, "schema_violation", "price"),
        ({"price": True}, "schema_violation", "price"),
        ({"currency": 840}, "schema_violation", "currency"),
    ],
)
def test_contract_bounds_and_strict_types(changes: dict[str, Any], reason: str, path: str) -> None:
    result = _rejected(_price(**changes))
    assert result.reason == reason
    assert result.errors[0].path == f"price_observed.{path}"


def test_json_integers_are_numbers_and_the_contract_years_are_inclusive() -> None:
    assert isinstance(_classify(_price(price=300)), Accepted)
    early = _classify(_price(observed_at="1900-01-01T00:00:00Z"))
    assert isinstance(early, Accepted)
    late = classify(
        json.dumps(_price(observed_at="2999-12-31T23:59:59-14:00")).encode(),
        CATALOG,
        max_bytes=LIMIT,
        now=datetime(2999, 12, 31, tzinfo=UTC).timestamp(),
        max_future_s=1e9,
    )
    assert isinstance(late, Accepted)


def test_dates_are_iso_dates_with_bounded_years() -> None:
    shipment = {
        "type": "shipment_updated",
        "event_id": "s-1",
        "shipment_id": "S",
        "material": "cobalt",
        "status": "delayed",
        "origin_country": "CD",
        "destination_country": "BE",
        "quantity_t": 120,
        "planned_arrival": "2024-03-01",
        "occurred_at": "2024-01-02T08:00:00+01:00",
    }
    assert isinstance(_classify(shipment), Accepted)
    for value, reason in [
        ("0999-03-01", "past_timestamp"),
        ("3001-03-01", "future_timestamp"),
        ("2024-03-01T00:00:00Z", "schema_violation"),
        (20240301, "schema_violation"),
    ]:
        result = _rejected(dict(shipment, planned_arrival=value))
        assert (result.reason, result.errors[0].path) == (
            reason,
            "shipment_updated.planned_arrival",
        )


def test_event_time_ahead_of_the_wall_clock_is_a_future_timestamp() -> None:
    inside = datetime.fromtimestamp(NOW + 3600, UTC).isoformat()
    outside = datetime.fromtimestamp(NOW + 3601, UTC).isoformat()
    assert isinstance(_classify(_price(observed_at=inside)), Accepted)
    result = _rejected(_price(observed_at=outside))
    assert (result.reason, result.errors[0].path) == ("future_timestamp", "observed_at")
    stock = {
        "type": "stockpile_position",
        "event_id": "k",
        "material": "gallium",
        "stock_t": 1,
        "as_of": outside,
    }
    assert _rejected(stock).errors[0].path == "as_of"


def test_export_control_future_bound_names_the_field_behind_its_event_time() -> None:
    # announced with a future effective date: event time is announced_at, fine
    assert isinstance(_classify(_control()), Accepted)
    in_force = _rejected(_control(status="effective"))
    assert (in_force.reason, in_force.errors[0].path) == ("future_timestamp", "effective_at")
    late_news = _rejected(
        _control(announced_at="2024-06-01T00:00:00Z", effective_at="2024-01-01T00:00:00Z")
    )
    assert late_news.errors[0].path == "announced_at"


def test_depth_scan_ignores_brackets_in_strings_and_is_bounded() -> None:
    text = json.dumps(_control(summary="[" * 100 + "{" * 100)).encode()
    assert not too_deep(text)
    assert isinstance(_classify(text), Accepted)
    nested: object = 1
    for _ in range(MAX_JSON_DEPTH):
        nested = [nested]
    assert not too_deep(json.dumps(nested).encode())
    assert too_deep(json.dumps([nested]).encode())
    assert too_deep(b"[" * 1_000_000)


def test_split_json_array_keeps_each_elements_bytes() -> None:
    a, b = json.dumps(_price()).encode(), json.dumps(_price(event_id="p-2", note="[,]")).encode()
    body = b" [ " + a + b" ,\n" + b + b" ] \n"
    assert split_json_array(body) == [b" " + a + b" ", b"\n" + b + b" "]
    assert split_json_array(b"[]") == []
    assert split_json_array(a + b"\n") == [a]
    for bad, reason in [
        (b"[" + a, "invalid_json"),
        (b"[" + a + b"] x", "invalid_json"),
        (b"[" + a + b"}", "invalid_json"),
        (b"[" * 100_000, "too_large"),
    ]:
        result = split_json_array(bad)
        assert isinstance(result, Rejected) and result.reason == reason, bad[:20]
    trailing = split_json_array(b"[" + a + b",]")
    assert isinstance(trailing, list) and trailing[-1] == b""
    assert _rejected(trailing[-1]).reason == "empty"


class _Model(BaseModel):
    n: int


def test_one_mapping_for_validation_errors_everywhere() -> None:
    with pytest.raises(ValidationError) as info:
        _Model.model_validate_json(b'{"n": "x"}')
    rejected = rejected_from_validation(info.value)
    assert (rejected.reason, rejected.errors[0].path) == ("schema_violation", "n")
    assert validation_errors(info.value, index=3) == [
        {
            "field": "n",
            "message": rejected.errors[0].message,
            "type": "schema_violation",
            "index": 3,
        }
    ]
    with pytest.raises(ValidationError) as info:
        _Model.model_validate_json(b"{nope")
    assert rejected_from_validation(info.value).reason == "invalid_json"
    with pytest.raises(ValidationError) as info:
        PriceObserved.model_validate_json(json.dumps(_price(observed_at="0001-01-01T00:00:00Z")))
    assert validation_errors(info.value)[0]["type"] == "past_timestamp"


# ---- POST /v1/events: parsing, with fakes for the view, the request and the producer -------
#
# The risk service's and the notifier's Prometheus metrics share names in the default registry
# (they are separate processes), so the risk views are imported in a child process of their own.


class _Content:
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def iter_chunked(self, size: int) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), size):
            yield self.body[start : start + size]


class _Request:
    def __init__(self, body: bytes) -> None:
        self.content_length = len(body)
        self.content = _Content(body)


class _View:
    def json(self, body: Any, status: int = 200, headers: Any = None) -> tuple[int, Any]:
        return status, body


class _Input:
    def __init__(self, sent: list[tuple[bytes, bytes]]) -> None:
        self.sent = sent

    async def send(self, *, key: bytes, value: bytes) -> asyncio.Future[None]:
        self.sent.append((key, value))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


class _Agents:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []
        self.inputs = {spec.name: _Input(self.sent) for spec in INPUT_TOPICS}


def post_in_this_process() -> None:
    """Child side: base64 bodies on stdin, one JSON line per body on stdout."""
    from mineral_sentinel.auth import keyring_of
    from mineral_sentinel.risk import Policy
    from mineral_sentinel.risk_service.views import RiskApi

    for body_b64 in json.load(sys.stdin):
        agents = _Agents()
        api = RiskApi(
            None,  # type: ignore[arg-type]
            agents,  # type: ignore[arg-type]
            Settings(),
            CATALOG,
            Policy(),
            keyring_of((), {}),
            lambda: ("ok", ""),
        )
        request = _Request(base64.b64decode(body_b64))
        response: Any = asyncio.run(api.post_events(_View(), request))  # type: ignore[arg-type]
        status, answer = response
        sent = [[key.decode(), base64.b64encode(value).decode()] for key, value in agents.sent]
        print(json.dumps({"status": status, "body": answer, "sent": sent}))


def _post(*bodies: bytes) -> list[dict[str, Any]]:
    child = subprocess.run(
        [sys.executable, "-c", "from tests.unit.test_ingest import post_in_this_process as p; p()"],
        input=json.dumps([base64.b64encode(b).decode() for b in bodies]),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    answers = [json.loads(line) for line in child.stdout.splitlines()]
    for answer in answers:
        answer["sent"] = [(k.encode(), base64.b64decode(v)) for k, v in answer["sent"]]
    return answers


NOW_ISO = datetime.now(UTC).isoformat()
ONE = json.dumps(_price(observed_at=NOW_ISO), indent=1).encode()
TWO = json.dumps(_control(announced_at=NOW_ISO, effective_at=NOW_ISO)).encode()
REFUSED: list[tuple[bytes, str, str]] = [
    (b"[" * 100_000, "", "too_large"),
    (b"{" * 100_000, "", "too_large"),
    (
        json.dumps([_price(observed_at="9999-12-31T23:59:59-14:00")]).encode(),
        "price_observed.observed_at",
        "future_timestamp",
    ),
    (
        json.dumps(_price(observed_at="0001-01-01T00:00:00+14:00")).encode(),
        "price_observed.observed_at",
        "past_timestamp",
    ),
    (
        json.dumps(_price(observed_at="2999-01-01T00:00:00Z")).encode(),
        "observed_at",
        "future_timestamp",
    ),
    (json.dumps(_price(price="300")).encode(), "price_observed.price", "schema_violation"),
    (b"{nope", "", "invalid_json"),
    (b"[" + ONE + b"] trailing", "", "invalid_json"),
]


def test_post_events_produces_the_bytes_of_each_element_and_answers_422_naming_the_field() -> None:
    accepted, *refused = _post(b"[" + ONE + b",\n " + TWO + b"]", *(r[0] for r in REFUSED))
    assert accepted["status"] == 202, accepted
    assert accepted["body"] == {"accepted": 2, "event_ids": ["p-1", "e-1"]}
    assert accepted["sent"] == [(b"gallium", ONE), (b"CN-1", TWO)]
    for answer, (body, field, kind) in zip(refused, REFUSED, strict=True):
        assert answer["status"] == 422, (body[:40], answer)
        first = answer["body"]["errors"][0]
        assert (first["field"], first["type"]) == (field, kind), body[:40]
        assert answer["sent"] == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty"),
        (b"", "empty"),
        (b" \n\t", "empty"),
        (b"\xff\xfe", "undecodable"),
        (b"{not json", "invalid_json"),
        (b" " * 70_000 + b"{}", "too_large"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "too_large"),
        (b'{"type": "alert"}', "schema_violation"),
    ],
)
def test_the_notifier_reads_outputs_by_the_same_framing_rules(
    raw: bytes | None, reason: str
) -> None:
    """The fan-out's alerts and recommendations: the inputs' rules 1-3, then the contract."""
    result = classify_output(raw, Alert, max_bytes=65_536)
    assert isinstance(result, Rejected) and result.reason == reason == result.errors[0].reason


def test_a_valid_output_is_its_model_whatever_whitespace_surrounds_it() -> None:
    alert = warning_alert(datetime(2026, 11, 1, tzinfo=UTC), 1)
    raw = b"\n " + alert.model_dump_json().encode() + b"\r\n"
    assert classify_output(raw, Alert, max_bytes=65_536) == alert
    wrong_model = classify_output(raw, StockpileRecommendation, max_bytes=65_536)
    assert isinstance(wrong_model, Rejected) and wrong_model.reason == "schema_violation"
