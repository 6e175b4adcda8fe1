"""Prometheus metrics of the notifier: exact names, bounded labels, never a subscription id."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from .. import __version__
from ..contracts.silences import SILENCED_EVENT_TYPES

DELIVERIES = Counter(
    "sentinel_webhook_deliveries",
    "Webhook delivery attempt outcomes",
    ["outcome"],
)
for _outcome in ("success", "retry", "early_retry", "failed", "disabled"):
    DELIVERIES.labels(_outcome)
DELIVERY_LATENCY = Histogram(
    "sentinel_webhook_delivery_latency_seconds",
    "From the alert/recommendation being produced to its successful delivery",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 36000),
)
ATTEMPT_DURATION = Histogram(
    "sentinel_webhook_attempt_duration_seconds",
    "Duration of one webhook HTTP attempt",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)
TENANT_ATTEMPTS = Counter(
    "sentinel_webhook_tenant_attempts",
    "Webhook HTTP attempts per subscriber tenant (bounded: see TENANT_LABELS) and result",
    ["tenant", "result"],
)
TENANT_ATTEMPT_DURATION = Histogram(
    "sentinel_webhook_tenant_attempt_duration_seconds",
    "Duration of one webhook HTTP attempt per subscriber tenant (bounded: see TENANT_LABELS)",
    ["tenant"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 30),
)


class BoundedLabel:
    """A label's values as they come, up to `cap` distinct ones, then `other`: a subscriber's
    tenant is a label operators want, but an admin can create any number of tenants, and each
    value is a series per result and histogram bucket on every scrape."""

    OTHER = "other"

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.kept: set[str] = set()

    def value(self, raw: str) -> str:
        if raw in self.kept:
            return raw
        if len(self.kept) < self.cap and raw != self.OTHER:
            self.kept.add(raw)
            return raw
        return self.OTHER


TENANT_LABELS = BoundedLabel(cap=50)
SILENCED = Counter(
    "sentinel_notifier_silenced",
    "Deliveries muted by a silence (recorded as `silenced`, not sent)",
    ["event_type"],
)
for _event_type in SILENCED_EVENT_TYPES:
    SILENCED.labels(_event_type)
LANE_ERRORS = Counter(
    "sentinel_webhook_lane_errors",
    "Attempts whose outcome could not be recorded (the delivery log unreachable); retried",
)
PENDING = Gauge("sentinel_webhook_pending_deliveries", "Deliveries not yet final on this worker")
RETRYING = Gauge(
    "sentinel_webhook_retrying_deliveries", "Pending deliveries with at least one failed attempt"
)
SUBSCRIPTIONS = Gauge("sentinel_subscriptions", "Webhook subscriptions by state", ["state"])
SILENCES = Gauge(
    "sentinel_silences", "Every tenant's silences by state (pending, active, expired)", ["state"]
)
EVENTS_CONSUMED = Counter(
    "sentinel_events_consumed", "Messages consumed by the notifier", ["topic", "type"]
)
EVENTS_INVALID = Counter(
    "sentinel_events_invalid", "Invalid messages sent to the dead-letter topic", ["topic", "reason"]
)
BUILD_INFO = Gauge("sentinel_build_info", "Build information", ["version", "service"])
BUILD_INFO.labels(__version__, "notifier").set(1)
