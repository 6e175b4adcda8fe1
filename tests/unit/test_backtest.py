"""The offline backtest: folding a JSONL file, bad lines, byte-identical outputs, the CLI."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import pytest

from mineral_sentinel.backtest import BacktestResult, run_backtest
from mineral_sentinel.backtest import cli as backtest_cli
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


# ---- ingest rules and the total order ------------------------------------------------------

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def _scenario() -> list[str]:
    return (SCENARIOS / "china_gallium_germanium_2023.jsonl").read_text("utf-8").splitlines()


def _per_material(result: BacktestResult) -> dict[str, tuple[str, ...]]:
    materials = set(result.states)
    return {
        m: tuple(
            jsonl(o for o in getattr(result, attr) if o.material == m)
            for attr in ("snapshots", "alerts", "recommendations")
        )
        for m in sorted(materials)
    }


def test_a_shuffled_file_gives_byte_identical_outputs_per_material():
    from mineral_sentinel.catalog.loader import load_catalog

    catalog, lines = load_catalog(), _scenario()
    in_order = run_backtest(lines, catalog, Policy(), now=2_000_000_000.0)
    assert in_order.bad_lines == [] and in_order.alerts
    for seed in (1, 2):
        shuffled = list(lines)
        random.Random(seed).shuffle(shuffled)
        assert shuffled != lines
        result = run_backtest(shuffled, catalog, Policy(), now=2_000_000_000.0)
        assert result.events == in_order.events
        assert _per_material(result) == _per_material(in_order)


def _with_observed_at(line: str, observed_at: str, event_id: str) -> str:
    doc = json.loads(line)
    doc.update(observed_at=observed_at, event_id=event_id)
    return json.dumps(doc)


def test_far_future_and_year_one_lines_are_bad_lines_that_change_nothing():
    lines = _lines()
    price = next(line for line in lines if '"price_observed"' in line)
    bad = [
        _with_observed_at(price, "9999-12-31T23:59:59-14:00", "f1"),  # UTC year 10000
        _with_observed_at(price, "9999-12-31T00:00:00Z", "f2"),
        _with_observed_at(price, "0001-01-01T00:00:00+14:00", "p1"),  # UTC year 0
        _with_observed_at(price, "2023-11-15T00:13:21Z", "f3"),  # an hour and a second ahead
        json.dumps(dict(json.loads(price), observed_at=1_700_000_000, event_id="e1")),
        json.dumps(dict(json.loads(price), price="300", event_id="s1")),
        json.dumps(dict(json.loads(price), price=True, event_id="b1")),
    ]
    clean = run_backtest(lines, CATALOG, Policy(), now=NOW)
    result = run_backtest([*lines, *bad], CATALOG, Policy(), now=NOW)
    n = len(lines)
    assert [(b.line_no, b.reason) for b in result.bad_lines] == [
        (n + 1, "future_timestamp"),
        (n + 2, "future_timestamp"),
        (n + 3, "past_timestamp"),
        (n + 4, "future_timestamp"),
        (n + 5, "schema_violation"),
        (n + 6, "schema_violation"),
        (n + 7, "schema_violation"),
    ]
    assert "observed_at" in result.bad_lines[0].message
    assert result.bad_lines[3].message.startswith("observed_at: ")
    for attr in ("alerts", "recommendations", "snapshots"):
        assert jsonl(getattr(result, attr)) == jsonl(getattr(clean, attr))
    # without a wall clock only the contract's years bound the time
    offline = run_backtest([*lines, *bad], CATALOG, Policy())
    assert [b.reason for b in offline.bad_lines][:4] == [
        "future_timestamp",
        "future_timestamp",
        "past_timestamp",
        "schema_violation",
    ]


def test_charts_do_not_crash_on_the_extreme_years_the_contract_accepts(tmp_path: Path):
    from mineral_sentinel.backtest.charts import write_charts

    ev = Events()
    lines = [e.model_dump_json() for e in calm_prices(ev, 0, 20)]
    lines += [
        _with_observed_at(lines[0], "1900-01-01T00:00:00+14:00", "early"),
        _with_observed_at(lines[0], "2999-12-31T23:59:59-14:00", "late"),
    ]
    control = ev.control(
        status="announced", announced_at=day(21), effective_at=day(40), materials=["gallium"]
    )
    lines.append(control.model_dump_json())
    result = run_backtest(lines, CATALOG, Policy())
    assert result.bad_lines == [] and result.alerts
    charts = write_charts(result, tmp_path, Policy())
    assert charts and all(p.read_bytes()[:4] == b"\x89PNG" for p in charts)
