"""One PNG per episode: each scored material as the backtest draws it, with the labels on top.

Labels: first public signal (solid black), expected-alert deadline (dotted red), calm periods
(green band at the foot of the score axis, ceiling written on it), end of the measure or
disruption and resolution deadline (dash-dot purple), expected-release deadline (dotted teal).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..backtest.charts import plot_material, pyplot, save
from ..risk import Policy
from .runner import EpisodeRun

SIGNAL, DEADLINE, CALM, RESOLVE, RELEASE = "#000000", "#c1121f", "#2d6a4f", "#7b2cbf", "#2a9d8f"


def _mark(ax: Any, at: Any, colour: str, style: str, text: str) -> None:
    ax.axvline(at, color=colour, ls=style, lw=1.2)
    ax.annotate(
        text,
        (at, 0.98),
        xycoords=("data", "axes fraction"),
        fontsize=7,
        rotation=90,
        va="top",
        ha="left",
        color=colour,
    )


def _draw_labels(ax_price: Any, ax_score: Any, run: EpisodeRun, material: str) -> None:
    episode = run.loaded.episode
    for calm in episode.calm_periods:
        ax_score.axvspan(calm.start, calm.end, ymin=0.0, ymax=0.06, color=CALM, alpha=0.6, lw=0)
        ax_score.annotate(
            f"calm: max {calm.max_severity}",
            (calm.start, 0.08),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            color=CALM,
        )
    for ax in (ax_price, ax_score):
        if episode.first_public_signal is not None:
            _mark(ax, episode.first_public_signal.at, SIGNAL, "-", "first public signal")
        if episode.expected_alert is not None:
            _mark(
                ax,
                episode.expected_alert.by,
                DEADLINE,
                ":",
                f"{episode.expected_alert.severity} due",
            )
        if episode.resolution is not None:
            _mark(ax, episode.resolution.after, RESOLVE, "-.", "measure/disruption ends")
            _mark(ax, episode.resolution.by, RESOLVE, ":", "resolution due")
        release = episode.expected_release
        if release is not None and release.material == material:
            _mark(ax, release.by, RELEASE, ":", "release due")


def write_episode_chart(run: EpisodeRun, out_dir: Path, policy: Policy) -> Path:
    plt = pyplot()
    materials = run.loaded.episode.materials
    fig, axes = plt.subplots(
        2 * len(materials),
        1,
        figsize=(11, 4.2 * len(materials)),
        sharex=True,
        gridspec_kw={"height_ratios": [3, 2] * len(materials)},
        squeeze=False,
    )
    for n, material in enumerate(materials):
        ax_price, ax_score = axes[2 * n][0], axes[2 * n + 1][0]
        plot_material(ax_price, ax_score, run.result, material, policy)
        _draw_labels(ax_price, ax_score, run, material)
        verdict = "labels met" if run.score.passed else "labels NOT met"
        ax_price.set_title(f"{run.loaded.name} ({verdict}): {material}", fontsize=9)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{run.loaded.name}.png"
    save(fig, path)
    return path
