"""The evaluation table: per episode and in total, generated from the committed episodes.

`python -m mineral_sentinel.evaluation.table` (from the repository root) prints it for
`episodes/`, `... --write README.md` replaces the README's copy between the markers; a unit
test fails when that copy drifts.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from ..catalog.loader import load_catalog
from ..risk import Policy
from .labels import load_episodes
from .metrics import EpisodeScore, Totals, totals
from .runner import EpisodeRun, run_episodes

BEGIN = "<!-- evaluation-table:begin (python -m mineral_sentinel.evaluation.table) -->"
END = "<!-- evaluation-table:end -->"
DASH = "—"

HEADER = (
    "| episode | materials | lead time to expected alert (h) | misses | false alerts in calm "
    "periods | false releases in calm periods | time to resolve (h) | expected release | "
    "labels met |"
)


def _hours(value: float | None) -> str:
    return DASH if value is None else f"{value:,.1f}"


def _lead(score: EpisodeScore, labelled: bool) -> str:
    if not labelled:
        return DASH
    leads = [m.lead_time_h for m in score.materials]
    if all(v is None for v in leads):
        return "never"
    worst = score.lead_time_h
    return (
        _hours(worst)
        if worst is not None
        else f"{_hours(max(v for v in leads if v is not None))} (some never)"
    )


def _resolve(score: EpisodeScore) -> str:
    if score.resolution_met is None:
        return DASH
    text = "unresolved" if score.resolve_h is None else _hours(score.resolve_h)
    return text if score.resolution_met else f"{text} (late)"


def _release(score: EpisodeScore) -> str:
    if score.release_met is None:
        return DASH
    if score.release_at is None:
        return "none"
    day = score.release_at.date().isoformat()
    return f"yes, {day}" if score.release_met else f"late, {day}"


def row(run: EpisodeRun) -> str:
    episode = run.loaded.episode
    score = run.score
    calm = bool(episode.calm_periods)
    cells = [
        f"`{run.loaded.name}`",
        ", ".join(episode.materials),
        _lead(score, episode.expected_alert is not None),
        f"{score.misses}/{len(score.materials)}" if episode.expected_alert else DASH,
        str(score.false_alerts) if calm else DASH,
        str(score.false_releases) if calm else DASH,
        _resolve(score),
        _release(score),
        "yes" if score.passed else "no",
    ]
    return "| " + " | ".join(cells) + " |"


def total_row(total: Totals) -> str:
    cells = [
        f"**total ({total.episodes})**",
        "",
        f"median {_hours(total.median_lead_h)} over {total.leads_measured}",
        str(total.misses),
        str(total.false_alerts),
        str(total.false_releases),
        f"worst {_hours(total.worst_resolve_h)}; {total.resolutions_met}/"
        f"{total.resolutions_labelled} in time",
        f"{total.releases_met}/{total.releases_labelled} in time",
        f"{total.passed}/{total.episodes}",
    ]
    return "| " + " | ".join(cells) + " |"


def evaluation_table(runs: Sequence[EpisodeRun]) -> str:
    separator = "|" + "---|" * HEADER.count(" |")
    rows = [HEADER, separator, *(row(run) for run in runs)]
    rows.append(total_row(totals([run.score for run in runs])))
    return "\n".join(rows)


def unmet_labels(run: EpisodeRun) -> list[str]:
    """One line per label not met, naming the episode and material (printed after the table)."""
    episode, score, name = run.loaded.episode, run.score, run.loaded.name
    lines = []
    for m in score.materials:
        expected = episode.expected_alert
        if m.missed and expected is not None:
            when = (
                "never reached"
                if m.lead_time_h is None
                else f"reached {m.lead_time_h:,.1f} h after the signal, after the deadline"
            )
            lines.append(
                f"{name}: {m.material}: {expected.severity} due by "
                f"{expected.by.isoformat()}: {when}"
            )
        if m.false_alerts:
            lines.append(
                f"{name}: {m.material}: {m.false_alerts} alert(s) above a calm period's ceiling "
                f"(peak {m.calm_peak})"
            )
        if m.false_releases:
            lines.append(
                f"{name}: {m.material}: {m.false_releases} release(s) in a calm period that "
                "allows none"
            )
        if m.resolved_in_time is False and episode.resolution is not None:
            state = "still alerting at the end" if m.resolve_h is None else f"{m.resolve_h:,.1f} h"
            lines.append(
                f"{name}: {m.material}: resolution due by "
                f"{episode.resolution.by.isoformat()}: {state}"
            )
    release = episode.expected_release
    if score.release_met is False and release is not None:
        when = "none" if score.release_at is None else f"first on {score.release_at.isoformat()}"
        lines.append(f"{name}: {release.material}: release due by {release.by.isoformat()}: {when}")
    return lines


def readme_block(directory: Path) -> str:
    """The table for the episodes in `directory`, default policy and packaged catalog."""
    catalog = load_catalog()
    runs = run_episodes(load_episodes(directory, catalog), catalog, Policy())
    return "\n".join([BEGIN, evaluation_table(runs), END])


def write_into(path: Path, directory: Path) -> None:
    text = path.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    path.write_text(text[:start] + readme_block(directory) + text[end:])


if __name__ == "__main__":
    episodes_dir = Path("episodes")
    if sys.argv[1:2] == ["--write"]:
        write_into(Path(sys.argv[2]), episodes_dir)
    else:
        print(readme_block(episodes_dir))
