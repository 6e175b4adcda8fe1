"""A corpus of malformed messages lands in the dead-letter topic with reasons; good events
around them are all processed, in order, exactly as the backtest processes the good lines."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.helpers.kafka import produce
from tests.integration.risk_harness import (
    RiskWorker,
    backtest_lines,
    by_material,
    expected_by_material,
    read_outputs,
)

pytestmark = pytest.mark.integration

PRICES = "minerals.prices.v1"
SHIPMENTS = "minerals.shipments.v1"
EXPORTS = "minerals.export-controls.v1"


def price(i: int, value: object = 100.0, **overrides: object) -> dict[str, object]:
    return {
        "type": "price_observed",
        "event_id": f"good-{i}",
        "material": "gallium",
        "observed_at": f"2024-03-{1 + i % 28:02d}T16:00:00Z",
        "price": value,
        "currency": "USD",
        "unit": "kg",
        "source": "fastmarkets",
        "market": "rotterdam",
        **overrides,
    }


def shipment(**overrides: object) -> dict[str, object]:
    return {
        "type": "shipment_updated",
        "event_id": "ship-bad",
        "shipment_id": "s1",
        "material": "gallium",
        "status": "delayed",
        "origin_country": "CN",
        "destination_country": "NL",
        "quantity_t": 5.0,
        "planned_arrival": "2024-03-20",
        "occurred_at": "2024-03-05T10:00:00Z",
        **overrides,
    }


def dumps(doc: object) -> bytes:
    return json.dumps(doc).encode()


# (topic, key, value, expected reason, expected error path or None)
CORPUS: list[tuple[str, bytes, bytes, str, str | None]] = [
    (PRICES, b"gallium", b"this is not json", "invalid_json", None),
    (PRICES, b"gallium", b"\xff\xfe\x00garbage", "undecodable", None),
    (PRICES, b"gallium", b"", "empty", None),
    (
        PRICES,
        b"gallium",
        dumps(price(90, value="cheap")),
        "schema_violation",
        "price_observed.price",
    ),
    (
        PRICES,
        b"gallium",
        dumps(price(91)).replace(b"100.0", b"NaN"),
        "schema_violation",
        "price_observed.price",
    ),
    (
        PRICES,
        b"gallium",
        dumps(price(92, observed_at="2024-03-05T16:00:00")),
        "schema_violation",
        "price_observed.observed_at",
    ),
    (
        PRICES,
        b"unobtainium",
        dumps(price(93, material="unobtainium")),
        "unknown_material",
        "material",
    ),
    (PRICES, b"gallium", b'{"pad":"' + b"x" * 1_000_000 + b'"}', "too_large", None),
    (
        SHIPMENTS,
        b"gallium",
        dumps(shipment(quantity_t=-3.0)),
        "schema_violation",
        "shipment_updated.quantity_t",
    ),
    (SHIPMENTS, b"gallium", dumps(price(94)), "schema_violation", "type"),
    (
        EXPORTS,
        b"m1",
        dumps(
            {
                "type": "export_control",
                "event_id": "ec-bad",
                "measure_id": "m1",
                "country": "CN",
                "materials": ["gallium", "kryptonite"],
                "measure": "licensing",
                "status": "announced",
                "announced_at": "2024-03-01T00:00:00Z",
                "effective_at": "2024-04-01T00:00:00Z",
                "summary": "x",
            }
        ),
        "unknown_material",
        "materials",
    ),
]


async def test_malformed_messages_are_dead_lettered_and_good_events_survive(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    good = [price(i, 100.0 + 7.0 * (i % 3) + (40.0 if i > 12 else 0.0)) for i in range(20)]
    expected = backtest_lines(json.dumps(doc) for doc in good)
    assert expected.snapshots, "the good events produce risk snapshots"
    # Good prices with bad messages between them, on the same partition (key gallium).
    price_stream: list[tuple[bytes | None, bytes]] = []
    bad_iter = iter([c for c in CORPUS if c[0] == PRICES])
    for doc in good:
        price_stream.append((b"gallium", dumps(doc)))
        bad = next(bad_iter, None)
        if bad is not None:
            price_stream.append((bad[1], bad[2]))

    worker = RiskWorker(service_env, tmp_path / "worker.log").start()
    try:
        await produce(kafka_bootstrap, f"{topic_prefix}{PRICES}", price_stream)
        for topic in (SHIPMENTS, EXPORTS):
            await produce(
                kafka_bootstrap,
                f"{topic_prefix}{topic}",
                [(k, v) for t, k, v, _, _ in CORPUS if t == topic],
            )
        alive = lambda: worker.running  # noqa: E731
        dead = await read_outputs(
            kafka_bootstrap, topic_prefix, "dead", expected=len(CORPUS), healthy=alive
        )
        snaps = await read_outputs(
            kafka_bootstrap, topic_prefix, "risk", expected=len(expected.snapshots), healthy=alive
        )
        assert worker.metric("sentinel_events_invalid_total") == len(CORPUS)
        assert worker.metric("sentinel_events_consumed_total") == len(good)
    finally:
        worker.stop()

    assert by_material(snaps) == expected_by_material(expected.snapshots), "no good event lost"
    letters = [json.loads(r.value) for r in dead if r.value is not None]
    assert len(letters) == len(CORPUS)
    by_value = {}
    for letter in letters:
        assert letter["source_topic"].startswith(topic_prefix)
        assert letter["source_partition"] is not None and letter["source_offset"] is not None
        by_value[(letter["source_topic"], letter["value_size"], letter["value_b64"][:64])] = letter
    for topic, _key, value, reason, path in CORPUS:
        shown = base64.b64encode(value[: 256 * 1024]).decode()
        letter = by_value[(f"{topic_prefix}{topic}", len(value), shown[:64])]
        assert letter["errors"][0]["reason"] == reason, (value[:80], letter["errors"])
        if path is not None:
            assert any(e["path"] == path for e in letter["errors"]), letter["errors"]
        if len(value) <= 256 * 1024:
            assert base64.b64decode(letter["value_b64"]) == value, "original bytes kept"
        assert letter["errors"][0]["message"]
