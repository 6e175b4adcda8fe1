"""One way to build a Faust app from Settings, shared by both services and the test apps.

Why a factory: the two services must agree on broker URL, store, partitions and the web server's
hardening (faust's raw table/stats/graph endpoints are off), and tests must be able to build an
app per test with its own topic prefix and data directory.
"""

from __future__ import annotations

import socket
from typing import Any

import faust

from .config import Settings
from .logkit import faust_logging_config

PRODUCTION_INDEX = "faust.web.apps.production_index:blueprint"


def broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{hostport.strip()}" for hostport in bootstrap.split(",") if hostport.strip()]


def advertised_host(settings: Settings) -> str:
    """Where the other workers reach this one: faust derives the canonical URL every worker
    publishes to the group from it, so a wildcard bind address must never be it (workers that
    all publish `0.0.0.0` on one port each take the others' materials for their own)."""
    if settings.web_advertised_host:
        return settings.web_advertised_host
    if settings.web_host in ("0.0.0.0", "::", ""):
        return socket.gethostname()
    return settings.web_host


def make_app(name: str, settings: Settings, *, web_port: int, **overrides: Any) -> faust.App:
    """A Faust app with at-least-once defaults and no built-in data-exposing web endpoints."""
    app_id = f"{settings.topic_prefix}{name}"
    datadir = settings.data_dir / "faust" / app_id / f"port-{web_port}"
    datadir.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {
        "broker": broker_urls(settings.kafka_bootstrap),
        "store": settings.store,
        "datadir": str(datadir),
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": settings.topic_replication,
        "consumer_auto_offset_reset": "earliest",
        "consumer_group_instance_id": settings.group_instance_id,
        "producer_acks": -1,
        "web_host": advertised_host(settings),
        "web_port": web_port,
        "web_bind": settings.web_host,
        "web_in_thread": False,
        "web_tables_enabled": False,
        "web_router_enabled": False,
        "web_graph_enabled": False,
        "web_stats_enabled": False,
        "table_cleanup_interval": 30.0,
        "broker_commit_every": 1000,
        "broker_commit_interval": 1.0,
        "stream_wait_empty": False,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    # While the broker is down aiokafka and faust log thousands of lines a second: the worker's
    # console handler passes one line per cause per interval, with a count of the rest.
    logging_config = faust_logging_config(settings.log_rate_limit_s)
    if logging_config is not None:
        options["logging_config"] = logging_config
    options.update(overrides)
    app = faust.App(app_id, **options)
    # Faust's production index answers GET / with an undocumented {"status": "OK"}: the served
    # routes must be exactly contracts/routes.py (health is /healthz and /readyz).
    blueprints = app.web.blueprints
    blueprints._enabled = [(p, bp) for p, bp in blueprints._enabled if bp != PRODUCTION_INDEX]
    return app
