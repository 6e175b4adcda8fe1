"""Nothing can poison the worker: out-of-range event times are dead letters (Kafka) or 422 (HTTP)
and change no output; a stored state holding such a time is quarantined, and the worker keeps
serving every other material; an event the core raises on half-way is undone and dead-lettered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from mineral_sentinel.config import Settings
from mineral_sentinel.contracts.events import parse_event
from mineral_sentinel.kafka_admin import ensure_topics
from mineral_sentinel.risk import Policy
from mineral_sentinel.risk.ordering import order_key
from mineral_sentinel.risk_service.processor import step
from mineral_sentinel.risk_service.slot import encode_slot, new_slot
from mineral_sentinel.risk_service.topology import MATERIAL_STATE_CHANGELOG, partition_for
from tests.helpers.faults import FAULT_LINE, FAULT_PREFIX
from tests.helpers.kafka import produce
from tests.helpers.polling import wait_until
from tests.integration.risk_harness import (
    AUTH,
    REPO,
    RiskWorker,
    backtest_lines,
    by_material,
    catalog,
    expected_by_material,
    final_state_differences,
    read_outputs,
)

pytestmark = pytest.mark.integration

PRICES = "minerals.prices.v1"
YEAR_10000_S = 253402300800.0 + 86400.0


def price(i: int, material: str = "gallium", observed_at: str | None = None) -> dict[str, object]:
    return {
        "type": "price_observed",
        "event_id": f"{material}-{i}",
        "material": material,
        "observed_at": observed_at or f"2024-03-{1 + i:02d}T16:00:00Z",
        "price": 100.0 + (i % 4) * 9.0,
        "currency": "USD",
        "unit": "kg",
        "source": "fastmarkets",
    }


def poison() -> list[tuple[dict[str, object], str]]:
    """(event, reason): far future in UTC and at -14:00, year 1 at +14:00, past the wall clock."""
    ahead = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        (price(90, observed_at="9999-12-31T23:59:59Z"), "future_timestamp"),
        (price(91, observed_at="9999-12-31T23:59:59-14:00"), "future_timestamp"),
        (price(92, observed_at="0001-01-01T00:00:00+14:00"), "past_timestamp"),
        (price(93, observed_at=ahead), "future_timestamp"),
    ]


async def test_out_of_range_times_are_dead_letters_and_change_nothing(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    good = [price(i) for i in range(12)]
    expected = backtest_lines(json.dumps(doc) for doc in good)
    bad = poison()
    stream: list[tuple[bytes | None, bytes]] = []
    for index, doc in enumerate(good):
        stream.append((b"gallium", json.dumps(doc).encode()))
        if index < len(bad):
            stream.append((b"gallium", json.dumps(bad[index][0]).encode()))
    worker = RiskWorker(service_env, tmp_path / "worker.log").start()
    try:
        for doc, reason in bad:  # HTTP intake: 422 naming the field, nothing produced
            response = httpx.post(f"{worker.url}/v1/events", json=doc, headers=AUTH, timeout=10)
            assert response.status_code == 422, response.text
            errors = response.json()["errors"]
            assert errors[0]["type"] == reason and errors[0]["field"].endswith("observed_at")
        await produce(kafka_bootstrap, f"{topic_prefix}{PRICES}", stream)
        alive = lambda: worker.running  # noqa: E731
        dead = await read_outputs(
            kafka_bootstrap, topic_prefix, "dead", expected=len(bad), healthy=alive
        )
        snaps = await read_outputs(
            kafka_bootstrap, topic_prefix, "risk", expected=len(expected.snapshots), healthy=alive
        )
        assert worker.get("/v1/materials/gallium").status_code == 200
        assert worker.ready(), "the timers and views survived"
    finally:
        worker.stop()
    assert by_material(snaps) == expected_by_material(expected.snapshots)
    reasons = sorted(json.loads(r.value)["errors"][0]["reason"] for r in dead if r.value)
    assert reasons == sorted(reason for _, reason in bad)


async def test_a_stored_state_no_reader_can_use_is_quarantined(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    """A state from before the bounds existed, holding year 10000, written into the table."""
    settings = Settings(topic_prefix=topic_prefix)
    changelog = MATERIAL_STATE_CHANGELOG.full_name(topic_prefix)
    await ensure_topics(
        kafka_bootstrap, [MATERIAL_STATE_CHANGELOG], partitions=settings.topic_partitions
    )
    slot = new_slot("gallium")
    raw = json.dumps(price(0)).encode()
    event = parse_event(raw)
    step(slot, order_key(event, raw), event, "minerals.prices.v1/0@0", catalog(), Policy())
    slot.state.now = YEAR_10000_S
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            changelog,
            encode_slot(slot),
            key=b"gallium",
            partition=partition_for("gallium", settings.topic_partitions),
        )
    finally:
        await producer.stop()

    good = [price(i, "germanium") for i in range(6)]
    expected = backtest_lines(json.dumps(doc) for doc in good)
    worker = RiskWorker(service_env, tmp_path / "worker.log").start()
    try:
        await produce(
            kafka_bootstrap,
            f"{topic_prefix}{PRICES}",
            [(b"germanium", json.dumps(d).encode()) for d in good]
            + [(b"gallium", json.dumps(price(1)).encode())],
        )
        alive = lambda: worker.running  # noqa: E731
        snaps = await read_outputs(
            kafka_bootstrap, topic_prefix, "risk", expected=len(expected.snapshots), healthy=alive
        )
        assert by_material(snaps) == expected_by_material(expected.snapshots)
        wait_until(
            lambda: worker.metric("sentinel_risk_quarantined_materials") == 1,
            timeout=30,
            message="gallium quarantined",
        )
        dead = await read_outputs(kafka_bootstrap, topic_prefix, "dead", expected=2, healthy=alive)
        reasons = [json.loads(r.value)["errors"][0]["reason"] for r in dead if r.value]
        assert reasons == ["unusable_state", "unusable_state"], "the state, then the new event"
        assert worker.get("/v1/materials/gallium").status_code == 503
        assert worker.get("/v1/materials/germanium").status_code == 200
        assert worker.ready()
    finally:
        worker.stop()


async def test_an_event_the_core_raises_on_is_undone_and_dead_lettered(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    """The worker runs with a fault injected into the core (`tests/helpers/faults.py`): one
    event is applied, then the core raises. The state must be as if that event never came."""
    good = [price(i) for i in range(12)]
    faulty = {
        **price(5, observed_at="2024-03-06T20:00:00Z"),  # between the 6th and 7th good prints
        "event_id": f"{FAULT_PREFIX}gallium",
        "price": 700.0,
    }
    expected = backtest_lines(json.dumps(doc) for doc in good)
    stream = [(b"gallium", json.dumps(doc).encode()) for doc in good[:6]]
    stream.append((b"gallium", json.dumps(faulty).encode()))
    stream += [(b"gallium", json.dumps(doc).encode()) for doc in good[6:]]
    env = {**service_env, "PYTHONPATH": str(REPO)}
    worker = RiskWorker(env, tmp_path / "worker.log", module="tests.helpers.faults").start()
    try:
        await produce(kafka_bootstrap, f"{topic_prefix}{PRICES}", stream)
        alive = lambda: worker.running  # noqa: E731
        dead = await read_outputs(kafka_bootstrap, topic_prefix, "dead", expected=1, healthy=alive)
        snaps = await read_outputs(
            kafka_bootstrap, topic_prefix, "risk", expected=len(expected.snapshots), healthy=alive
        )
        wait_until(
            lambda: worker.metric("sentinel_risk_events_undone_total") == 1,
            timeout=30,
            message="the undone event counted",
        )
        differences = final_state_differences(worker, expected)
        assert worker.ready()
    finally:
        worker.stop()
    letter = json.loads(dead[0].value)
    assert letter["errors"][0]["reason"] == "processing_error"
    assert letter["errors"][0]["message"] == FAULT_LINE
    assert by_material(snaps) == expected_by_material(expected.snapshots)
    assert differences == [], "the state is the one without the faulty event"
