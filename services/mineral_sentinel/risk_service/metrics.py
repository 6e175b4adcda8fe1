"""Prometheus metrics of the risk service (default registry, served on /metrics).

Labels are bounded: topics and event types come from fixed lists, materials from the catalog,
severities/statuses/actions from the contract literals. Never event ids.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from .. import __version__

EVENTS_CONSUMED = Counter(
    "sentinel_events_consumed_total", "Valid input events consumed", ["topic", "type"]
)
EVENTS_INVALID = Counter(
    "sentinel_events_invalid_total",
    "Input messages sent to the dead-letter topic",
    ["topic", "reason"],
)
PROCESSING_SECONDS = Histogram(
    "sentinel_event_processing_seconds",
    "Time to fold one event into its material's state (core + serialization)",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1),
)
INGEST_LAG_SECONDS = Histogram(
    "sentinel_ingest_lag_seconds",
    "Kafka timestamp of the input message -> processed by the stateful agent",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
CONSUMER_LAG = Gauge(
    "sentinel_consumer_lag_messages",
    "Highwater minus next offset to process, per consumed partition",
    ["topic", "partition"],
)
RISK_SCORE = Gauge("sentinel_material_risk_score", "Latest risk score (0-100)", ["material"])
RISK_LEVEL = Gauge(
    "sentinel_material_risk_level", "0 normal, 1 watch, 2 warning, 3 critical", ["material"]
)
SUPPLY_RISK = Gauge("sentinel_material_supply_risk", "Live EU-method supply risk", ["material"])
DAYS_OF_COVER = Gauge("sentinel_material_days_of_cover", "Stock / daily net imports", ["material"])
ALERTS_EMITTED = Counter(
    "sentinel_alerts_emitted_total", "Alert updates emitted", ["severity", "status"]
)
ALERTS_FIRING = Gauge(
    "sentinel_alerts_firing", "Materials owned by this worker with a firing alert", ["severity"]
)
RECOMMENDATIONS = Counter(
    "sentinel_recommendations_total", "Stockpile recommendations emitted", ["action"]
)
BUILD_INFO = Gauge("sentinel_build_info", "Build information", ["version", "service"])
MERGE_FORCED = Counter(
    "sentinel_risk_merge_forced_total",
    "Records released before the event-time frontier because the merge buffer was full",
)
MERGE_BUFFERED = Gauge(
    "sentinel_risk_merge_buffered",
    "Records waiting in the event-time merge for slower input partitions",
    ["partition"],
)
LATE_EVENTS = Counter(
    "sentinel_risk_late_events_total",
    "Events older than what their material had applied (applied late, out of event-time order)",
    ["topic"],
)
REDELIVERED = Counter(
    "sentinel_events_redelivered_total",
    "Records read again after being applied (at-least-once redelivery); outputs re-emitted",
)
DUPLICATE_IDS = Counter(
    "sentinel_risk_duplicate_events_total",
    "Events whose id was already applied from another record (they cause nothing)",
)
STAGE_SECONDS = Counter(
    "sentinel_risk_stage_seconds_total",
    "Wall time spent in each stage of the risk worker (fetch wait, validate, forward, produce,"
    " commit, merge, core, outputs, table)",
    ["stage"],
)
REREAD_HOLES = Counter(
    "sentinel_risk_reread_holes_total",
    "Times the fold found envelopes skipped by the consumer and sought the partition back",
)
SKIPPED_ENVELOPES = Counter(
    "sentinel_risk_skipped_envelopes_total",
    "By-material envelopes never read: a hole that stayed after re-reads (deleted offsets)",
)
EVENTS_UNDONE = Counter(
    "sentinel_risk_events_undone_total",
    "Events the risk core raised on while applying them: undone (the state is as before),"
    " dead-lettered as processing_error",
)
RECOVERY_RESEEKS = Counter(
    "sentinel_risk_recovery_reseeks_total",
    "Changelog partitions sought again because the table recovery stopped reading them",
)
UNWRITTEN_MATERIALS = Gauge(
    "sentinel_risk_unwritten_materials",
    "Materials whose applied state waits for its next table write (write-behind)",
)
QUARANTINED = Gauge(
    "sentinel_risk_quarantined_materials",
    "Materials whose stored state this worker cannot use (their events go to dead letters)",
)


def mark_build(service: str) -> None:
    BUILD_INFO.labels(version=__version__, service=service).set(1)
