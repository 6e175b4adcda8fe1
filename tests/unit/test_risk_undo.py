"""An event the core raises on half-way leaves the state exactly as before it, in the stream's
fold (`processor.rebuilt`) and in the backtest, which dead-letters it the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mineral_sentinel.backtest import runner
from mineral_sentinel.backtest.runner import BadLine, run_backtest
from mineral_sentinel.catalog.loader import load_catalog
from mineral_sentinel.risk import Policy, apply_event, dump_state
from mineral_sentinel.risk.ordering import order_key
from mineral_sentinel.risk_service import processor
from mineral_sentinel.risk_service.processor import Step, rebuilt, step
from mineral_sentinel.risk_service.slot import MaterialSlot, decode_slot, encode_slot, new_slot
from tests.helpers.faults import FAULT_LINE, FAULT_PREFIX, half_applied_then_raise

from .risk_fixtures import CATALOG, POLICY, Events, day

pytestmark = pytest.mark.unit
SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "calm_year.jsonl"


def _events() -> list[Any]:
    ev = Events()
    out: list[Any] = []
    for i in range(12):
        out.append(ev.price(day(i), 300.0 * (1.0 + 0.03 * (i % 3))))
        if i % 4 == 1:
            out.append(ev.shipment(day(i), f"s{i}", "delayed", 2.0 + i))
    out.insert(7, ev.price(day(6.5), 900.0, event_id=f"{FAULT_PREFIX}p"))
    return out


def _fold(slot: MaterialSlot, events: list[Any], stored: bytes) -> tuple[MaterialSlot, int]:
    """The fold's loop in `agents._apply_material`: undo a step that raises."""
    stepped: list[Step] = []
    failures = 0
    for index, event in enumerate(events):
        key = order_key(event, event.model_dump_json().encode())
        coordinate = f"minerals.prices.v1/0@{index}"
        try:
            step(slot, key, event, coordinate, CATALOG, POLICY)
        except ZeroDivisionError:
            failures += 1
            slot = rebuilt(decode_slot(stored), stepped, CATALOG, POLICY)
            continue
        stepped.append((key, event, coordinate))
    return slot, failures


def test_a_step_that_raises_is_undone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processor, "apply_event", half_applied_then_raise(apply_event))
    events = _events()
    clean = [event for event in events if not event.event_id.startswith(FAULT_PREFIX)]
    stored = encode_slot(new_slot("gallium"))
    reference, failures = _fold(decode_slot(stored), clean, stored)
    assert failures == 0

    undone, failures = _fold(decode_slot(stored), events, stored)
    assert failures == 1
    assert undone.state.seen == reference.state.seen
    assert dump_state(undone.state) == dump_state(reference.state)

    half = decode_slot(stored)  # what the fold kept before: the half-applied slot
    for index, event in enumerate(events):
        key = order_key(event, event.model_dump_json().encode())
        try:
            step(half, key, event, f"minerals.prices.v1/0@{index}", CATALOG, POLICY)
        except ZeroDivisionError:
            continue
    assert dump_state(half.state) != dump_state(reference.state), "the fault changes the state"


def test_the_backtest_undoes_and_reports_the_same_event(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = SCENARIO.read_text(encoding="utf-8").splitlines()
    catalog, policy = load_catalog(), Policy()
    clean = run_backtest(lines, catalog, policy)
    prices = [i for i, line in enumerate(lines) if '"price_observed"' in line]
    at = prices[len(prices) // 2]
    faulty = {**json.loads(lines[at]), "event_id": f"{FAULT_PREFIX}x", "price": 1e6}
    with_fault = [*lines[: at + 1], json.dumps(faulty), *lines[at + 1 :]]

    monkeypatch.setattr(runner, "apply_event", half_applied_then_raise(apply_event))
    result = run_backtest(with_fault, catalog, policy)
    assert clean.bad_lines == []
    assert result.bad_lines == [BadLine(at + 2, "processing_error", FAULT_LINE)]
    assert result.alerts == clean.alerts
    assert result.recommendations == clean.recommendations
    assert result.snapshots == clean.snapshots
    assert {m: dump_state(s) for m, s in result.states.items()} == {
        m: dump_state(s) for m, s in clean.states.items()
    }
