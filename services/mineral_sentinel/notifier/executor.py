"""The durable delivery queue: consume sentinel.deliveries.v1 as a group, send, record, commit.

Durability comes from the log itself. A task record is on the topic before any attempt; every
attempt appends its outcome and next due time; the committed offset of a partition never passes
the oldest delivery still open on it. After a kill -9 the consumer re-reads from there, the fold
(decisions.DeliveryBook) rebuilds every open delivery with its attempt count and due time, and
sending resumes only once a partition is caught up, so nothing is sent twice by mistake.

Per subscription a semaphore bounds in-flight attempts; deliveries sharing an ordering key
(material) form a lane that sends one at a time in log order, so a slow endpoint only slows its
own lanes and alert updates arrive in sequence. A lane waiting on a retry may go early when its
endpoint recovers (recovery.py), so a failing endpoint's queue flows again within seconds of it
answering, not at each head's next scheduled retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from ..contracts.webhooks import DeliveryAttempt, DeliveryRecord, DeliveryStatus, DeliveryTask
from . import metrics
from .decisions import DeliveryBook, DeliveryState, Verdict, decide, decide_early, not_attempted
from .delivery_log import DeliveryLog
from .follower import FollowerFailed
from .history import DeliveryHistory
from .recovery import Recovery, next_turn
from .retry import RetryPolicy
from .sender import attempt
from .signing import active_secrets
from .store import SubscriptionStore
from .transport import Poster

log = logging.getLogger(__name__)
KEEP_FINISHED = 1000


@dataclass
class Endpoint:
    semaphore: asyncio.Semaphore
    recovery: Recovery
    lanes: dict[str, deque[str]] = field(default_factory=dict)
    runners: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    succeeded: asyncio.Event = field(default_factory=asyncio.Event)
    """Set (and replaced) on every success: wakes the lanes waiting for the endpoint to recover."""

    def wake(self) -> None:
        woken, self.succeeded = self.succeeded, asyncio.Event()
        woken.set()


class Executor(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self,
        *,
        bootstrap: str,
        topic: str,
        group_id: str,
        group_instance_id: str | None = None,
        delivery_log: DeliveryLog,
        subscriptions: SubscriptionStore,
        poster: Poster,
        policy: RetryPolicy,
        timeout_s: float,
        disable_after_s: float,
        concurrency: int,
        recovery_check_s: float = 0.0,
        error_pause_s: float = 1.0,
        history: DeliveryHistory | None = None,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.group_id = group_id
        self.group_instance_id = group_instance_id
        """Static membership (KIP-345): a restarted notifier takes its partitions back at once."""
        self.delivery_log = delivery_log
        self.subscriptions = subscriptions
        self.poster = poster
        self.policy = policy
        self.timeout_s = timeout_s
        self.disable_after_s = disable_after_s
        self.concurrency = concurrency
        self.recovery_check_s = recovery_check_s
        self.error_pause_s = error_pause_s
        self.history = history
        """Every partition's log from the start: outcomes below our committed offsets."""
        self.jitter = jitter
        self.clock = clock
        self.book = DeliveryBook()
        self.open: dict[str, DeliveryState] = {}
        """Deliveries not yet final (commit points and gauges without scanning the book)."""
        self.endpoints: dict[str, Endpoint] = {}
        self.partition_of: dict[str, int] = {}
        self.ready: dict[int, asyncio.Event] = {}
        self.catch_up_to: dict[int, int] = {}
        self.assigned_once = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            group_instance_id=self.group_instance_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=2000,
        )
        await consumer.start()
        consumer.subscribe([self.topic], listener=self)
        self._consumer = consumer
        self._tasks = [
            asyncio.create_task(self._consume(consumer), name="deliveries consume"),
            asyncio.create_task(self._commit_loop(consumer), name="deliveries commit"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for endpoint in self.endpoints.values():
            for runner in endpoint.runners.values():
                runner.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._commit(self._consumer)
            await self._consumer.stop()

    @property
    def is_ready(self) -> bool:
        return self.assigned_once.is_set() and all(e.is_set() for e in self.ready.values())

    # ------------------------------------------------------------------ rebalance

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._commit(self._consumer)
        lost = {tp.partition for tp in revoked}
        for sub_id in [s for s, p in self.partition_of.items() if p in lost]:
            endpoint = self.endpoints.pop(sub_id, None)
            if endpoint is not None:
                for runner in endpoint.runners.values():
                    runner.cancel()
            for delivery_id in list(self.book.by_subscription.get(sub_id, {})):
                self.open.pop(delivery_id, None)
            self.book.forget(sub_id)
            del self.partition_of[sub_id]
        for partition in lost:
            self.ready.pop(partition, None)
            self.catch_up_to.pop(partition, None)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        assert self._consumer is not None
        # aiokafka makes the assignment live before calling us, so getmany() can hand `_consume`
        # records of these partitions while we await the broker below. Register every
        # partition's (unset) gate before the first await: a lane started from such a record
        # must wait for the catch-up, not find no gate and give up as if the partition were
        # revoked (its deliveries then sat open forever and pinned the committed offset).
        for tp in assigned:
            self.ready[tp.partition] = asyncio.Event()
            self.catch_up_to.pop(tp.partition, None)
        ends = await self._consumer.end_offsets(list(assigned)) if assigned else {}
        for tp in assigned:
            event = self.ready[tp.partition]
            committed = await self._consumer.committed(tp)
            self.catch_up_to[tp.partition] = ends[tp]
            if ends[tp] == 0 or (committed is not None and committed >= ends[tp]):
                event.set()
        self.assigned_once.set()
        log.info("delivery partitions assigned: %s", sorted(tp.partition for tp in assigned))

    # ------------------------------------------------------------------ consume and fold

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            for tp, records in batches.items():
                for record in records:
                    self._fold(record.key, record.value, tp.partition, record.offset)
            for partition, event in list(self.ready.items()):
                target = self.catch_up_to.get(partition)
                if event.is_set() or target is None:
                    continue  # caught up, or the assignment callback has not read the end yet
                position = await consumer.position(TopicPartition(self.topic, partition))
                if position >= target:
                    event.set()

    def _fold(self, key: bytes | None, value: bytes | None, partition: int, offset: int) -> None:
        if value is None:
            return
        try:
            record = DeliveryRecord.model_validate_json(value).root
        except ValidationError:
            log.warning(
                "ignoring invalid delivery record at partition %s offset %s", partition, offset
            )
            return
        self.partition_of[record.subscription_id] = partition
        known = self.book.get(record.subscription_id, record.delivery_id)
        state = self._apply(record, offset)
        if (
            isinstance(record, DeliveryTask)
            and known is None
            and state is not None
            and not state.terminal  # e.g. silenced: final from its task record on
        ):
            self._enqueue(state)

    def _apply(
        self, record: DeliveryTask | DeliveryAttempt, offset: int | None = None
    ) -> DeliveryState | None:
        state = self.book.apply(record, offset)
        if state is not None:
            if state.terminal:
                self.open.pop(state.task.delivery_id, None)
            else:
                self.open[state.task.delivery_id] = state
        return state

    def _enqueue(self, state: DeliveryState) -> None:
        sub_id = state.task.subscription_id
        endpoint = self.endpoints.get(sub_id)
        if endpoint is None:
            endpoint = Endpoint(
                asyncio.Semaphore(self.concurrency), Recovery(self.recovery_check_s)
            )
            self.endpoints[sub_id] = endpoint
        key = state.task.ordering_key
        endpoint.lanes.setdefault(key, deque()).append(state.task.delivery_id)
        runner = endpoint.runners.get(key)
        if runner is None or runner.done():
            endpoint.runners[key] = asyncio.create_task(self._run_lane(sub_id, endpoint, key))

    # ------------------------------------------------------------------ sending

    async def _run_lane(self, sub_id: str, endpoint: Endpoint, key: str) -> None:
        lane = endpoint.lanes[key]
        while lane:
            state = self.book.get(sub_id, lane[0])
            if state is None or state.terminal:
                lane.popleft()
                continue
            partition = self.partition_of.get(sub_id)
            ready = self.ready.get(partition) if partition is not None else None
            if ready is None:
                # Revocation cancels the lanes of its partitions; reaching here means a record
                # was folded for a partition we do not own, and this lane would stall silently.
                log.warning("lane %s/%s has no assigned partition; dropping it", sub_id, key)
                endpoint.lanes.pop(key, None)
                endpoint.runners.pop(key, None)
                return
            await ready.wait()
            if not state.attempts and self.history is not None and partition is not None:
                # A re-written copy of a task made before (past the committed offset, its
                # original and outcome below it) must not be sent again: take the outcome over.
                try:
                    known = await self.history.outcome_of(state, partition)
                except FollowerFailed as failed:
                    # The worker reports not ready; its deliveries stay in the log for the
                    # worker that takes the partitions over (or for this one after a restart).
                    log.error("lane %s/%s stops: %s", sub_id, key, failed)
                    endpoint.runners.pop(key, None)
                    return
                for made in list(known.attempts) if known is not None else []:
                    self._apply(made)
            if state.terminal:
                continue
            turn = next_turn(self.clock(), state.due_at(), state.last_attempt_at, endpoint.recovery)
            if turn.action == "wait":
                await self._wait(endpoint, turn.wait_s, turn.wakeable)
                continue
            try:
                await self._attempt(state, endpoint, turn.action)
            except Exception as error:
                # Most likely the outcome could not be written (the broker unreachable past
                # the producer's timeout). The delivery stays open and the head goes again
                # after a pause (at least once, same webhook-id): the lane must not die with
                # its queue, which nothing but a new message for it would restart.
                log.error(
                    "lane %s/%s: attempt not recorded, trying again in %g s: %s: %s",
                    sub_id,
                    key,
                    self.error_pause_s,
                    type(error).__name__,
                    error,
                )
                metrics.LANE_ERRORS.inc()
                await asyncio.sleep(self.error_pause_s)
            finally:
                if turn.action == "check":
                    endpoint.recovery.checking = False  # whatever happened, a later lane may check
        endpoint.lanes.pop(key, None)
        endpoint.runners.pop(key, None)
        if self.book.by_subscription.get(sub_id):
            self.book.trim(sub_id, KEEP_FINISHED)

    async def _wait(self, endpoint: Endpoint, seconds: float, wakeable: bool) -> None:
        """The retry schedule itself, cut short by a success on the endpoint when `wakeable`."""
        if not wakeable:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await endpoint.succeeded.wait()

    async def _attempt(
        self, state: DeliveryState, endpoint: Endpoint, turn: str = "attempt"
    ) -> None:
        """One HTTP attempt: on schedule (`attempt`), or ahead of it (`early`, `check`)."""
        task = state.task
        sub = self.subscriptions.get(task.subscription_id)
        failing_since = self.book.failing_since.get(task.subscription_id)
        if sub is not None and failing_since is not None and failing_since < sub.updated_at:
            failing_since = None  # re-enabled or edited since: a new failure run starts
        if sub is None or not sub.enabled:
            reason = (
                "subscription deleted"
                if sub is None
                else f"endpoint disabled: {sub.disabled_reason}"
            )
            status: DeliveryStatus = "failed" if sub is None else "disabled"
            record = not_attempted(
                task, state.attempts_made, self.clock(), status, reason, failing_since
            )
            await self._record(record)
            metrics.DELIVERIES.labels("failed" if sub is None else "disabled").inc()
            return
        async with endpoint.semaphore:
            result = await attempt(
                self.poster,
                sub.url,
                task.webhook_id,
                task.body.encode(),
                active_secrets(sub.secrets, self.clock()),
                self.timeout_s,
            )
        metrics.ATTEMPT_DURATION.observe(result.duration_ms / 1000.0)
        tenant = metrics.TENANT_LABELS.value(sub.tenant)
        metrics.TENANT_ATTEMPT_DURATION.labels(tenant).observe(result.duration_ms / 1000.0)
        now = self.clock()
        verdict: Verdict
        if turn == "attempt":
            verdict = decide(
                task,
                state.attempts_made + 1,
                result,
                now,
                self.policy,
                self.jitter(),
                failing_since,
                self.disable_after_s,
                scheduled=state.scheduled_attempts + 1,
            )
        else:
            verdict = decide_early(
                task,
                state.attempts_made + 1,
                result,
                now,
                state.next_attempt_at,
                failing_since,
                self.disable_after_s,
            )
        succeeded = verdict.outcome == "success"
        endpoint.recovery.observe(now, succeeded, result.retry_after_s)
        if succeeded:
            endpoint.wake()
        await self._record(verdict.record)
        metrics.DELIVERIES.labels(verdict.outcome).inc()
        metrics.TENANT_ATTEMPTS.labels(tenant, "success" if succeeded else "failure").inc()
        if verdict.outcome == "success" and task.source_produced_at is not None:
            metrics.DELIVERY_LATENCY.observe(
                max((now - task.source_produced_at).total_seconds(), 0)
            )
        if verdict.disable_reason is not None:
            await self._disable(sub.id, verdict.disable_reason)

    async def _record(self, record: DeliveryAttempt) -> None:
        """Append the outcome to the log (acknowledged) before moving on, then fold it here."""
        await self.delivery_log.append([record])
        self._apply(record)

    async def _disable(self, sub_id: str, reason: str) -> None:
        sub = self.subscriptions.get(sub_id)
        if sub is None or not sub.enabled:
            return
        log.warning("disabling webhook subscription %s: %s", sub_id, reason)
        await self.subscriptions.put(
            sub.model_copy(
                update={"enabled": False, "disabled_reason": reason, "updated_at": self.clock()}
            )
        )

    # ------------------------------------------------------------------ offsets and gauges

    async def _commit_loop(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            await asyncio.sleep(1.0)  # periodic commit cadence, not synchronisation
            self._update_gauges()
            try:
                await self._commit(consumer)
            except Exception:
                log.exception("committing delivery offsets failed; will retry")

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        """Commit each partition up to (not past) its oldest open delivery."""
        oldest: dict[int, int] = {}
        for state in self.open.values():
            partition = self.partition_of.get(state.task.subscription_id)
            if partition is not None and state.offset is not None:
                oldest[partition] = min(oldest.get(partition, state.offset), state.offset)
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for partition, event in self.ready.items():
            if not event.is_set():
                continue  # still replaying: the fold is incomplete
            tp = TopicPartition(self.topic, partition)
            position = await consumer.position(tp)
            offsets[tp] = OffsetAndMetadata(min(oldest.get(partition, position), position), "")
        if offsets:
            await consumer.commit(offsets)

    def _update_gauges(self) -> None:
        metrics.PENDING.set(len(self.open))
        metrics.RETRYING.set(sum(1 for state in self.open.values() if state.attempts_made > 0))
