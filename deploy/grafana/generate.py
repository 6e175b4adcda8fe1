"""Generate the Grafana dashboards (dashboards/*.json) with grafana-foundation-sdk.

Why the SDK: its builders and models are generated from Grafana's own schemas (the version
pinned in pyproject.toml is Grafana 11.6's, the one compose runs), so a panel option that Grafana
does not know is a type error here, not a silently ignored key. `python deploy/grafana/generate.py`
rewrites the JSON; tests fail on drift, load every file back into the SDK's dashboard model, and
evaluate every panel expression against a real Prometheus during a scenario.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from grafana_foundation_sdk.builders import (
    bargauge,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import dashboard as board
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="sentinel-prometheus")
HERE = Path(__file__).resolve().parent
LEVELS = {
    "0": ("normal", "green"),
    "1": ("watch", "yellow"),
    "2": ("warning", "orange"),
    "3": ("critical", "red"),
}
"""sentinel_material_risk_level's values (risk_service/metrics.py) and their colours."""

AnyPanel = timeseries.Panel | stat.Panel | table.Panel | bargauge.Panel | statetimeline.Panel
P = TypeVar("P", timeseries.Panel, stat.Panel, table.Panel, bargauge.Panel, statetimeline.Panel)


def query(
    expr: str, legend: str = "", ref: str = "A", instant: bool = False
) -> prometheus.Dataquery:
    built = (
        prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DATASOURCE)
    )
    return built.instant().format(PromQueryFormat.TABLE) if instant else built.range()


def rate(counter: str) -> str:
    return f"rate({counter}[$__rate_interval])"


def quantiles(histogram: str, by: str = "") -> list[prometheus.Dataquery]:
    """p50 and p99 of a histogram, optionally per label (`by`)."""
    labels = f"le, {by}" if by else "le"
    legend = f"{{{{{by}}}}} " if by else ""
    return [
        query(
            f"histogram_quantile({q}, sum by ({labels}) ({rate(histogram + '_bucket')}))",
            f"{legend}p{int(q * 100)}",
            ref,
        )
        for ref, q in (("A", 0.5), ("B", 0.99))
    ]


def place(panel: P, title: str, width: int, height: int, description: str = "") -> P:
    """Title, size and the provisioned datasource; the dashboard flows panels left to right."""
    return (
        panel.title(title)
        .description(description)
        .datasource(DATASOURCE)
        .span(width)
        .height(height)
    )


def graph(
    title: str,
    targets: Iterable[prometheus.Dataquery],
    width: int = 12,
    height: int = 8,
    unit: str = "short",
    description: str = "",
) -> timeseries.Panel:
    panel = timeseries.Panel().unit(unit)
    for target in targets:
        panel = panel.with_target(target)
    return place(panel, title, width, height, description)


def single(
    title: str,
    target: prometheus.Dataquery,
    width: int = 12,
    height: int = 6,
    description: str = "",
) -> stat.Panel:
    return place(stat.Panel().with_target(target), title, width, height, description)


def level_mappings() -> list[model.ValueMapping]:
    return [
        model.ValueMap(
            options={
                value: model.ValueMappingResult(text=text, color=color, index=int(value))
                for value, (text, color) in LEVELS.items()
            }
        )
    ]


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[AnyPanel],
    variables: Iterable[board.QueryVariable] = (),
) -> model.Dashboard:
    built = (
        board.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["mineral-sentinel"])
        .timezone("utc")
        .readonly()
        .refresh("30s")
        .time("now-6h", "now")
        .version(1)
    )
    for variable in variables:
        built = built.with_variable(variable)
    for number, panel in enumerate(panels, start=1):
        built = built.with_panel(panel.id(number))
    return built.build()


def material_variable() -> board.QueryVariable:
    values = "label_values(sentinel_material_risk_score, material)"
    return (
        board.QueryVariable("material")
        .label("Material")
        .datasource(DATASOURCE)
        .query(values)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .multi(True)
        .include_all(True)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )


def materials() -> model.Dashboard:
    chosen = '{material=~"$material"}'
    columns = {"A": "score", "B": "level", "C": "supply risk", "D": "days of cover"}
    gauges = {
        "A": "sentinel_material_risk_score",
        "B": "sentinel_material_risk_level",
        "C": "sentinel_material_supply_risk",
        "D": "sentinel_material_days_of_cover",
    }
    overview = table.Panel()
    for ref, metric in gauges.items():
        overview = overview.with_target(
            query(f"max by (material) ({metric})", columns[ref], ref, instant=True)
        )
    overview = (
        overview.with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True},
                    "renameByName": {f"Value #{ref}": name for ref, name in columns.items()},
                },
            )
        )
        .with_transformation(
            model.DataTransformerConfig(
                id_val="sortBy", options={"sort": [{"field": "score", "desc": True}]}
            )
        )
    )
    levels = (
        statetimeline.Panel()
        .with_target(
            query(f"max by (material) (sentinel_material_risk_level{chosen})", "{{material}}")
        )
        .mappings(level_mappings())
        .show_value(common.VisibilityMode.NEVER)
    )
    panels: list[AnyPanel] = [
        place(
            overview,
            "Materials by risk",
            24,
            10,
            "Every material's level, score, live EU-method supply risk and days of stockpile "
            "cover, highest score first.",
        ),
        place(
            levels,
            "Risk level over time",
            24,
            8,
            "normal, watch, warning, critical per material (docs/severity.md says what each asks).",
        ),
        graph(
            "Risk score over time",
            [query(f"max by (material) (sentinel_material_risk_score{chosen})", "{{material}}")],
            16,
            9,
            "none",
            "0-100; watch, warning and critical bands follow the alert policy.",
        ),
        single(
            "Alerts firing",
            query("sum by (severity) (sentinel_alerts_firing)", "{{severity}}"),
            8,
            9,
            "Open alerts by severity (one alert per material episode).",
        ),
        graph(
            "Alerts firing by severity over time",
            [query("sum by (severity) (sentinel_alerts_firing)", "{{severity}}")],
            12,
            8,
        ),
        graph(
            "Days of cover",
            [query(f"max by (material) (sentinel_material_days_of_cover{chosen})", "{{material}}")],
            12,
            8,
            "d",
            "Strategic stock / average daily net imports (CRMA Art. 23 definition).",
        ),
        place(
            bargauge.Panel().with_target(
                query(
                    "sum by (action) (increase(sentinel_recommendations_total[$__range]))",
                    "{{action}}",
                )
            ),
            "Recommendations in range",
            12,
            8,
            "Stockpile recommendations issued in the selected time range, by action.",
        ),
        graph(
            "Alerts emitted",
            [
                query(
                    "sum by (severity, status) "
                    "(increase(sentinel_alerts_emitted_total[$__rate_interval]))",
                    "{{severity}} {{status}}",
                )
            ],
            12,
            8,
            description="Alert updates published (firing, escalations and resolutions).",
        ),
    ]
    return dashboard(
        "sentinel-materials",
        "Mineral Sentinel / Materials",
        "Supply risk, alerts and stockpile cover per material.",
        panels,
        [material_variable()],
    )


RISK_COUNTERS = (
    ("sentinel_risk_late_events_total", "late events"),
    ("sentinel_events_redelivered_total", "re-read records"),
    ("sentinel_risk_duplicate_events_total", "duplicate ids"),
    ("sentinel_risk_reread_holes_total", "holes read again"),
    ("sentinel_risk_skipped_envelopes_total", "envelopes skipped"),
    ("sentinel_risk_events_undone_total", "events undone"),
    ("sentinel_risk_recovery_reseeks_total", "recovery re-seeks"),
)


def pipeline() -> model.Dashboard:
    panels: list[AnyPanel] = [
        graph(
            "Throughput by topic",
            [query(f"sum by (topic) ({rate('sentinel_events_consumed_total')})", "{{topic}}")],
            unit="ops",
        ),
        graph(
            "Dead letters by reason",
            [
                query(
                    f"sum by (topic, reason) ({rate('sentinel_events_invalid_total')})",
                    "{{topic}} {{reason}}",
                )
            ],
            unit="ops",
        ),
        graph(
            "Processing latency p50 / p99", quantiles("sentinel_event_processing_seconds"), unit="s"
        ),
        graph(
            "Ingest lag p50 / p99 (Kafka timestamp to processing)",
            quantiles("sentinel_ingest_lag_seconds"),
            unit="s",
        ),
        graph(
            "Consumer lag by topic",
            [query("sum by (job, topic) (sentinel_consumer_lag_messages)", "{{job}} {{topic}}")],
        ),
        single("Workers up", query('sum by (job) (up{job=~"sentinel-.*"})', "{{job}}"), height=8),
        graph(
            "Consumer lag by group and partition",
            [
                query(
                    "max by (job, topic, partition) (sentinel_consumer_lag_messages)",
                    "{{job}} {{topic}}[{{partition}}]",
                )
            ],
            24,
            8,
            description="Messages behind the newest offset, per partition of each worker's "
            "group (job = service): one growing partition is a stuck worker or a hot key.",
        ),
        graph(
            "Late events by topic (per minute)",
            [
                query(
                    f"60 * sum by (topic) ({rate('sentinel_risk_late_events_total')})",
                    "{{topic}}",
                )
            ],
            description="Input records that reached the broker after SENTINEL_RISK_IDLE_MS "
            "behind their Kafka timestamp and were merged out of event-time order.",
        ),
        graph(
            "Risk worker: order, re-reads and recovery (per minute)",
            [
                query(f"60 * sum ({rate(name)})", legend, ref)
                for ref, (name, legend) in zip("ABCDEFG", RISK_COUNTERS, strict=True)
            ],
            description="Each is 0 in normal operation; docs/operations.md says what to do.",
        ),
        graph(
            "Risk worker: records waiting in the event-time merge",
            [query("sum by (partition) (sentinel_risk_merge_buffered)", "partition {{partition}}")],
            24,
            8,
        ),
    ]
    return dashboard(
        "sentinel-pipeline",
        "Mineral Sentinel / Pipeline",
        "Stream processing health: throughput, bad input, latency, lag, workers.",
        panels,
    )


def webhooks() -> model.Dashboard:
    delivered = 'rate(sentinel_webhook_deliveries_total{outcome="success"}[$__rate_interval])'
    attempted = rate("sentinel_webhook_deliveries_total")
    tenant_attempts = "sentinel_webhook_tenant_attempts_total"
    tenant_succeeded = tenant_attempts + '{result="success"}'
    panels: list[AnyPanel] = [
        graph(
            "Delivery success rate",
            [query(f"sum({delivered}) / sum({attempted})", "success")],
            unit="percentunit",
        ),
        graph(
            "Delivery latency p50 / p99 (alert to delivered)",
            quantiles("sentinel_webhook_delivery_latency_seconds"),
            unit="s",
        ),
        graph(
            "Attempts by outcome",
            [query(f"sum by (outcome) ({attempted})", "{{outcome}}")],
            unit="ops",
        ),
        graph(
            "Attempt duration p50 / p99 (one HTTP request)",
            quantiles("sentinel_webhook_attempt_duration_seconds"),
            unit="s",
            description="The time a subscriber's endpoint takes to answer (timeouts included).",
        ),
        graph(
            "Attempt success rate by tenant",
            [
                query(
                    f"sum by (tenant) ({rate(tenant_succeeded)}) / "
                    f"sum by (tenant) ({rate(tenant_attempts)})",
                    "{{tenant}}",
                )
            ],
            unit="percentunit",
            description="Per subscriber tenant (the first 50 tenants seen, the rest as other); "
            "one subscription's attempts: GET /v1/subscriptions/{id}/deliveries.",
        ),
        graph(
            "Attempt duration p50 / p99 by tenant",
            quantiles("sentinel_webhook_tenant_attempt_duration_seconds", by="tenant"),
            unit="s",
        ),
        graph(
            "Pending and retrying deliveries",
            [
                query("sum(sentinel_webhook_pending_deliveries)", "pending", "A"),
                query("sum(sentinel_webhook_retrying_deliveries)", "retrying", "B"),
            ],
        ),
        graph(
            "Silenced deliveries by event type (per minute)",
            [
                query(
                    f"60 * sum by (event_type) ({rate('sentinel_notifier_silenced_total')})",
                    "{{event_type}}",
                )
            ],
            description="Deliveries a silence muted (recorded as silenced, not sent).",
        ),
        single(
            "Silences by state",
            query("sum by (state) (sentinel_silences)", "{{state}}"),
            8,
            description="Every tenant's silences: pending (not started), active, expired.",
        ),
        single(
            "Subscriptions by state",
            query("sum by (state) (sentinel_subscriptions)", "{{state}}"),
            8,
        ),
        single(
            "Disabled endpoints",
            query('sum(sentinel_subscriptions{state="disabled"})', "disabled"),
            8,
        ),
    ]
    return dashboard(
        "sentinel-webhooks",
        "Mineral Sentinel / Webhooks",
        "Signed webhook delivery to subscribers.",
        panels,
    )


DASHBOARDS = {"materials": materials, "pipeline": pipeline, "webhooks": webhooks}


def canonical(built: model.Dashboard) -> str:
    """The dashboard as the SDK's model reads it back (its decoder fills the panel types' default
    options), so that a committed file equals its own reading: the drift test then also proves
    that no key is one the model does not know."""
    encoder = JSONEncoder(sort_keys=True)
    register_default_plugins()  # decode each panel's options with its panel type's model
    loaded = model.Dashboard.from_json(json.loads(encoder.encode(built)))
    return json.dumps(json.loads(encoder.encode(loaded)), indent=2, sort_keys=True) + "\n"


def render() -> dict[str, str]:
    return {f"{name}.json": canonical(build()) for name, build in DASHBOARDS.items()}


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
