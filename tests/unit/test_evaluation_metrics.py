"""Scoring on small hand-built outputs: lead time, misses, false alerts and releases in calm
periods, time to resolve, the expected release, and the totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mineral_sentinel.contracts.outputs import Alert, StockpileRecommendation
from mineral_sentinel.evaluation.labels import Episode
from mineral_sentinel.evaluation.metrics import (
    EpisodeScore,
    alert_intervals,
    false_alerts,
    score_episode,
    totals,
)

pytestmark = pytest.mark.unit
T0 = datetime(2024, 1, 1, tzinfo=UTC)
NOTE = "a dated public fact"


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def alert(
    at: float, severity: str, *, status: str = "firing", aid: str = "a1", m: str = "gallium"
) -> Alert:
    return Alert(
        alert_id=aid,
        material=m,
        status=status,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        causes=[],
        score=50.0,
        summary="",
        started_at=T0,
        updated_at=h(at),
        sequence=1,
        evidence=[],
    )


def release(at: float, m: str = "gallium", action: str = "release") -> StockpileRecommendation:
    return StockpileRecommendation(
        recommendation_id=f"r{at}",
        material=m,
        action=action,  # type: ignore[arg-type]
        quantity_t=1.0,
        days_of_cover_before=None,
        days_of_cover_after=None,
        horizon_days=90,
        rationale="",
        alert_id=None,
        issued_at=h(at),
        valid_until=h(at + 720),
    )


def episode(materials: tuple[str, ...] = ("gallium",), **labels: Any) -> Episode:
    return Episode.model_validate(
        {
            "format": "sentinel-episode/1",
            "title": "t",
            "events": "e.jsonl",
            "materials": list(materials),
            "illustrative": "all",
            **labels,
        }
    )


SIGNAL = {"at": h(0), "source": NOTE}


def expect(by: float, severity: str = "warning") -> dict[str, Any]:
    return {
        "first_public_signal": SIGNAL,
        "expected_alert": {"severity": severity, "by": h(by), "source": NOTE},
    }


def calm(start: float, end: float, ceiling: str, releases: bool = False) -> dict[str, Any]:
    return {
        "start": h(start),
        "end": h(end),
        "max_severity": ceiling,
        "releases_allowed": releases,
        "source": NOTE,
    }


def score(
    ep: Episode,
    alerts: list[Alert],
    recs: tuple[StockpileRecommendation, ...] | list[StockpileRecommendation] = (),
    end: float = 1000,
) -> EpisodeScore:
    return score_episode("e", ep, alerts, recs, h(end))


# ---- lead time and misses -------------------------------------------------------------------


def test_lead_time_is_hours_from_the_signal_to_the_first_alert_at_the_expected_severity():
    result = score(
        episode(**expect(24)), [alert(2, "watch"), alert(5, "warning"), alert(9, "critical")]
    )
    assert result.lead_time_h == 5.0
    assert result.misses == 0 and result.passed


def test_a_warning_after_the_deadline_is_a_miss_with_its_lead_time():
    result = score(episode(**expect(24)), [alert(30, "critical")])
    assert result.lead_time_h == 30.0 and result.misses == 1 and not result.passed


def test_a_lower_severity_or_a_resolved_update_does_not_count_as_reaching_it():
    alerts = [alert(1, "watch"), alert(2, "warning", status="resolved")]
    result = score(episode(**expect(24)), alerts)
    assert result.lead_time_h is None and result.misses == 1


def test_a_watch_expectation_is_met_by_a_warning_and_leads_before_the_signal_are_negative():
    result = score(episode(**expect(24, "watch")), [alert(-3, "warning")])
    assert result.lead_time_h == -3.0 and result.misses == 0


def test_misses_are_counted_per_material_and_the_episode_lead_is_the_slowest():
    ep = episode(("gallium", "germanium", "antimony"), **expect(24))
    alerts = [alert(1, "warning"), alert(20, "warning", aid="g", m="germanium")]
    result = score(ep, alerts)
    assert [m.lead_time_h for m in result.materials] == [1.0, 20.0, None]
    assert result.misses == 1 and result.lead_time_h is None
    result = score(episode(("gallium", "germanium"), **expect(24)), alerts)
    assert result.lead_time_h == 20.0


# ---- calm periods ------------------------------------------------------------------------------


def test_an_alert_above_the_ceiling_inside_a_calm_period_is_one_false_alert():
    ep = episode(calm_periods=[calm(10, 20, "watch")])
    alerts = [
        alert(12, "watch"),
        alert(14, "warning"),
        alert(15, "critical"),
        alert(18, "critical", status="resolved"),
    ]
    result = score(ep, alerts)
    assert result.false_alerts == 1 and result.materials[0].calm_peak == "critical"


def test_an_alert_raised_before_a_calm_period_and_still_firing_in_it_counts():
    ep = episode(calm_periods=[calm(10, 20, "watch")])
    assert score(ep, [alert(0, "critical")]).false_alerts == 1
    assert (
        score(ep, [alert(0, "critical"), alert(10, "critical", status="resolved")]).false_alerts
        == 0
    )
    assert score(ep, [alert(20, "critical")]).false_alerts == 0


def test_alerts_at_or_below_the_ceiling_and_other_materials_are_not_false():
    ep = episode(calm_periods=[calm(0, 100, "warning")])
    alerts = [alert(1, "watch"), alert(2, "warning"), alert(3, "critical", aid="o", m="cobalt")]
    result = score(ep, alerts)
    assert result.false_alerts == 0 and result.materials[0].calm_peak == "warning"
    assert result.passed


def test_distinct_alerts_count_once_each_across_calm_periods():
    ep = episode(calm_periods=[calm(0, 10, "normal"), calm(10, 20, "normal")])
    alerts = [alert(1, "watch"), alert(15, "watch", status="resolved"), alert(16, "watch", aid="b")]
    assert score(ep, alerts).false_alerts == 2


def test_a_release_inside_a_calm_period_is_false_unless_the_period_allows_releases():
    recs = [release(5), release(50), release(6, action="hold"), release(7, m="cobalt")]
    assert score(episode(calm_periods=[calm(0, 10, "watch")]), [], recs).false_releases == 1
    allowed = episode(calm_periods=[calm(0, 10, "watch", releases=True)])
    assert score(allowed, [], recs).false_releases == 0
    assert not score(episode(calm_periods=[calm(0, 10, "watch")]), [], recs).passed


@given(
    st.lists(
        st.tuples(
            st.integers(0, 50), st.sampled_from(["watch", "warning", "critical"]), st.booleans()
        ),
        max_size=12,
    ),
    st.sampled_from(["normal", "watch", "warning"]),
)
def test_raising_a_calm_ceiling_never_adds_false_alerts(updates, ceiling):
    ordered = sorted(updates)
    alerts = [alert(t, s, status="resolved" if r else "firing") for t, s, r in ordered]
    spans = alert_intervals(alerts, h(60))
    levels = ["normal", "watch", "warning", "critical"]
    counts = [
        len(
            false_alerts(spans, "gallium", episode(calm_periods=[calm(10, 30, c)]).calm_periods[0])[
                0
            ]
        )
        for c in levels[levels.index(ceiling) :]
    ]
    assert counts == sorted(counts, reverse=True) and counts[-1] == 0


# ---- resolution and release --------------------------------------------------------------------


def resolution(after: float, by: float) -> dict[str, Any]:
    return {"resolution": {"after": h(after), "by": h(by), "source": NOTE}}


def test_time_to_resolve_is_from_the_end_of_the_measure_to_the_last_resolution():
    alerts = [alert(0, "warning"), alert(110, "warning", status="resolved")]
    result = score(episode(**resolution(100, 200)), alerts)
    assert result.resolve_h == 10.0 and result.resolution_met is True
    late = score(episode(**resolution(100, 105)), alerts)
    assert late.resolve_h == 10.0 and late.resolution_met is False and not late.passed


def test_an_alert_still_firing_at_the_end_is_unresolved_and_no_alert_is_zero():
    result = score(episode(**resolution(100, 200)), [alert(0, "warning")])
    assert result.resolve_h is None and result.resolution_met is False
    quiet = score(episode(**resolution(100, 200)), [])
    assert quiet.resolve_h == 0.0 and quiet.resolution_met is True


def test_an_alert_firing_again_after_resolving_delays_the_resolution():
    alerts = [
        alert(0, "warning"),
        alert(101, "warning", status="resolved"),
        alert(150, "watch", aid="b"),
        alert(190, "watch", aid="b", status="resolved"),
    ]
    result = score(episode(**resolution(100, 180)), alerts)
    assert result.resolve_h == 90.0 and result.resolution_met is False


def test_the_expected_release_is_met_by_a_release_of_that_material_by_the_deadline():
    ep = episode(expected_release={"material": "gallium", "by": h(48), "source": NOTE})
    assert score(ep, [], [release(40)]).release_met is True
    late = score(ep, [], [release(7, m="cobalt"), release(6, action="hold"), release(60)])
    assert late.release_met is False and late.release_at == h(60)
    assert score(ep, [], []).release_at is None
    assert score(episode(), [], [release(1)]).release_met is None


def test_totals_add_up_episodes():
    good = score(episode(**expect(24)), [alert(4, "warning")])
    bad = score(
        episode(**expect(24), calm_periods=[calm(-10, 0, "normal")]),
        [alert(-5, "watch"), alert(30, "warning")],
    )
    total = totals([good, bad])
    assert (total.episodes, total.passed, total.misses, total.false_alerts) == (2, 1, 1, 1)
    assert total.median_lead_h == 17.0 and total.leads_measured == 2
    assert total.releases_labelled == 0 and total.resolutions_labelled == 0
