"""Follow every partition of a topic from the beginning, without a consumer group.

Each notifier worker keeps a full read-only view of the subscriptions (a compacted topic) and of
the delivery log (for the API) this way; `caught_up` says the view reflects the topic as it was
when the follower started, which is what readiness waits for. If the follower's task dies,
`failure` says why, every `wait_past` waiter (present and future) gets `FollowerFailed`, and
the worker's readiness goes false: nobody waits forever on a view that no longer moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

log = logging.getLogger(__name__)


class FollowerFailed(RuntimeError):
    """The follower of a topic stopped for good; its view will not advance any more."""


class TopicFollower:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        apply: Callable[[ConsumerRecord[bytes, bytes]], None],
        partitions_for: Callable[[str], Awaitable[set[int]]],
    ) -> None:
        """`partitions_for` is e.g. `AIOKafkaProducer.partitions_for` (it waits for metadata)."""
        self.bootstrap = bootstrap
        self.topic = topic
        self.apply = apply
        self.partitions_for = partitions_for
        self.caught_up = asyncio.Event()
        self.positions: dict[int, int] = {}
        """Per partition: one past the last offset applied."""
        self._advanced = asyncio.Event()
        self.failure: FollowerFailed | None = None
        """Set once when the follow task ended other than by `stop`."""
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=5000,
        )
        await consumer.start()
        self._consumer = consumer
        partitions = await self.partitions_for(self.topic)
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        self.follow(consumer, ends)

    def follow(self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> None:
        """Run the follow loop on an assigned consumer until `ends`, then on; watch it die."""
        self._task = asyncio.create_task(self._run(consumer, ends), name=f"follow {self.topic}")
        self._task.add_done_callback(self._on_done)

    def _on_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            why = "was stopped"
        elif (error := task.exception()) is not None:
            why = f"died: {type(error).__name__}: {error}"
            log.error("the follower of %s %s", self.topic, why, exc_info=error)
        else:
            why = "ended unexpectedly"
        self.fail(why)

    def fail(self, why: str) -> None:
        """Mark the view dead and wake every waiter so it raises `FollowerFailed`."""
        if self.failure is None:
            self.failure = FollowerFailed(f"the follower of {self.topic} {why}")
        self._advanced.set()

    async def _run(self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> None:
        pending = {tp: end for tp, end in ends.items() if end > 0}
        if not pending:
            self.caught_up.set()
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    try:
                        self.apply(record)
                    except Exception:  # a bad record must not stop the view
                        log.exception(
                            "cannot apply record at %s offset %s", self.topic, record.offset
                        )
                if records:
                    self.positions[tp.partition] = records[-1].offset + 1
            if batches:
                advanced, self._advanced = self._advanced, asyncio.Event()
                advanced.set()
            if not self.caught_up.is_set():
                for tp in list(pending):
                    if await consumer.position(tp) >= pending[tp]:
                        del pending[tp]
                if not pending:
                    self.caught_up.set()
                    log.info("caught up with %s", self.topic)

    async def wait_past(self, partition: int, offset: int) -> None:
        """Return once the record at `offset` of `partition` (and all before it) is applied.

        Raises `FollowerFailed` when the follower is (or becomes) dead before that.
        """
        while self.positions.get(partition, 0) <= offset:
            if self.failure is not None:
                raise FollowerFailed(str(self.failure))
            await self._advanced.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # a death is logged
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
