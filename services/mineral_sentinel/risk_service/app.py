"""Composition root of the risk service: `create_app()` builds the Faust app `sentinel-risk`.

Built inside a function (never at import time) so the app binds the worker's event loop, and so
tests can build one per prefix. `sentinel worker risk` calls it and runs the worker.
"""

from __future__ import annotations

import contextlib
import logging

import faust
from faust.types import TP

from ..auth import load_keyring
from ..catalog.loader import load_catalog
from ..catalog.model import Catalog
from ..config import Settings
from ..contracts.outputs import LEVEL_ORDER
from ..contracts.routes import HealthStatus
from ..faustkit import make_app
from ..policyfile import load_policy
from ..risk import Policy, open_alert
from ..risk.policy import protocol_version
from ..webkit import add_health_and_metrics, answer_errors_as_api_error
from . import faust_adapter, fetching, metrics
from .agents import RiskAgents, set_material_gauges
from .recovery_watch import RecoveryWatch
from .topology import APP_NAME, ensure_risk_topics
from .views import NotReady, RiskApi

log = logging.getLogger(__name__)

GAUGE_INTERVAL_S = 5.0
RECOVERY_CHECK_S = 2.0
THROUGHPUT_OVERRIDES = {
    "broker_commit_every": 10_000,
    "broker_max_poll_records": 2000,
    "stream_buffer_maxsize": 8192,
    "producer_linger_ms": 5,
    "producer_max_batch_size": 256 * 1024,
}
"""Measured with tests/bench: committing every 1,000 messages flushes the producer that often,
and unbatched produce requests dominate; offsets still commit at least every second."""
NO_STANDBY_REPLICAS = {"table_standby_replicas": 0}
"""faust 0.15 can stall a recovery for good when a changelog partition this worker followed as
a standby becomes active ("No event received for active tp ... since recovery start", seen
once in about 20 two-worker hand-overs: the survivor never served the partition again). The
table holds a few dozen small values per partition, so reading a changelog partition from
the start on takeover costs milliseconds; a restarted worker with RocksDB reads from its own
store. The same stall was then seen without standbys, on a changelog partition the survivor
had kept and written to itself; `recovery_watch` seeks such a partition again."""


def create_app(
    settings: Settings | None = None,
    catalog: Catalog | None = None,
    policy: Policy | None = None,
) -> faust.App:
    settings = settings or Settings()
    catalog = catalog or load_catalog()
    policy = policy or load_policy(settings.policy_file, catalog)  # a bad file fails here
    keyring = load_keyring(settings.api_tokens, settings.api_tokens_file)  # and here
    logging.getLogger(__name__).info(
        "deployment protocol %s (%s)",
        protocol_version(policy),
        settings.policy_file or "defaults",
    )
    ensure_risk_topics(settings)
    app = make_app(
        APP_NAME,
        settings,
        web_port=settings.risk_web_port,
        broker_session_timeout=settings.risk_session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.risk_session_timeout_s / 3),
        **THROUGHPUT_OVERRIDES,
        **NO_STANDBY_REPLICAS,
    )
    fetching.install(app, settings.risk_fetch_max_wait_ms)
    agents = RiskAgents(app, settings, catalog, policy)
    agents.register()

    def readiness() -> tuple[HealthStatus, str]:
        if faust_adapter.recovering(app):
            return "starting", "recovering tables"
        if not app.consumer.assignment():
            return "starting", "no partitions assigned yet"
        if not agents.forwarder.joined.is_set():
            return "starting", "forwarder not joined yet"
        return "ok", ""

    api = RiskApi(app, agents, settings, catalog, policy, keyring, readiness)
    api.register()
    metrics.mark_build("risk")
    add_health_and_metrics(app, "risk", readiness)
    answer_errors_as_api_error(app)

    watch: RecoveryWatch[TP] = RecoveryWatch()

    @app.timer(RECOVERY_CHECK_S)  # type: ignore[untyped-decorator]
    async def unstall_recovery() -> None:
        """Seek a changelog partition the recovery stopped reading (`recovery_watch`). Never
        raises: an exception in a faust timer stops the whole worker."""
        try:
            due = watch.stalled(*faust_adapter.recovery_progress(app))
            if not due:
                return
            metrics.RECOVERY_RESEEKS.inc(len(due))
            log.warning("table recovery stalled on %s; seeking them again", sorted(due))
            await faust_adapter.reread(app.consumer, due)
        except Exception:  # e.g. a rebalance took them: its recovery seeks anew
            log.exception("checking the table recovery for a stall failed")

    @app.timer(GAUGE_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def refresh_gauges() -> None:
        """Consumer lag, and the per-material gauges of the materials this worker owns."""
        agents.update_lag(app.consumer.highwater)
        try:
            owned = set(api.local_materials())
        except NotReady:
            return
        firing = dict.fromkeys(("watch", "warning", "critical"), 0)
        for code in sorted(catalog.materials):
            slot = agents.stored(code.encode()) if code in owned else None
            if slot is None or slot.state.now is None:
                for gauge in (
                    metrics.RISK_SCORE,
                    metrics.RISK_LEVEL,
                    metrics.SUPPLY_RISK,
                    metrics.DAYS_OF_COVER,
                ):
                    with contextlib.suppress(KeyError):
                        gauge.remove(code)
                continue
            try:
                detail = api.detail(slot)
            except Exception as error:  # a state no reader can use must not stop the timer
                agents.quarantine(code, b"", f"{type(error).__name__}: {error}")
                continue
            if detail is None:
                continue
            snap = detail.snapshot
            set_material_gauges(
                code,
                snap.score,
                LEVEL_ORDER[snap.level],
                snap.supply_risk.value,
                snap.days_of_cover,
            )
            alert = open_alert(slot.state)
            if alert is not None:
                firing[alert.severity] += 1
        for severity, count in firing.items():
            metrics.ALERTS_FIRING.labels(severity).set(count)

    return app
