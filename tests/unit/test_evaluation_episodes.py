"""The committed episodes: each loads, passes the intake, runs and is scored; the README's
table is the one they give; `sentinel evaluate` exit codes, output and charts."""

from __future__ import annotations

import json
import shutil
from functools import cache
from pathlib import Path

import pytest

from mineral_sentinel.catalog.loader import load_catalog
from mineral_sentinel.cli import main
from mineral_sentinel.contracts.events import ExportControl, parse_event
from mineral_sentinel.evaluation.episodes import EPISODES, episode_lines
from mineral_sentinel.evaluation.labels import load_episodes
from mineral_sentinel.evaluation.runner import EpisodeRun, run_episodes
from mineral_sentinel.evaluation.table import BEGIN, END, HEADER, evaluation_table, readme_block
from mineral_sentinel.risk import Policy

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
EPISODE_DIR = ROOT / "episodes"
CATALOG = load_catalog()


@cache
def runs() -> tuple[EpisodeRun, ...]:
    return tuple(run_episodes(load_episodes(EPISODE_DIR, CATALOG), CATALOG, Policy()))


def test_at_least_ten_episodes_each_with_its_generated_events_file():
    labels = sorted(p.stem for p in EPISODE_DIR.glob("*.json"))
    events = sorted(p.stem for p in EPISODE_DIR.glob("*.jsonl"))
    assert len(labels) >= 10
    assert labels == events == sorted(EPISODES)
    for run in runs():
        assert run.loaded.events_file.name == f"{run.loaded.name}.jsonl"


@pytest.mark.parametrize("name", sorted(EPISODES))
def test_committed_events_are_what_the_seeded_generator_writes(name: str):
    committed = (EPISODE_DIR / f"{name}.jsonl").read_text(encoding="utf-8")
    assert committed == episode_lines(name), (
        "episode drifted: python -m mineral_sentinel.evaluation.episodes --out episodes/"
    )
    assert len(committed.splitlines()) <= 5000


def test_every_episode_runs_with_no_line_rejected_by_the_intake():
    for run in runs():
        assert run.result.bad_lines == [], run.loaded.name
        assert run.result.events == len(run.loaded.events_file.read_text().splitlines())
        assert set(run.loaded.episode.materials) <= set(run.result.states), run.loaded.name


def test_labels_fall_inside_their_episode_and_every_kind_of_episode_is_there():
    kinds = {"policy": 0, "third_country": 0, "price_only": 0, "logistics": 0, "calm": 0}
    for run in runs():
        episode = run.loaded.episode
        lines = run.loaded.events_file.read_text().splitlines()
        events = [parse_event(line) for line in lines]
        start, end = min(e.occurred_at for e in events), max(e.occurred_at for e in events)
        if episode.first_public_signal is not None:
            assert start <= episode.first_public_signal.at <= end, run.loaded.name
        for calm in episode.calm_periods:
            assert calm.start <= end and calm.end >= start, run.loaded.name
        controls = [e for e in events if isinstance(e, ExportControl)]
        eu = {c.code for c in CATALOG.countries.values() if c.eu_member}
        if controls and all(c.destinations and not set(c.destinations) & eu for c in controls):
            kinds["third_country"] += 1
        elif controls:
            kinds["policy"] += 1
        elif (
            any(getattr(e, "status", None) == "delayed" for e in events)
            and episode.first_public_signal
        ):
            kinds["logistics"] += 1
        elif episode.first_public_signal is not None:
            kinds["price_only"] += 1
        else:
            kinds["calm"] += 1
    assert all(kinds.values()), kinds
    assert kinds["policy"] >= 5


def test_the_readme_block_is_the_table_of_the_committed_episodes():
    # the README's copy of this block is checked in test_readme.py
    assert readme_block(EPISODE_DIR) == "\n".join([BEGIN, evaluation_table(list(runs())), END])


def test_the_table_has_a_row_per_episode_and_a_total():
    lines = evaluation_table(list(runs())).splitlines()
    assert lines[0] == HEADER
    assert len(lines) == 2 + len(EPISODES) + 1
    assert lines[-1].startswith("| **total (") and lines[-1].count("|") == HEADER.count("|")
    for run, line in zip(runs(), lines[2:-1], strict=True):
        assert line.startswith(f"| `{run.loaded.name}` |")
        assert line.endswith("| yes |" if run.score.passed else "| no |")


# ---- the command -------------------------------------------------------------------------------


def _one_episode(tmp_path: Path, **changes: object) -> Path:
    directory = tmp_path / "eps"
    directory.mkdir()
    shutil.copy(EPISODE_DIR / "calm_2019.jsonl", directory / "calm_2019.jsonl")
    doc = json.loads((EPISODE_DIR / "calm_2019.json").read_text())
    (directory / "calm_2019.json").write_text(json.dumps({**doc, **changes}))
    return directory


def test_evaluate_prints_the_table_writes_one_chart_per_episode_and_exits_0_when_all_met(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    directory = _one_episode(tmp_path)
    assert main(["evaluate", str(directory), "--out", str(tmp_path / "charts")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == HEADER
    assert "| `calm_2019` |" in out and out.rstrip().endswith("| 1/1 |")
    charts = list((tmp_path / "charts").iterdir())
    assert [p.name for p in charts] == ["calm_2019.png"]
    assert charts[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_exits_1_when_a_label_is_not_met(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # a calm year is labelled as if a warning were due: the model (rightly) misses it
    directory = _one_episode(
        tmp_path,
        first_public_signal={
            "at": "2019-03-01T00:00:00Z",
            "source": "a made-up signal for the test",
        },
        expected_alert={"by": "2019-03-02T00:00:00Z", "source": "a made-up deadline for the test"},
    )
    assert main(["evaluate", str(directory), "--no-charts"]) == 1
    out = capsys.readouterr().out
    assert (
        "| `calm_2019` | aluminium, manganese, titanium_metal, tin, fluorspar | never | 5/5 |"
        in out
    )
    table, unmet = out.split("\nlabels not met:\n")
    assert table.rstrip().endswith("| 0/1 |")
    assert unmet.splitlines()[0] == (
        "- calm_2019: aluminium: warning due by 2019-03-02T00:00:00+00:00: never reached"
    )
    assert len(unmet.splitlines()) == 5


def test_evaluate_exits_2_naming_the_file_and_field_of_a_bad_label(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    directory = _one_episode(tmp_path, calm_periods=[{"start": "2019-01-02T00:00:00Z"}])
    assert main(["evaluate", str(directory), "--no-charts"]) == 2
    err = capsys.readouterr().err
    assert f"{directory / 'calm_2019.json'}: calm_periods.0.end: Field required" in err
    assert "calm_periods.0.max_severity: Field required" in err
    assert main(["evaluate", str(tmp_path / "nowhere")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_evaluate_exits_2_when_an_events_line_fails_the_intake(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    directory = _one_episode(tmp_path)
    with (directory / "calm_2019.jsonl").open("a") as handle:
        handle.write('{"type": "price_observed", "material": "unobtainium"}\n')
    assert main(["evaluate", str(directory), "--no-charts"]) == 2
    err = capsys.readouterr().err
    assert "calm_2019.jsonl: line 1796: schema_violation" in err
