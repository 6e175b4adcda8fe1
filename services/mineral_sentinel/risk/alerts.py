"""Alert policy: one alert per material episode, updated in place, resolved when it ends.

An episode starts when the level leaves `normal` and ends when it returns there. Its alert_id is
derived from the material and the event that opened it, so a replay reproduces it; every update
(severity change, a newly named cause, a linked recommendation, resolution) increments
`sequence`. Causes accumulate over the episode so the resolved alert still says why it fired;
evidence keeps the opening event and the most recent supporting event ids.
"""

from __future__ import annotations

from .ids import alert_id as make_alert_id
from .policy import Policy
from .state import AlertState, MaterialState


def _merge_evidence(evidence: list[str], new_ids: list[str], cap: int) -> None:
    present = set(evidence)
    for event_id in new_ids:
        if event_id not in present:
            evidence.append(event_id)
            present.add(event_id)
    if len(evidence) > cap:
        del evidence[1 : len(evidence) - cap + 1]


def update_alert(
    state: MaterialState,
    level: int,
    score: float,
    causes: list[str],
    evidence_ids: list[str],
    trigger_event_id: str,
    now: float,
    policy: Policy,
) -> bool:
    """Open, update or resolve the episode's alert; True when an Alert must be emitted."""
    alert = state.alert
    is_open = alert is not None and alert.status == "firing"
    if not is_open:
        if level == 0:
            return False
        evidence: list[str] = [trigger_event_id]
        _merge_evidence(evidence, evidence_ids, policy.evidence_cap)
        state.alert = AlertState(
            alert_id=make_alert_id(state.material, trigger_event_id),
            severity=level,
            started_at=now,
            updated_at=now,
            sequence=1,
            score=score,
            causes=causes[:8],
            evidence=evidence,
        )
        return True
    assert alert is not None
    if level == 0:
        alert.status = "resolved"
    else:
        new_causes = [c for c in causes if c not in alert.causes]
        if level == alert.severity and not new_causes:
            return False
        alert.severity = level
        alert.causes = (alert.causes + new_causes)[:8]
    alert.sequence += 1
    alert.updated_at = now
    alert.score = score
    _merge_evidence(alert.evidence, [*evidence_ids, trigger_event_id], policy.evidence_cap)
    return True


def link_recommendation(
    state: MaterialState, recommendation_id: str, now: float, *, bump: bool
) -> bool:
    """Attach a recommendation to the open alert; True when the alert changed. `bump` is False
    when the alert already changed for this event (one emitted update, one sequence step)."""
    alert = state.alert
    if alert is None or alert.status != "firing" or alert.recommendation_id == recommendation_id:
        return False
    alert.recommendation_id = recommendation_id
    if bump:
        alert.sequence += 1
        alert.updated_at = now
    return True
