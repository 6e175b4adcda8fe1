"""Every Prometheus alert has its runbook in docs/operations.md, and every runbook an alert."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def test_runbooks_and_alerts_match() -> None:
    rules = (REPO / "deploy" / "prometheus" / "rules" / "sentinel.rules.yml").read_text()
    alerts = set(re.findall(r"^\s*- alert: (\w+)\s*$", rules, re.M))
    doc = (REPO / "docs" / "operations.md").read_text()
    runbooks = set(re.findall(r"^### (\w+)\s*$", doc, re.M))
    assert alerts, "no alert found in the rules file"
    assert alerts - runbooks == set(), "alerts without a runbook in docs/operations.md"
    assert runbooks - alerts == set(), "runbooks of alerts that no longer exist"
