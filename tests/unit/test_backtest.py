"""The offline backtest: folding a JSONL file, bad lines, byte-identical outputs, the CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from mineral_sentinel.backtest import cli as backtest_cli
from mineral_sentinel.backtest import run_backtest
from mineral_sentinel.backtest.report import jsonl, summary
from mineral_sentinel.risk import Policy

from .risk_fixtures import CATALOG, Events, calm_prices, day

pytestmark = pytest.mark.unit


def _lines() -> list[str]:
    ev = Events()
    events = [
        *calm_prices(ev, 0, 20),
        ev.position(day(0), 9.0),
        ev.control(
            status="announced",
            announced_at=day(21),
            effective_at=day(40),
            materials=["gallium", "germanium"],
        ),
        *calm_prices(ev, 22, 5),
        ev.control(
            status="lifted",
            announced_at=day(21),
            effective_at=day(60),
            materials=["gallium", "germanium"],
        ),
        *calm_prices(ev, 61, 10),
    ]
    return [e.model_dump_json() for e in events]


def test_bad_lines_are_reported_with_number_and_reason_and_skipped():
    lines = _lines()
    lines.insert(2, "{not json")
    lines.insert(3, json.dumps({"type": "price_observed", "event_id": "x"}))
    lines.insert(4, "   ")
    lines.insert(5, Events("lithium").price(day(1), 1.0).model_dump_json())
    result = run_backtest(lines, CATALOG, Policy())
    assert [(b.line_no, b.reason) for b in result.bad_lines] == [
        (3, "invalid_json"),
        (4, "schema_violation"),
        (6, "unknown_material"),
    ]
    assert result.events == len(lines) - 4
    assert summary(result, "f.jsonl")["bad_lines"] == 3


def test_export_control_is_applied_once_per_named_material_in_order():
    result = run_backtest(_lines(), CATALOG, Policy())
    assert set(result.states) == {"gallium", "germanium"}
    alerts = result.alerts
    assert [a.material for a in alerts[:2]] == ["gallium", "germanium"]
    assert {a.status for a in alerts if a.material == "germanium"} == {"firing", "resolved"}


def test_replay_of_the_same_file_is_byte_identical():
    first = run_backtest(_lines(), CATALOG, Policy())
    second = run_backtest(_lines(), CATALOG, Policy())
    for attr in ("alerts", "recommendations", "snapshots"):
        assert jsonl(getattr(first, attr)) == jsonl(getattr(second, attr))
        assert jsonl(getattr(first, attr))


def test_cli_writes_outputs_and_charts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(_lines()) + "\n", encoding="utf-8")
    monkeypatch.setattr("mineral_sentinel.catalog.loader.load_catalog", lambda: CATALOG)
    parser = argparse.ArgumentParser()
    backtest_cli.add_arguments(parser)
    outputs = []
    for run in ("a", "b"):
        args = parser.parse_args([str(events), "--out", str(tmp_path / run)])
        assert backtest_cli.run(args) == 0
        outputs.append(
            {p.name: p.read_bytes() for p in (tmp_path / run).iterdir() if p.suffix != ".png"}
        )
    assert outputs[0] == outputs[1]
    assert set(outputs[0]) == {
        "alerts.jsonl",
        "recommendations.jsonl",
        "risk.jsonl",
        "summary.json",
    }
    report = json.loads(outputs[0]["summary.json"])
    assert report["materials"]["gallium"]["first_alert_at"] is not None
    assert report["materials"]["gallium"]["alerts_unresolved"] == 0
    charts = sorted(p.name for p in (tmp_path / "a").glob("*.png"))
    assert charts == ["gallium.png", "germanium.png"]
    assert (tmp_path / "a" / "gallium.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_reports_a_missing_file(tmp_path: Path):
    parser = argparse.ArgumentParser()
    backtest_cli.add_arguments(parser)
    args = parser.parse_args([str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")])
    assert backtest_cli.run(args) == 2
