"""The intake: read the four input topics, validate once, forward per material, report marks.

A plain aiokafka consumer group (`<app>-intake`), not a faust agent: it hands whole fetches to
one loop (faust's per-message pipeline was the worker's bottleneck) and it must know, per input
partition, whether the broker still holds unread records (highwater) to tell the merge
downstream whether that partition may still send something older.

Per batch: every message is classified by `ingest.classify` (dead letters with their reason),
every valid event is forwarded once per material it concerns to that material's by-material
partition (the partition faust's router computes for the table key, so the HTTP API finds it),
together with the *marks* of every input partition this worker reads. Offsets are committed
only after the broker acknowledged what the batch produced (at least once); the next batch is
read while those acknowledgements are under way. Between batches the
loop re-sends marks as their safe times move on (while a partition is caught up with the
broker), and at least every `MARKS_REFRESH_S`, so that a restarted merge learns them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from ..catalog.model import Catalog
from ..config import Settings
from ..contracts.events import InputEvent
from ..contracts.outputs import DeadLetterError
from ..ingest import Accepted, Rejected, classify, dead_letter
from ..risk.ordering import order_key
from . import metrics
from .envelope import Forwarded, Mark, chunks, encode, source_name
from .topology import partition_for

log = logging.getLogger(__name__)

MARKS_REFRESH_S = 1.0
MAX_INFLIGHT_BATCHES = 8
"""Batches whose produce requests may await their acknowledgements while the next is read."""
COMMIT_INTERVAL_S = 0.2
SHUTDOWN_SETTLE_S = 10.0
"""How long a stopping intake waits for its last acknowledgements and commit."""
POSITION_WAIT_S = 0.05
HANDOFF_LIMIT = 20_000
"""About 1 KB per parsed event. The intake runs ahead of the fold in a backlog, so a larger bound
only holds events that are evicted before the fold reaches them (200,000 held ~200 MiB)."""


class Handoff:
    """Parsed events handed from the intake to the fold of the same worker, by coordinate.

    The by-material hop carries the original bytes; when the partition that receives them is
    folded by this same worker (always, with one worker), the fold takes the model parsed at
    intake instead of parsing the bytes a second time. Bounded; a miss just means a parse."""

    def __init__(self, limit: int = HANDOFF_LIMIT) -> None:
        self._events: OrderedDict[str, InputEvent] = OrderedDict()
        self._limit = limit

    def put(self, coordinate: str, event: InputEvent) -> None:
        self._events[coordinate] = event
        if len(self._events) > self._limit:
            self._events.popitem(last=False)

    def take(self, coordinate: str) -> InputEvent | None:
        return self._events.pop(coordinate, None)


@dataclass(slots=True)
class SourceProgress:
    """What the intake knows of one input partition it reads."""

    name: str
    next_offset: int | None = None
    mark_us: int | None = None
    safe_ms: int | None = None
    """Every record written to the partition up to this wall-clock time has been forwarded."""
    polled_ms: int | None = None
    """The newest fetch-response time seen for the partition (`last_poll_timestamp`)."""
    polled_before_ms: int | None = None
    """The one seen before it: a lower bound on when the broker built the newest response."""


class Forwarder(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        *,
        topics: Mapping[str, str],
        by_material_topic: str,
        partitions: int,
        dead_letter_topic: str,
        group_id: str,
        handoff: Handoff,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.logical = dict(topics)
        """full topic name -> logical name"""
        self.by_material_topic = by_material_topic
        self.partitions = partitions
        self.dead_letter_topic = dead_letter_topic
        self.group_id = group_id
        self.handoff = handoff
        self.clock = clock
        self.sources: dict[TopicPartition, SourceProgress] = {}
        self.topic_sizes: dict[str, int] = {}
        self._partition_of = {code: partition_for(code, partitions) for code in catalog.materials}
        self._last_marks: tuple[Mark, ...] = ()
        self._marks_sent_at = -1e9
        self._marks_interval_s = max(0.02, settings.risk_idle_ms / 2000)
        """How often marks are sent between batches: a live record waits about the idle time
        plus this before the merge knows every partition has nothing older."""
        self._lag_at = -1e9
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self._inflight: deque[tuple[list[asyncio.Future[Any]], dict[TopicPartition, int]]] = deque()
        self._committable: dict[TopicPartition, int] = {}
        self._commit_task: asyncio.Future[None] | None = None
        self._committed_at = -1e9
        self.running = asyncio.Event()
        self.joined = asyncio.Event()
        """Set once the intake has joined its group and received an assignment (maybe empty)."""

    # ---- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        s = self.settings
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap,
            group_id=self.group_id,
            group_instance_id=s.group_instance_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=s.risk_fetch_max_wait_ms,
            max_partition_fetch_bytes=1024 * 1024,
            session_timeout_ms=int(s.risk_session_timeout_s * 1000),
            heartbeat_interval_ms=int(min(3.0, s.risk_session_timeout_s / 3) * 1000),
            max_poll_interval_ms=300_000,
        )
        self.producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap,
            acks="all",
            linger_ms=5,
            max_batch_size=512 * 1024,
            max_request_size=2 * 1024 * 1024,
            request_timeout_ms=30_000,
        )
        self._inflight.clear()
        self._committable = {}
        try:
            await self.producer.start()
            await self.consumer.start()
            self.consumer.subscribe(list(self.logical), listener=self)
            await self._loop()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._settle(everything=True), SHUTDOWN_SETTLE_S)
            with contextlib.suppress(Exception):
                await self.consumer.stop()
            with contextlib.suppress(Exception):
                await self.producer.stop()

    async def _loop(self) -> None:
        assert self.consumer is not None
        s = self.settings
        timeout_ms = max(1, int(s.risk_batch_within_s * 1000))
        while True:
            batch = await self.consumer.getmany(
                timeout_ms=timeout_ms, max_records=s.risk_batch_size
            )
            self.running.set()
            if batch:
                await self._forward(batch)
            else:
                await self._tick()

    # ---- rebalance (ConsumerRebalanceListener) --------------------------------------------------

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        with contextlib.suppress(Exception):
            await self._settle(everything=True)
        for tp in revoked:
            self.sources.pop(tp, None)
        self._last_marks = ()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        assert self.consumer is not None
        for tp in assigned:
            self.sources[tp] = SourceProgress(source_name(self.logical[tp.topic], tp.partition))
        for topic, logical in self.logical.items():
            known = self.consumer.partitions_for_topic(topic)
            if known:
                self.topic_sizes[logical] = len(known)
        self._last_marks = ()
        self.joined.set()

    # ---- one batch ------------------------------------------------------------------------------

    async def _forward(self, batch: Mapping[TopicPartition, list[Any]]) -> None:
        assert self.producer is not None
        began = time.perf_counter()
        wall = time.time()
        wall_ms = int(wall * 1000)
        per_partition: dict[int, list[Forwarded]] = {}
        futures: list[asyncio.Future[Any]] = []
        for tp, records in batch.items():
            progress = self.sources.get(tp)
            if progress is None:  # revoked while the fetch was in flight
                continue
            logical = self.logical[tp.topic]
            for record in records:
                result = self._classify(record, logical, wall)
                if isinstance(result, Rejected):
                    futures.append(await self._dead_letter(logical, result, record, wall))
                else:
                    metrics.EVENTS_CONSUMED.labels(logical, result.event.type).inc()
                    key = order_key(result.event, result.raw)
                    coordinate = f"{progress.name}@{record.offset}"
                    self.handoff.put(coordinate, result.event)
                    for material in result.materials:
                        forwarded = Forwarded(
                            material,
                            progress.name,
                            record.offset,
                            key,
                            result.raw,
                            min(record.timestamp, wall_ms),
                        )
                        partition = self._partition_of.get(material)
                        if partition is None:
                            partition = partition_for(material, self.partitions)
                        per_partition.setdefault(partition, []).append(forwarded)
                    if progress.mark_us is None or key.time_us > progress.mark_us:
                        progress.mark_us = key.time_us
                progress.next_offset = record.offset + 1
        validated = time.perf_counter()
        marks = await self._marks()
        for partition, items in per_partition.items():
            parts = list(chunks(items))
            for index, chunk in enumerate(parts):
                # the marks go with the last chunk: they cover every record of the batch
                tail = marks if index == len(parts) - 1 else ()
                futures.append(await self._send(partition, encode(chunk, tail, self.topic_sizes)))
        futures.extend(await self._send_marks(marks, skip=set(per_partition)))
        sent_at = time.perf_counter()
        offsets = {
            tp: progress.next_offset
            for tp in batch
            if (progress := self.sources.get(tp)) is not None and progress.next_offset is not None
        }
        self._inflight.append((futures, offsets))
        await self._settle(block=len(self._inflight) > MAX_INFLIGHT_BATCHES)
        metrics.STAGE_SECONDS.labels("validate").inc(validated - began)
        metrics.STAGE_SECONDS.labels("forward").inc(sent_at - validated)

    def _classify(self, record: Any, logical: str, wall: float) -> Accepted | Rejected:
        s = self.settings
        try:
            return classify(
                record.value,
                self.catalog,
                max_bytes=s.risk_max_event_bytes,
                now=wall,
                max_future_s=s.max_future_s,
                topic=logical,
            )
        except Exception as error:  # never die on input
            log.exception(
                "intake failed on %s[%s]@%s", record.topic, record.partition, record.offset
            )
            return Rejected(
                "processing_error",
                (DeadLetterError(reason="processing_error", message=repr(error)[:2000]),),
            )

    async def _dead_letter(
        self, logical: str, rejected: Rejected, record: Any, wall: float
    ) -> asyncio.Future[Any]:
        assert self.producer is not None
        metrics.EVENTS_INVALID.labels(logical, rejected.reason).inc()
        value = dead_letter(
            rejected,
            raw=record.value,
            key=record.key,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            received_at=datetime.fromtimestamp(wall, UTC),
        )
        future: asyncio.Future[Any] = await self.producer.send(
            self.dead_letter_topic, value, key=record.topic.encode()
        )
        return future

    async def _send(self, partition: int, value: bytes) -> asyncio.Future[Any]:
        assert self.producer is not None
        future: asyncio.Future[Any] = await self.producer.send(
            self.by_material_topic, value, partition=partition
        )
        return future

    # ---- marks ----------------------------------------------------------------------------------

    async def _marks(self) -> tuple[Mark, ...]:
        """Every owned input partition's mark. A partition found caught up at its last fetch
        response is safe up to the time that response was built, minus the idle time, which
        covers producers whose records reach the broker late (a record's timestamp is taken
        when its producer was called, not when the broker appended it).

        When the broker built the response is not known: aiokafka stamps it when it *processed*
        it, which can be far later when the event loop is busy (seen: 700 ms, enough to let a
        record through as late). The response was requested after the previous response from
        that broker was processed, so the previous stamp is a safe lower bound."""
        assert self.consumer is not None
        idle_ms = self.settings.risk_idle_ms
        for tp, progress in self.sources.items():
            if progress.next_offset is None:  # nothing read yet: start from the fetch position
                with contextlib.suppress(Exception):
                    progress.next_offset = await asyncio.wait_for(
                        self.consumer.position(tp), POSITION_WAIT_S
                    )
            highwater = self.consumer.highwater(tp)
            self._observe_poll(tp, progress)
            built_after_ms = progress.polled_before_ms
            position = progress.next_offset
            if (
                highwater is None
                or built_after_ms is None
                or position is None
                or position < highwater
            ):
                continue
            safe = built_after_ms - idle_ms
            if progress.safe_ms is None or safe > progress.safe_ms:
                progress.safe_ms = safe
        return tuple(
            Mark(p.name, p.mark_us, p.safe_ms) for p in sorted(self.sources.values(), key=_by_name)
        )

    def _observe_poll(self, tp: TopicPartition, progress: SourceProgress) -> None:
        assert self.consumer is not None
        polled_ms = self.consumer.last_poll_timestamp(tp)
        if polled_ms is not None and polled_ms != progress.polled_ms:
            progress.polled_before_ms = progress.polled_ms
            progress.polled_ms = polled_ms

    async def _tick(self) -> None:
        """Between batches: re-send marks when a flag changed or the refresh is due; lag gauge.
        Fetch-response times are observed on every tick, so that the lower bound `_marks` uses
        stays one response behind, not one marks interval."""
        for tp, progress in self.sources.items():
            self._observe_poll(tp, progress)
        now = self.clock()
        if now - self._marks_sent_at < self._marks_interval_s:
            return
        marks = await self._marks()
        if marks != self._last_marks or now - self._marks_sent_at >= MARKS_REFRESH_S:
            futures = await self._send_marks(marks, skip=set())
            if futures:
                self._inflight.append((futures, {}))
        await self._settle(block=False)
        if now - self._lag_at >= 1.0:
            self._lag_at = now
            self._update_lag()

    async def _send_marks(self, marks: tuple[Mark, ...], skip: set[int]) -> list[Any]:
        """A marks-only envelope to every by-material partition not in `skip`."""
        if not marks:
            return []
        self._last_marks = marks
        self._marks_sent_at = self.clock()
        value = encode((), marks, self.topic_sizes)
        return [await self._send(p, value) for p in range(self.partitions) if p not in skip]

    async def _settle(self, *, block: bool = False, everything: bool = False) -> None:
        """Retire batches whose produce requests the broker acknowledged, oldest first, and
        commit their offsets (at most every COMMIT_INTERVAL_S, in the background). Sends are
        not awaited batch by batch: the next fetch overlaps the acknowledgements. `block` waits
        for the oldest batch (the pipeline is full); `everything` drains and commits now."""
        started = time.perf_counter()
        while self._inflight:
            futures, offsets = self._inflight[0]
            if not (block or everything) and not all(f.done() for f in futures):
                break
            await asyncio.gather(*futures)  # a failed send raises: the intake restarts
            self._inflight.popleft()
            self._committable.update(offsets)
            block = False
        acknowledged = time.perf_counter()
        metrics.STAGE_SECONDS.labels("produce_ack").inc(acknowledged - started)
        now = self.clock()
        due = everything or now - self._committed_at >= COMMIT_INTERVAL_S
        if not self._committable or not due or self.consumer is None:
            return
        if self._commit_task is not None and not self._commit_task.done():
            if not everything:
                return
            with contextlib.suppress(Exception):
                await self._commit_task
        offsets = {
            tp: OffsetAndMetadata(offset, "")
            for tp, offset in self._committable.items()
            if tp in self.sources
        }
        self._committable = {}
        self._committed_at = now
        if everything:
            await self.consumer.commit(offsets)
        else:
            self._commit_task = asyncio.ensure_future(self._commit_in_background(offsets))
        metrics.STAGE_SECONDS.labels("commit").inc(time.perf_counter() - acknowledged)

    async def _commit_in_background(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        assert self.consumer is not None
        try:
            await self.consumer.commit(offsets)
        except Exception as error:  # a later commit covers these offsets again
            log.warning("intake commit failed (%s); a later one retries", error)

    def _update_lag(self) -> None:
        assert self.consumer is not None
        for tp, progress in self.sources.items():
            highwater = self.consumer.highwater(tp)
            position = progress.next_offset
            if highwater is None or position is None:
                continue
            metrics.CONSUMER_LAG.labels(self.logical[tp.topic], str(tp.partition)).set(
                max(0, highwater - position)
            )


def _by_name(progress: SourceProgress) -> str:
    return progress.name
