"""The notifier's composition root: one producer, one poster, the views and the executor."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from ..config import Settings
from ..contracts.routes import HealthStatus
from ..contracts.webhooks import DeliveryTask
from ..topics import DEAD_LETTER, DELIVERIES, SILENCES, SUBSCRIPTIONS
from .delivery_log import KafkaDeliveryLog
from .executor import Executor
from .history import DeliveryHistory
from .retry import RetryPolicy
from .store import SilenceStore, SubscriptionStore
from .transport import Poster, Resolver, UrlGuard, make_poster, system_resolver

GROUP_SUFFIX = "sentinel-notifier-deliveries"


class NotifierRuntime:
    def __init__(self, settings: Settings, resolver: Resolver = system_resolver) -> None:
        self.settings = settings
        prefix = settings.topic_prefix
        self.deliveries_topic = DELIVERIES.full_name(prefix)
        self.dead_letter_topic = DEAD_LETTER.full_name(prefix)
        self.guard = UrlGuard(settings.allowed_networks, settings.webhook_allow_http, resolver)
        self.started = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._delivery_log: KafkaDeliveryLog | None = None
        self._poster: Poster | None = None
        self._store: SubscriptionStore | None = None
        self._silences: SilenceStore | None = None
        self._history: DeliveryHistory | None = None
        self._executor: Executor | None = None

    @property
    def producer(self) -> AIOKafkaProducer:
        assert self._producer is not None, "runtime not started"
        return self._producer

    @property
    def subscriptions(self) -> SubscriptionStore:
        assert self._store is not None, "runtime not started"
        return self._store

    @property
    def silences(self) -> SilenceStore:
        assert self._silences is not None, "runtime not started"
        return self._silences

    @property
    def history(self) -> DeliveryHistory:
        assert self._history is not None, "runtime not started"
        return self._history

    @property
    def ready(self) -> bool:
        return self.readiness()[0] == "ok"

    def readiness(self) -> tuple[HealthStatus, str]:
        """("ok", "") once every part the API and the deliveries need is up; else why not."""
        if (
            not self.started.is_set()
            or self._store is None
            or self._silences is None
            or self._history is None
        ):
            return "starting", "runtime starting"
        followers = (self._store.follower, self._silences.follower, self._history.follower)
        for follower in followers:
            if follower.failure is not None:
                return "degraded", str(follower.failure)
        for follower in followers:
            if not follower.caught_up.is_set():
                return "starting", f"reading {follower.topic}"
        if self._executor is None or not self._executor.is_ready:
            return "starting", "waiting for delivery partitions"
        return "ok", ""

    async def start(self) -> None:
        s = self.settings
        self._producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap, acks="all", linger_ms=2, enable_idempotence=True
        )
        await self._producer.start()
        self._store = SubscriptionStore(
            s.kafka_bootstrap, SUBSCRIPTIONS.full_name(s.topic_prefix), self._producer
        )
        self._silences = SilenceStore(
            s.kafka_bootstrap, SILENCES.full_name(s.topic_prefix), self._producer
        )
        self._history = DeliveryHistory(
            s.kafka_bootstrap, self.deliveries_topic, self._producer.partitions_for
        )
        await self._store.follower.start()
        await self._silences.follower.start()
        await self._history.follower.start()
        self._poster = make_poster(self.guard, s.webhook_timeout_s, s.webhook_http_engine)
        self._delivery_log = KafkaDeliveryLog(self._producer, self.deliveries_topic)
        self._executor = Executor(
            bootstrap=s.kafka_bootstrap,
            topic=self.deliveries_topic,
            group_id=f"{s.topic_prefix}{GROUP_SUFFIX}",
            group_instance_id=s.group_instance_id,
            delivery_log=self._delivery_log,
            subscriptions=self._store,
            poster=self._poster,
            policy=RetryPolicy(
                scale=s.webhook_retry_scale,
                jitter=s.webhook_retry_jitter,
                retry_after_max_s=s.webhook_retry_after_max_s,
            ),
            timeout_s=s.webhook_timeout_s,
            disable_after_s=s.webhook_disable_after_s,
            concurrency=s.webhook_endpoint_concurrency,
            recovery_check_s=s.webhook_recovery_check_s,
            history=self._history,
        )
        await self._executor.start()
        self.started.set()

    async def stop(self) -> None:
        for closer in (
            self._executor.stop if self._executor else None,
            self._store.follower.stop if self._store else None,
            self._silences.follower.stop if self._silences else None,
            self._history.follower.stop if self._history else None,
            self._poster.aclose if self._poster else None,
            self._producer.stop if self._producer else None,
        ):
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()

    async def enqueue(self, tasks: Sequence[DeliveryTask]) -> None:
        """Write delivery tasks to the log and wait until every one is acknowledged."""
        assert self._delivery_log is not None, "runtime not started"
        await self._delivery_log.append(tasks)
