"""The README is part of the product: its two commands, its settings table and its evaluation
table must stay true."""

from __future__ import annotations

from pathlib import Path

import pytest

from mineral_sentinel.configdoc import settings_table
from mineral_sentinel.evaluation.table import readme_block

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[2] / "README.md"


def test_settings_table_matches_the_settings_model() -> None:
    assert settings_table() in README.read_text(), (
        "README settings table drifted: python -m mineral_sentinel.configdoc --write README.md"
    )


def test_evaluation_table_matches_the_committed_episodes() -> None:
    assert readme_block(README.parent / "episodes") in README.read_text(), (
        "README evaluation table drifted: python -m mineral_sentinel.evaluation.table "
        "--write README.md"
    )


def test_readme_opens_with_the_two_commands() -> None:
    head = "\n".join(README.read_text().splitlines()[:20])
    assert "make demo" in head and "make test" in head
    makefile = (README.parent / "Makefile").read_text()
    assert "\ndemo: " in makefile and "\ntest: " in makefile
    assert "make test" in (README.parent / ".ci" / "run").read_text()
