"""Faust app `sentinel-notifier`: alerts and recommendations in, durable signed webhooks out.

The agent turns each matching message into delivery tasks on sentinel.deliveries.v1 and waits
for the broker's acknowledgement before the input offset can be committed, so a worker dying at
any point loses nothing; the executor (runtime) does the sending. Bad input goes to the dead
letter topic and is counted; the agent carries on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

import faust
from mode import Service

from .. import ingest
from ..auth import load_keyring
from ..config import Settings, load_settings
from ..contracts.outputs import Alert, StockpileRecommendation
from ..contracts.silences import SILENCE_STATES, SilenceState
from ..faustkit import make_app
from ..ingest import Rejected
from ..kafka_admin import ensure_topics_before_start
from ..topics import ALERTS, NOTIFIER_SERVICE_TOPICS, RECOMMENDATIONS
from ..webkit import add_health_and_metrics, answer_errors_as_api_error
from . import metrics
from .api import register_api
from .payloads import tasks_for
from .runtime import NotifierRuntime
from .silencing import count_by_state
from .transport import Resolver, system_resolver

APP_NAME = "sentinel-notifier"
MODELS: dict[str, type[Alert] | type[StockpileRecommendation]] = {
    ALERTS.name: Alert,
    RECOMMENDATIONS.name: StockpileRecommendation,
}
MAX_MESSAGE_BYTES = 1024 * 1024


def _create_topics(settings: Settings) -> None:
    """Every topic the notifier reads or writes exists and is led before faust subscribes."""
    ensure_topics_before_start(settings, NOTIFIER_SERVICE_TOPICS)


def create_app(settings: Settings | None = None, resolver: Resolver = system_resolver) -> faust.App:
    settings = settings or load_settings()
    keyring = load_keyring(settings.api_tokens, settings.api_tokens_file)  # a bad file fails here
    _create_topics(settings)
    # A crashed worker's group membership must expire quickly: Faust's 60 s default would hold
    # a restarted notifier (and every delivery) back for a minute after a kill -9.
    app = make_app(
        APP_NAME,
        settings,
        web_port=settings.notifier_web_port,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
    )
    runtime = NotifierRuntime(settings, resolver)
    prefix = settings.topic_prefix
    logical = {spec.full_name(prefix): spec.name for spec in (ALERTS, RECOMMENDATIONS)}
    inputs = app.topic(*logical)

    @app.service
    class NotifierService(Service):
        async def on_start(self) -> None:
            await runtime.start()

        async def on_stop(self) -> None:
            await runtime.stop()

    async def dead_letter(event: Any, rejected: Rejected) -> None:
        topic_name = logical[event.message.topic]
        metrics.EVENTS_INVALID.labels(topic_name, rejected.reason).inc()
        letter = ingest.dead_letter(
            rejected,
            raw=event.value,
            key=event.key or None,
            topic=topic_name,
            partition=event.message.partition,
            offset=event.message.offset,
            received_at=datetime.now(UTC),
        )
        await runtime.producer.send_and_wait(
            runtime.dead_letter_topic, key=topic_name.encode(), value=letter
        )

    @app.agent(inputs, concurrency=1)
    async def fan_out(stream: faust.StreamT[Any]) -> None:
        await runtime.started.wait()
        await runtime.subscriptions.follower.caught_up.wait()
        await runtime.silences.follower.caught_up.wait()
        async for event in stream.events():
            topic_name = logical[event.message.topic]
            message = ingest.classify_output(
                event.value, MODELS[topic_name], max_bytes=MAX_MESSAGE_BYTES
            )
            if isinstance(message, Rejected):
                await dead_letter(event, message)
                continue
            metrics.EVENTS_CONSUMED.labels(topic_name, message.type).inc()
            produced_at = datetime.fromtimestamp(event.message.timestamp, UTC)
            tasks = tasks_for(
                message,
                runtime.subscriptions.all(),
                datetime.now(UTC),
                produced_at,
                runtime.silences.items.values(),
            )
            await runtime.enqueue(tasks)
            for task in tasks:
                if task.silenced_by is not None:
                    metrics.SILENCED.labels(task.event_type).inc()

    def silence_gauge(state: SilenceState) -> float:
        if not runtime.started.is_set():
            return 0.0
        return float(count_by_state(runtime.silences.all(), datetime.now(UTC))[state])

    def subscription_gauge(enabled: bool) -> float:
        return float(runtime.subscriptions.count(enabled)) if runtime.started.is_set() else 0.0

    metrics.SUBSCRIPTIONS.labels("enabled").set_function(lambda: subscription_gauge(True))
    metrics.SUBSCRIPTIONS.labels("disabled").set_function(lambda: subscription_gauge(False))
    for state in SILENCE_STATES:
        metrics.SILENCES.labels(state).set_function(partial(silence_gauge, state))
    add_health_and_metrics(app, "notifier", runtime.readiness)
    answer_errors_as_api_error(app)
    register_api(app, runtime, keyring)
    app.notifier_runtime = runtime  # type: ignore[attr-defined]
    return app
