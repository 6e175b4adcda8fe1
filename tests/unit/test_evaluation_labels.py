"""The episode label format: what it accepts, and a precise error (file, field, reason) else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mineral_sentinel.catalog.loader import load_catalog
from mineral_sentinel.evaluation.labels import (
    LabelError,
    load_episode,
    load_episodes,
    parse_episode,
)

pytestmark = pytest.mark.unit
CATALOG = load_catalog()
FILE = Path("episodes/x.json")
NOTE = "MOFCOM announcement of 3 July 2023"


def _valid() -> dict[str, Any]:
    return {
        "format": "sentinel-episode/1",
        "title": "t",
        "events": "x.jsonl",
        "materials": ["gallium", "germanium"],
        "first_public_signal": {"at": "2023-07-03T08:00:00Z", "source": NOTE},
        "expected_alert": {"severity": "warning", "by": "2023-07-04T08:00:00Z", "source": NOTE},
        "calm_periods": [
            {
                "start": "2023-04-01T00:00:00Z",
                "end": "2023-07-03T08:00:00Z",
                "max_severity": "watch",
                "source": NOTE,
            }
        ],
        "resolution": {
            "after": "2024-01-01T00:00:00Z",
            "by": "2024-01-08T00:00:00Z",
            "source": NOTE,
        },
        "expected_release": {"material": "gallium", "by": "2023-08-15T00:00:00Z", "source": NOTE},
        "illustrative": "prices",
    }


def _problems(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(LabelError) as caught:
        parse_episode(json.dumps(doc), FILE, CATALOG)
    assert caught.value.file == FILE
    assert str(caught.value).startswith(f"{FILE}: ")
    return caught.value.problems


def test_a_complete_label_document_is_accepted_with_its_defaults():
    episode = parse_episode(json.dumps(_valid()), FILE, CATALOG)
    assert episode.materials == ["gallium", "germanium"]
    assert episode.calm_periods[0].releases_allowed is False
    minimal = {k: v for k, v in _valid().items() if k in ("format", "title", "events", "materials")}
    bare = parse_episode(json.dumps({**minimal, "illustrative": "all"}), FILE, CATALOG)
    assert bare.expected_alert is None and bare.calm_periods == [] and bare.resolution is None


def _with(path: str, value: Any) -> dict[str, Any]:
    doc = _valid()
    target: Any = doc
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return doc


DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("format", "sentinel-episode/2", "format: Input should be 'sentinel-episode/1'"),
        ("format", DELETE, "format: Field required"),
        ("illustrative", DELETE, "illustrative: Field required"),
        ("expected_alert.severity", "normal", "expected_alert.severity: Input should be"),
        (
            "expected_alert.by",
            "2023-07-04T08:00:00",
            "expected_alert.by: Input should have timezone",
        ),
        (
            "expected_alert.sevrity",
            "warning",
            "expected_alert.sevrity: Extra inputs are not permitted",
        ),
        (
            "first_public_signal.source",
            "",
            "first_public_signal.source: String should have at least 10",
        ),
        ("calm_periods.0.max_severity", "alarm", "calm_periods.0.max_severity: Input should be"),
        ("calm_periods.0.end", "2023-04-01T00:00:00Z", "calm_periods.0.end: must be after start"),
        ("resolution.by", "2023-12-31T00:00:00Z", "resolution.by: must not be before `after`"),
        ("materials", [], "materials: List should have at least 1 item"),
        ("materials", ["Gallium"], "materials.0: String should match pattern"),
        ("materials", ["gallium", "gallium"], "materials: listed more than once: gallium"),
        ("events", "../scenarios/x.jsonl", "events: must be a relative path inside"),
        ("events", "/etc/passwd", "events: must be a relative path inside"),
        ("events", "sub\\x.jsonl", "events: must be a relative path inside"),
        ("first_public_signal", DELETE, "expected_alert: needs first_public_signal"),
        ("expected_alert.by", "2023-07-01T00:00:00Z", "expected_alert.by: is before first_public"),
        ("expected_release.material", "germanium", DELETE),
        ("expected_release.material", "cobalt", "expected_release.material: is not one of"),
    ],
)
def test_a_bad_label_is_rejected_naming_its_field(path: str, value: Any, expected: Any):
    doc = _with(path, value)
    if expected is DELETE:  # a sanity row: a valid variation stays valid
        parse_episode(json.dumps(doc), FILE, CATALOG)
        return
    problems = _problems(doc)
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_of_a_document_is_reported_at_once():
    doc = _with("format", "v0")
    doc["calm_periods"][0]["max_severity"] = "alarm"
    problems = _problems(doc)
    assert [p.split(":")[0] for p in problems] == ["format", "calm_periods.0.max_severity"]


def test_a_material_outside_the_catalog_is_rejected_with_its_index():
    problems = _problems(_with("materials", ["gallium", "unobtainium"]))
    assert problems == ["materials.1: 'unobtainium' is not a catalog material"]


def test_files_not_json_missing_events_and_empty_directories_are_precise(tmp_path: Path):
    label = tmp_path / "x.json"
    label.write_text("{not json", encoding="utf-8")
    with pytest.raises(LabelError, match=r"x\.json: not JSON: "):
        load_episode(label, CATALOG)
    label.write_text(json.dumps(_valid()), encoding="utf-8")
    with pytest.raises(LabelError, match=r"x\.json: events: no such file: .*x\.jsonl"):
        load_episode(label, CATALOG)
    (tmp_path / "x.jsonl").write_text("", encoding="utf-8")
    loaded = load_episode(label, CATALOG)
    assert loaded.name == "x" and loaded.events_file == tmp_path / "x.jsonl"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LabelError, match=r"no episode label files"):
        load_episodes(empty, CATALOG)
