"""Scoring one backtest against its episode labels: pure functions over the published outputs.

Only what an operator sees counts: alert updates (severity over time, per alert id) and
stockpile recommendations. An alert holds the severity of its latest update from that update's
`updated_at` until its next update, its resolution, or the end of the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from ..contracts.outputs import LEVEL_ORDER, Alert, StockpileRecommendation
from .labels import CalmPeriod, Episode

HOUR_S = 3600.0


@dataclass(frozen=True, slots=True)
class Interval:
    """One alert at one severity over [start, end)."""

    material: str
    alert_id: str
    severity: str
    start: datetime
    end: datetime
    open: bool = False
    """Still firing at the end of the data (`end` is the end of the data)."""


def alert_intervals(alerts: Sequence[Alert], end_of_data: datetime) -> list[Interval]:
    """The severity history of every alert, in the order the alerts were produced."""
    out: list[Interval] = []
    open_since: dict[str, Alert] = {}
    for alert in alerts:
        previous = open_since.pop(alert.alert_id, None)
        if previous is not None:
            out.append(
                Interval(
                    previous.material,
                    previous.alert_id,
                    previous.severity,
                    previous.updated_at,
                    alert.updated_at,
                )
            )
        if alert.status == "firing":
            open_since[alert.alert_id] = alert
    for alert in open_since.values():
        out.append(
            Interval(
                alert.material,
                alert.alert_id,
                alert.severity,
                alert.updated_at,
                max(end_of_data, alert.updated_at),
                open=True,
            )
        )
    return out


def first_reaching(alerts: Sequence[Alert], material: str, severity: str) -> datetime | None:
    """When `material` first had a firing alert at `severity` or above."""
    wanted = LEVEL_ORDER[severity]
    return next(
        (
            a.updated_at
            for a in alerts
            if a.material == material and a.status == "firing" and LEVEL_ORDER[a.severity] >= wanted
        ),
        None,
    )


def _overlaps(span: Interval, calm: CalmPeriod) -> bool:
    """[start, end) overlap; an instantaneous span (two updates at one time) is a point."""
    if span.start == span.end:
        return calm.start <= span.start < calm.end
    return span.start < calm.end and span.end > calm.start


def false_alerts(
    intervals: Sequence[Interval], material: str, calm: CalmPeriod
) -> tuple[set[str], str]:
    """Ids of the alerts above the calm ceiling inside the period, and the peak level there."""
    ceiling = LEVEL_ORDER[calm.max_severity]
    ids: set[str] = set()
    peak = "normal"
    for span in intervals:
        if span.material != material or not _overlaps(span, calm):
            continue
        if LEVEL_ORDER[span.severity] > LEVEL_ORDER[peak]:
            peak = span.severity
        if LEVEL_ORDER[span.severity] > ceiling:
            ids.add(span.alert_id)
    return ids, peak


@dataclass(frozen=True, slots=True)
class MaterialScore:
    material: str
    lead_time_h: float | None
    """Hours from the first public signal to the first alert at the expected severity."""
    missed: bool
    """Expected severity not reached by the deadline (late or never)."""
    false_alerts: int
    """Distinct alerts above a calm period's ceiling while inside it."""
    calm_peak: str | None
    """Highest severity seen inside the calm periods (None: no calm period)."""
    false_releases: int
    """Release recommendations inside a calm period that allows none."""
    resolve_h: float | None
    """Hours from the end of the measure/disruption until no alert fires (None: still firing)."""
    resolved_in_time: bool | None
    """None when the episode has no resolution label."""


@dataclass(frozen=True, slots=True)
class EpisodeScore:
    name: str
    materials: tuple[MaterialScore, ...]
    release_at: datetime | None
    """First release recommendation for the labelled material (any time)."""
    release_met: bool | None
    """None when no release is expected."""

    @property
    def lead_time_h(self) -> float | None:
        """The slowest material's lead time (None when any material never reached it)."""
        leads = [m.lead_time_h for m in self.materials]
        if not leads or any(v is None for v in leads):
            return None
        return max(v for v in leads if v is not None)

    @property
    def misses(self) -> int:
        return sum(m.missed for m in self.materials)

    @property
    def false_alerts(self) -> int:
        return sum(m.false_alerts for m in self.materials)

    @property
    def false_releases(self) -> int:
        return sum(m.false_releases for m in self.materials)

    @property
    def resolve_h(self) -> float | None:
        values = [m.resolve_h for m in self.materials]
        if any(v is None for v in values):
            return None
        return max((v for v in values if v is not None), default=None)

    @property
    def resolution_met(self) -> bool | None:
        flags = [m.resolved_in_time for m in self.materials]
        return None if flags and flags[0] is None else all(bool(f) for f in flags)

    @property
    def passed(self) -> bool:
        return (
            self.misses == 0
            and self.false_alerts == 0
            and self.false_releases == 0
            and self.resolution_met is not False
            and self.release_met is not False
        )


def _hours(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / HOUR_S


def score_episode(
    name: str,
    episode: Episode,
    alerts: Sequence[Alert],
    recommendations: Sequence[StockpileRecommendation],
    end_of_data: datetime,
) -> EpisodeScore:
    """Score one backtest's outputs against the episode's labels."""
    intervals = alert_intervals(alerts, end_of_data)
    scores = []
    for material in episode.materials:
        lead: float | None = None
        missed = False
        expected = episode.expected_alert
        signal = episode.first_public_signal
        if expected is not None and signal is not None:
            reached = first_reaching(alerts, material, expected.severity)
            lead = None if reached is None else _hours(reached, signal.at)
            missed = reached is None or reached > expected.by
        ids: set[str] = set()
        peak: str | None = None
        releases = 0
        for calm in episode.calm_periods:
            found, calm_peak = false_alerts(intervals, material, calm)
            ids |= found
            releases += len(false_releases(recommendations, material, calm))
            if peak is None or LEVEL_ORDER[calm_peak] > LEVEL_ORDER[peak]:
                peak = calm_peak
        resolve_h: float | None = None
        in_time: bool | None = None
        if episode.resolution is not None:
            settled = settled_at(intervals, material, episode.resolution.after)
            resolve_h = None if settled is None else _hours(settled, episode.resolution.after)
            in_time = settled is not None and settled <= episode.resolution.by
        scores.append(
            MaterialScore(material, lead, missed, len(ids), peak, releases, resolve_h, in_time)
        )
    release_at: datetime | None = None
    release_met: bool | None = None
    if episode.expected_release is not None:
        wanted = episode.expected_release
        release_at = next(
            (
                r.issued_at
                for r in recommendations
                if r.material == wanted.material and r.action == "release"
            ),
            None,
        )
        release_met = release_at is not None and release_at <= wanted.by
    return EpisodeScore(name, tuple(scores), release_at, release_met)


def false_releases(
    recommendations: Sequence[StockpileRecommendation], material: str, calm: CalmPeriod
) -> list[StockpileRecommendation]:
    """Release recommendations for `material` inside a calm period that allows none."""
    if calm.releases_allowed:
        return []
    return [
        r
        for r in recommendations
        if r.material == material and r.action == "release" and calm.start <= r.issued_at < calm.end
    ]


def settled_at(intervals: Sequence[Interval], material: str, after: datetime) -> datetime | None:
    """The earliest moment at or after `after` from which `material` has no firing alert until
    the end of the data; None while one is still firing there."""
    spans = [s for s in intervals if s.material == material]
    if any(s.open for s in spans):
        return None
    return max([after, *(s.end for s in spans)])


@dataclass(frozen=True, slots=True)
class Totals:
    episodes: int
    passed: int
    median_lead_h: float | None
    leads_measured: int
    misses: int
    false_alerts: int
    false_releases: int
    worst_resolve_h: float | None
    resolutions_met: int
    resolutions_labelled: int
    releases_met: int
    releases_labelled: int


def totals(scores: Sequence[EpisodeScore]) -> Totals:
    leads = [s.lead_time_h for s in scores if s.lead_time_h is not None]
    resolves = [s.resolve_h for s in scores if s.resolve_h is not None]
    return Totals(
        episodes=len(scores),
        passed=sum(s.passed for s in scores),
        median_lead_h=median(leads) if leads else None,
        leads_measured=len(leads),
        misses=sum(s.misses for s in scores),
        false_alerts=sum(s.false_alerts for s in scores),
        false_releases=sum(s.false_releases for s in scores),
        worst_resolve_h=max(resolves) if resolves else None,
        resolutions_met=sum(s.resolution_met is True for s in scores),
        resolutions_labelled=sum(s.resolution_met is not None for s in scores),
        releases_met=sum(s.release_met is True for s in scores),
        releases_labelled=sum(s.release_met is not None for s in scores),
    )
