"""Writing a backtest's results: JSON Lines of the contract models and a summary.

Serialisation is `model_dump_json` per model and sorted-key JSON for the summary, so two runs
over the same file give byte-identical outputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..contracts.outputs import LEVEL_ORDER
from ..risk import level_name
from .runner import BacktestResult

MAX_BAD_LINES_LISTED = 100


def jsonl(models: Iterable[BaseModel]) -> str:
    return "".join(model.model_dump_json() + "\n" for model in models)


def summary(result: BacktestResult, source_name: str) -> dict[str, Any]:
    materials: dict[str, dict[str, Any]] = {}
    for code, state in sorted(result.states.items()):
        materials[code] = {
            "first_alert_at": None,
            "first_alert_severity": None,
            "peak_level": "normal",
            "alert_episodes": 0,
            "alerts_unresolved": 0,
            "recommendations": {"release": 0, "hold": 0, "replenish": 0},
            "rules": {},
            "released_t": 0.0,
            "final_level": level_name(state),
            "final_score": round(state.score, 3),
        }
    open_alerts: dict[str, set[str]] = {}
    for alert in result.alerts:
        entry = materials[alert.material]
        if entry["first_alert_at"] is None:
            entry["first_alert_at"] = alert.started_at.isoformat()
            entry["first_alert_severity"] = alert.severity
        if LEVEL_ORDER[alert.severity] > LEVEL_ORDER[entry["peak_level"]]:
            entry["peak_level"] = alert.severity
        ids = open_alerts.setdefault(alert.material, set())
        if alert.sequence == 1:
            entry["alert_episodes"] += 1
        if alert.status == "firing":
            ids.add(alert.alert_id)
        else:
            ids.discard(alert.alert_id)
    for material, ids in open_alerts.items():
        materials[material]["alerts_unresolved"] = len(ids)
    for rec in result.recommendations:
        entry = materials[rec.material]
        entry["recommendations"][rec.action] += 1
        rule = rec.rule or "unnamed"
        entry["rules"][rule] = entry["rules"].get(rule, 0) + 1
        if rec.action == "release":
            entry["released_t"] = round(entry["released_t"] + rec.quantity_t, 3)
    return {
        "source": source_name,
        "protocol": result.protocol,
        "events_applied": result.events,
        "bad_lines": len(result.bad_lines),
        "bad_line_details": [
            {"line": b.line_no, "reason": b.reason, "message": b.message}
            for b in result.bad_lines[:MAX_BAD_LINES_LISTED]
        ],
        "alerts": len(result.alerts),
        "recommendations": len(result.recommendations),
        "snapshots": len(result.snapshots),
        "materials": materials,
    }


def write_outputs(result: BacktestResult, out_dir: Path, source_name: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "alerts.jsonl").write_text(jsonl(result.alerts), encoding="utf-8")
    (out_dir / "recommendations.jsonl").write_text(jsonl(result.recommendations), encoding="utf-8")
    (out_dir / "risk.jsonl").write_text(jsonl(result.snapshots), encoding="utf-8")
    (out_dir / "summary.json").write_text(
        json.dumps(summary(result, source_name), indent=2, sort_keys=True) + "\n",
        encoding="utf-8",
    )
