"""The faust internals `risk_service.faust_adapter` relies on are still there and still mean
what the adapter assumes (a faust upgrade that changes them fails here, not in production)."""

from __future__ import annotations

import contextvars
import weakref

import faust
import pytest
from faust.types import TP
from faust.types.tuples import ConsumerMessage, Message
from intervaltree import IntervalTree  # type: ignore[import-untyped]

from mineral_sentinel.risk_service import faust_adapter

pytestmark = pytest.mark.unit


def test_tested_faust_version() -> None:
    assert faust.__version__.startswith(faust_adapter.TESTED_FAUST), (
        f"faust {faust.__version__}: re-check risk_service/faust_adapter.py against it"
    )


def test_current_event_is_a_context_variable_of_weak_references() -> None:
    from faust import streams

    assert isinstance(streams._current_event, contextvars.ContextVar)
    marker = Message("t", 0, 0, 0.0, 0, None, b"k", b"v", None)
    faust_adapter.write_to_partition_of(marker)
    held = streams._current_event.get()
    assert isinstance(held, weakref.ref) and held() is marker  # type: ignore[comparison-overlap]
    assert streams.current_event() is marker  # type: ignore[comparison-overlap]


class _Consumer:
    """What faust's Consumer.ack does with a message on its final acknowledgement."""

    def __init__(self) -> None:
        self.acked: list[ConsumerMessage] = []

    def ack(self, message: ConsumerMessage) -> bool:
        message.acked = True
        self.acked.append(message)
        return True


class _Event:
    def __init__(self, message: ConsumerMessage) -> None:
        self.message = message


def test_a_held_message_is_acknowledged_only_when_the_last_reference_goes() -> None:
    consumer = _Consumer()
    message = ConsumerMessage("t", 0, 7, 0.0, 0, None, b"k", b"v", None, tp=TP("t", 0))
    message.incref()  # the stream's own reference, as faust takes it on delivery
    event = _Event(message)
    faust_adapter.hold(event)
    message.ack(consumer)  # type: ignore[arg-type]  # what take_events does when the batch ends
    assert consumer.acked == [] and not message.acked
    faust_adapter.release_later(event, consumer)
    assert consumer.acked == [message] and message.acked


class _Offsets:
    """The attributes faust's Consumer._new_offset reads, nothing else."""

    def __init__(self, committed: int | None, acked: list[int]) -> None:
        tp = TP("t", 0)
        self.tp = tp
        self._acked = {tp: list(acked)}
        self._acked_index = {tp: set(acked)}
        self._gap = {tp: IntervalTree()}
        self._committed_offset = {tp: committed}


@pytest.mark.parametrize(
    ("committed", "acked", "commits"),
    [
        (10, [10, 11, 12], 13),  # the contiguous prefix: what everyone expects
        (10, [12, 13], None),  # a hole of two at the head: nothing is committed
        (10, [11, 12], 13),  # a hole of one at the head (offset 10) is committed past
        (None, [5, 6], 7),  # nothing committed yet: offsets 0-4 are committed past
        (0, [5, 6], 7),  # the same for a committed offset of 0
    ],
)
def test_faust_commits_past_one_unacknowledged_head_message(
    committed: int | None, acked: list[int], commits: int | None
) -> None:
    """Why the fold acknowledges strictly in read order (`risk_service/acks.py`): faust's gap
    check at the head of the acknowledged run is off by one and skipped for offset 0. If this
    fails, faust changed its commit rule: re-check acks.py (in-order release may be redundant)."""
    from faust.transport.consumer import Consumer

    offsets = _Offsets(committed, acked)
    assert Consumer._new_offset(offsets, offsets.tp) == commits  # type: ignore[arg-type]


class _Thread:
    """Records what faust's consumer-thread delegate is asked to run in its thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, tuple[object, ...]]] = []
        self.consumer = object()
        self.seeks: list[dict[TP, int]] = []

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        self.seeks.append(dict(partitions))

    def _ensure_consumer(self) -> object:
        return self.consumer

    async def _seek_wait(self, consumer: object, partitions: dict[TP, int]) -> None:
        raise AssertionError("must run through call_thread, not directly")

    async def call_thread(self, method: object, *args: object) -> None:
        self.calls.append((method, args))


async def test_seek_runs_in_the_consumer_thread() -> None:
    """`faust_adapter.seek` goes through `seek_wait`, which hands the seek to the consumer's
    thread (`call_thread`); `Consumer.seek` would run it in the caller's thread instead."""
    from faust.transport.consumer import ThreadDelegateConsumer
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    thread = _Thread()
    delegate = type(
        "Delegate", (), {"_thread": thread, "seek_wait": ThreadDelegateConsumer.seek_wait}
    )
    tp = TP("t", 3)
    await faust_adapter.seek(delegate(), tp, 41)
    assert thread.seeks == [{tp: 41}], "ThreadDelegateConsumer.seek_wait no longer delegates"

    await AIOKafkaConsumerThread.seek_wait(thread, {tp: 41})  # type: ignore[arg-type]
    assert len(thread.calls) == 1, "AIOKafkaConsumerThread.seek_wait no longer uses call_thread"
    method, args = thread.calls[0]
    assert getattr(method, "__name__", "") == "_seek_wait" and args == (thread.consumer, {tp: 41})


def test_the_recovery_progress_is_read_from_faust_s_recovery_service() -> None:
    """`app.tables.recovery` keeps `completed`, `in_recovery` and, per active changelog
    partition, the last offset applied and the highwater it reads up to."""
    from collections import Counter

    app = faust.App("adapter-test", broker="kafka://127.0.0.1:1", store="memory://")
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    assert isinstance(recovery.active_offsets, Counter)
    assert isinstance(recovery.active_highwaters, Counter)
    assert faust_adapter.recovering(app), "not completed before the first recovery"
    assert faust_adapter.recovery_progress(app) == (False, {}, {})
    tp = TP("changelog", 4)
    recovery.in_recovery = True
    recovery.active_offsets[tp] = 2
    recovery.active_highwaters[tp] = 6
    assert faust_adapter.recovery_progress(app) == (True, {tp: 2}, {tp: 6})
    recovery.active_offsets[TP("changelog", 5)] = None  # type: ignore[assignment]  # seen while faust builds them
    assert faust_adapter.recovery_progress(app) == (True, {tp: 2}, {tp: 6})
    recovery.in_recovery = False
    recovery.completed.set()
    assert not faust_adapter.recovering(app)


async def test_reread_resumes_then_seeks_in_the_consumer_thread() -> None:
    calls: list[tuple[str, object]] = []

    class _Delegate:
        def resume_partitions(self, tps: list[TP]) -> None:
            calls.append(("resume", sorted(tps)))

        async def seek_wait(self, partitions: dict[TP, int]) -> None:
            calls.append(("seek_wait", partitions))

    tp = TP("changelog", 4)
    await faust_adapter.reread(_Delegate(), {tp: 0})
    assert calls == [("resume", [tp]), ("seek_wait", {tp: 0})]
    from faust.transport.consumer import Consumer as FaustConsumer

    assert callable(getattr(FaustConsumer, "resume_partitions", None)), "faust renamed it"
