"""One PNG per material that had an alert: price, score with level bands, alerts, releases.

`plot_material` draws one material onto a pair of axes; the evaluation's episode charts reuse it
and draw their labels on top.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from ..risk import Policy
from .runner import BacktestResult

LEVEL_COLOURS = {"watch": "#f6e27f", "warning": "#f4a261", "critical": "#e76f51"}


def pyplot() -> Any:
    """matplotlib's pyplot on the non-interactive Agg backend (imported late: it is slow)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_material(
    ax_price: Any, ax_score: Any, result: BacktestResult, material: str, policy: Policy
) -> None:
    """Price (the longest series), releases (dashed), score steps on the level bands, and the
    alert spans (shaded) of one material."""
    series = result.prices.get(material, {})
    if series:
        key, points = max(series.items(), key=lambda kv: (len(kv[1]), kv[0]))
        ax_price.plot([p[0] for p in points], [p[1] for p in points], lw=1.0, color="#264653")
        label = "/".join(k for k in key if k)
        ax_price.set_ylabel(f"price ({label})", fontsize=8)
    releases = [
        r for r in result.recommendations if r.material == material and r.action == "release"
    ]
    for rec in releases:
        ax_price.axvline(rec.issued_at, color="#2a9d8f", ls="--", lw=1.0)
        ax_price.annotate(
            f"release {rec.quantity_t:,.1f} t",
            (rec.issued_at, 1.0),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            rotation=90,
            va="top",
            ha="right",
            color="#2a9d8f",
        )
    snaps = [s for s in result.snapshots if s.material == material]
    ax_score.step(
        [s.as_of for s in snaps],
        [s.score for s in snaps],
        where="post",
        color="#1d3557",
        lw=1.0,
    )
    bands = (
        (policy.enter_watch, policy.enter_warning, "watch"),
        (policy.enter_warning, policy.enter_critical, "warning"),
        (policy.enter_critical, 100.0, "critical"),
    )
    for low, high, name in bands:
        ax_score.axhspan(low, high, color=LEVEL_COLOURS[name], alpha=0.25, lw=0)
    starts: dict[str, datetime] = {}
    end_of_data = snaps[-1].as_of if snaps else None
    for alert in (a for a in result.alerts if a.material == material):
        starts.setdefault(alert.alert_id, alert.started_at)
        if alert.status == "resolved":
            ax_score.axvspan(
                starts.pop(alert.alert_id), alert.updated_at, color="#6d597a", alpha=0.15
            )
    for start in starts.values():
        if end_of_data is not None:
            ax_score.axvspan(start, end_of_data, color="#6d597a", alpha=0.15)
    ax_score.set_ylim(0, 100)
    ax_score.set_ylabel("risk score")


def save(fig: Any, path: Path) -> None:
    """Write a figure reproducibly (no software tag) and release its memory."""
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    pyplot().close(fig)


def write_charts(result: BacktestResult, out_dir: Path, policy: Policy) -> list[Path]:
    plt = pyplot()
    written: list[Path] = []
    alerted = sorted({a.material for a in result.alerts})
    for material in alerted:
        fig, (ax_price, ax_score) = plt.subplots(
            2, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
        )
        plot_material(ax_price, ax_score, result, material, policy)
        ax_price.set_title(f"{material}: price, risk score, alerts (shaded), releases (dashed)")
        path = out_dir / f"{material}.png"
        save(fig, path)
        written.append(path)
    return written
