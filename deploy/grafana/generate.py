"""Generate the Grafana dashboards (dashboards/*.json) from one compact description.

Why a generator: three dashboards share a datasource, panel styles and id numbering; writing them
by hand drifts. `python deploy/grafana/generate.py` rewrites the JSON; a test fails on drift and
evaluates every panel expression against a real Prometheus.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "sentinel-prometheus"}
SCHEMA_VERSION = 39
HERE = Path(__file__).resolve().parent

Panel = dict[str, Any]


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    return {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend,
        "refId": ref,
        "instant": instant,
        "range": not instant,
        **({"format": "table"} if instant else {}),
    }


def rate(counter: str) -> str:
    return f"rate({counter}[$__rate_interval])"


def panel(
    kind: str,
    title: str,
    targets: list[dict[str, Any]],
    x: int,
    y: int,
    w: int,
    h: int,
    unit: str = "short",
    description: str = "",
    **extra: Any,
) -> Panel:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": targets,
        **extra,
    }


def dashboard(
    uid: str, title: str, panels: list[Panel], variables: list[dict[str, Any]], description: str
) -> dict[str, Any]:
    for number, item in enumerate(panels, start=1):
        item["id"] = number
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["mineral-sentinel"],
        "timezone": "utc",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": panels,
    }


def material_variable() -> dict[str, Any]:
    return {
        "name": "material",
        "label": "Material",
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": "label_values(sentinel_material_risk_score, material)", "refId": "V"},
        "definition": "label_values(sentinel_material_risk_score, material)",
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "sort": 1,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }


def materials() -> dict[str, Any]:
    table_targets = [
        target("max by (material) (sentinel_material_risk_score)", "score", "A", instant=True),
        target("max by (material) (sentinel_material_risk_level)", "level", "B", instant=True),
        target(
            "max by (material) (sentinel_material_supply_risk)", "supply risk", "C", instant=True
        ),
        target(
            "max by (material) (sentinel_material_days_of_cover)",
            "days of cover",
            "D",
            instant=True,
        ),
    ]
    panels = [
        panel(
            "table",
            "Materials by risk",
            table_targets,
            0,
            0,
            24,
            10,
            description="Every material's level, score, live EU-method supply risk and days of "
            "stockpile cover, highest score first.",
            transformations=[
                {"id": "merge", "options": {}},
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True},
                        "renameByName": {
                            "Value #A": "score",
                            "Value #B": "level",
                            "Value #C": "supply risk",
                            "Value #D": "days of cover",
                        },
                    },
                },
                {"id": "sortBy", "options": {"sort": [{"field": "score", "desc": True}]}},
            ],
        ),
        panel(
            "timeseries",
            "Risk score over time",
            [
                target(
                    'max by (material) (sentinel_material_risk_score{material=~"$material"})',
                    "{{material}}",
                )
            ],
            0,
            10,
            16,
            9,
            unit="none",
            description="0-100; watch, warning and critical bands follow the alert policy.",
        ),
        panel(
            "stat",
            "Alerts firing",
            [target("sum by (severity) (sentinel_alerts_firing)", "{{severity}}")],
            16,
            10,
            8,
            9,
            description="Open alerts by severity (one alert per material episode).",
        ),
        panel(
            "timeseries",
            "Days of cover",
            [
                target(
                    'max by (material) (sentinel_material_days_of_cover{material=~"$material"})',
                    "{{material}}",
                )
            ],
            0,
            19,
            12,
            8,
            unit="d",
            description="Strategic stock / average daily net imports (CRMA Art. 23 definition).",
        ),
        panel(
            "bargauge",
            "Recommendations in range",
            [
                target(
                    "sum by (action) (increase(sentinel_recommendations_total[$__range]))",
                    "{{action}}",
                )
            ],
            12,
            19,
            12,
            8,
            description="Stockpile recommendations issued in the selected time range, by action.",
        ),
        panel(
            "timeseries",
            "Alerts emitted",
            [
                target(
                    "sum by (severity, status) "
                    "(increase(sentinel_alerts_emitted_total[$__rate_interval]))",
                    "{{severity}} {{status}}",
                )
            ],
            0,
            27,
            24,
            7,
            description="Alert updates published (firing, escalations and resolutions).",
        ),
    ]
    return dashboard(
        "sentinel-materials",
        "Mineral Sentinel / Materials",
        panels,
        [material_variable()],
        "Supply risk, alerts and stockpile cover per material.",
    )


def pipeline() -> dict[str, Any]:
    panels = [
        panel(
            "timeseries",
            "Throughput by topic",
            [
                target(
                    "sum by (topic) (rate(sentinel_events_consumed_total[$__rate_interval]))",
                    "{{topic}}",
                )
            ],
            0,
            0,
            12,
            8,
            unit="ops",
        ),
        panel(
            "timeseries",
            "Dead letters by reason",
            [
                target(
                    "sum by (topic, reason) "
                    "(rate(sentinel_events_invalid_total[$__rate_interval]))",
                    "{{topic}} {{reason}}",
                )
            ],
            12,
            0,
            12,
            8,
            unit="ops",
        ),
        panel(
            "timeseries",
            "Processing latency p50 / p99",
            [
                target(
                    "histogram_quantile(0.5, sum by (le) "
                    "(rate(sentinel_event_processing_seconds_bucket[$__rate_interval])))",
                    "p50",
                    "A",
                ),
                target(
                    "histogram_quantile(0.99, sum by (le) "
                    "(rate(sentinel_event_processing_seconds_bucket[$__rate_interval])))",
                    "p99",
                    "B",
                ),
            ],
            0,
            8,
            12,
            8,
            unit="s",
        ),
        panel(
            "timeseries",
            "Ingest lag p50 / p99 (Kafka timestamp to processing)",
            [
                target(
                    "histogram_quantile(0.5, sum by (le) "
                    "(rate(sentinel_ingest_lag_seconds_bucket[$__rate_interval])))",
                    "p50",
                    "A",
                ),
                target(
                    "histogram_quantile(0.99, sum by (le) "
                    "(rate(sentinel_ingest_lag_seconds_bucket[$__rate_interval])))",
                    "p99",
                    "B",
                ),
            ],
            12,
            8,
            12,
            8,
            unit="s",
        ),
        panel(
            "timeseries",
            "Consumer lag by topic",
            [target("sum by (job, topic) (sentinel_consumer_lag_messages)", "{{job}} {{topic}}")],
            0,
            16,
            12,
            8,
        ),
        panel(
            "stat",
            "Workers up",
            [target('sum by (job) (up{job=~"sentinel-.*"})', "{{job}}")],
            12,
            16,
            12,
            8,
        ),
        panel(
            "timeseries",
            "Risk worker: order, re-reads and recovery (per minute)",
            [
                target(f"60 * sum ({rate(name)})", legend, ref)
                for ref, (name, legend) in zip(
                    "ABCDEFG",
                    (
                        ("sentinel_risk_late_events_total", "late events"),
                        ("sentinel_events_redelivered_total", "re-read records"),
                        ("sentinel_risk_duplicate_events_total", "duplicate ids"),
                        ("sentinel_risk_reread_holes_total", "holes read again"),
                        ("sentinel_risk_skipped_envelopes_total", "envelopes skipped"),
                        ("sentinel_risk_events_undone_total", "events undone"),
                        ("sentinel_risk_recovery_reseeks_total", "recovery re-seeks"),
                    ),
                    strict=True,
                )
            ],
            0,
            24,
            12,
            8,
            description="Each is 0 in normal operation; docs/operations.md says what to do.",
        ),
        panel(
            "timeseries",
            "Risk worker: records waiting in the event-time merge",
            [
                target(
                    "sum by (partition) (sentinel_risk_merge_buffered)", "partition {{partition}}"
                )
            ],
            12,
            24,
            12,
            8,
        ),
    ]
    return dashboard(
        "sentinel-pipeline",
        "Mineral Sentinel / Pipeline",
        panels,
        [],
        "Stream processing health: throughput, bad input, latency, lag, workers.",
    )


def webhooks() -> dict[str, Any]:
    delivered = 'rate(sentinel_webhook_deliveries_total{outcome="success"}[$__rate_interval])'
    attempted = "rate(sentinel_webhook_deliveries_total[$__rate_interval])"
    panels = [
        panel(
            "timeseries",
            "Delivery success rate",
            [target(f"sum({delivered}) / sum({attempted})", "success")],
            0,
            0,
            12,
            8,
            unit="percentunit",
        ),
        panel(
            "timeseries",
            "Delivery latency p50 / p99 (alert to delivered)",
            [
                target(
                    "histogram_quantile(0.5, sum by (le) "
                    "(rate(sentinel_webhook_delivery_latency_seconds_bucket[$__rate_interval])))",
                    "p50",
                    "A",
                ),
                target(
                    "histogram_quantile(0.99, sum by (le) "
                    "(rate(sentinel_webhook_delivery_latency_seconds_bucket[$__rate_interval])))",
                    "p99",
                    "B",
                ),
            ],
            12,
            0,
            12,
            8,
            unit="s",
        ),
        panel(
            "timeseries",
            "Attempts by outcome",
            [
                target(
                    "sum by (outcome) (rate(sentinel_webhook_deliveries_total[$__rate_interval]))",
                    "{{outcome}}",
                )
            ],
            0,
            8,
            12,
            8,
            unit="ops",
        ),
        panel(
            "timeseries",
            "Pending and retrying deliveries",
            [
                target("sum(sentinel_webhook_pending_deliveries)", "pending", "A"),
                target("sum(sentinel_webhook_retrying_deliveries)", "retrying", "B"),
            ],
            12,
            8,
            12,
            8,
        ),
        panel(
            "stat",
            "Subscriptions by state",
            [target("sum by (state) (sentinel_subscriptions)", "{{state}}")],
            0,
            16,
            12,
            6,
        ),
        panel(
            "stat",
            "Disabled endpoints",
            [target('sum(sentinel_subscriptions{state="disabled"})', "disabled")],
            12,
            16,
            12,
            6,
        ),
    ]
    return dashboard(
        "sentinel-webhooks",
        "Mineral Sentinel / Webhooks",
        panels,
        [],
        "Signed webhook delivery to subscribers.",
    )


DASHBOARDS = {"materials": materials, "pipeline": pipeline, "webhooks": webhooks}


def render() -> dict[str, str]:
    return {
        f"{name}.json": json.dumps(build(), indent=2, sort_keys=True) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main(argv: list[str]) -> int:
    out = HERE / "dashboards"
    check = "--check" in argv
    stale = []
    for name, text in render().items():
        path = out / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("dashboards out of date (run python deploy/grafana/generate.py):", *stale)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
