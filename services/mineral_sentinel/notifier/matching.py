"""Which subscriptions want which message: event type, materials filter, minimum severity."""

from __future__ import annotations

from ..contracts.outputs import LEVEL_ORDER, Alert, Severity, StockpileRecommendation
from ..contracts.subscriptions import EventType, Subscription


def event_type_of(message: Alert | StockpileRecommendation) -> EventType:
    if isinstance(message, Alert):
        return "alert.firing" if message.status == "firing" else "alert.resolved"
    return "stockpile.recommendation"


def matches(
    sub: Subscription, event_type: EventType, material: str | None, severity: Severity | None
) -> bool:
    """True when an enabled subscription wants this message.

    Severity applies to alerts only (a resolved alert keeps the severity it had, so whoever got
    it firing also gets it resolved); recommendations carry none and pass the severity filter.
    """
    if not sub.enabled or event_type not in sub.event_types:
        return False
    if sub.materials and material is not None and material not in sub.materials:
        return False
    return severity is None or LEVEL_ORDER[severity] >= LEVEL_ORDER[sub.min_severity]
