"""docs/risk-model.md holds the table of every `Policy` default as generated from risk/policy.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from mineral_sentinel.policydoc import policy_table
from mineral_sentinel.risk.policy import Policy

pytestmark = pytest.mark.unit
DOC = Path(__file__).resolve().parents[2] / "docs" / "risk-model.md"


def test_the_defaults_table_is_current() -> None:
    assert policy_table() in DOC.read_text(), (
        "docs/risk-model.md drifted: "
        "python -m mineral_sentinel.policydoc --write docs/risk-model.md"
    )


def test_every_policy_field_has_a_row_and_a_meaning() -> None:
    rows = [line for line in policy_table().splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) == len(Policy.__dataclass_fields__)
    assert all(not line.endswith("|  |") for line in rows), "a Policy field has no docstring"
