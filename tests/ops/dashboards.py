"""Read the Grafana dashboards and Prometheus rules as data, for the static and live tests."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
GRAFANA = REPO_ROOT / "deploy" / "grafana"
RULES = REPO_ROOT / "deploy" / "prometheus" / "rules"


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    expr: str


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text())
        for path in sorted((GRAFANA / "dashboards").glob("*.json"))
    }


def panel_queries() -> list[PanelQuery]:
    return [
        PanelQuery(name, panel["title"], target["expr"])
        for name, board in dashboards().items()
        for panel in board["panels"]
        for target in panel["targets"]
    ]


def provisioned_datasource_uid() -> str:
    text = (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    match = re.search(r"^\s*uid:\s*(\S+)\s*$", text, re.MULTILINE)
    assert match, "the provisioned datasource has no uid"
    return match.group(1)


def substitute(expr: str, material: str, window: str = "1m", range_: str = "10m") -> str:
    """Replace Grafana's template variables the way Grafana would for one selection."""
    return (
        expr.replace("$__rate_interval", window)
        .replace("$__range", range_)
        .replace("$material", material)
    )


def rule_expressions() -> list[tuple[str, str]]:
    """(rule name, expr) of every recording and alerting rule, read without a YAML parser.

    The rules file keeps `expr:` either inline or as a `|` block; both forms are handled.
    """
    results: list[tuple[str, str]] = []
    for path in sorted(RULES.glob("*.yml")):
        lines = path.read_text().splitlines()
        name = ""
        index = 0
        while index < len(lines):
            line = lines[index]
            head = re.match(r"^\s*-\s*(record|alert):\s*(\S+)", line)
            if head:
                name = head.group(2)
            expr = re.match(r"^(\s*)expr:\s*(.*)$", line)
            if expr:
                indent, rest = len(expr.group(1)), expr.group(2).strip()
                if rest == "|":
                    block: list[str] = []
                    index += 1
                    while index < len(lines) and (
                        not lines[index].strip()
                        or len(lines[index]) - len(lines[index].lstrip()) > indent
                    ):
                        block.append(lines[index].strip())
                        index += 1
                    results.append((name, " ".join(b for b in block if b)))
                    continue
                results.append((name, rest))
            index += 1
    return results
