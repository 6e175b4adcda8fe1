"""`sentinel replay EVENTS.jsonl [--speed N | --rate N]`: produce a JSON Lines file into Kafka.

Each event goes to the input topic of its type, keyed as the topic contract says (material, or
measure_id for export controls), with its original bytes (stripped of surrounding whitespace)
and no headers: the replay is an ordinary producer, the risk service orders events by the event
time in their payload. Bad lines (invalid JSON, schema violations, materials not in the catalog)
are reported on stderr and skipped, exactly the lines the backtest skips.

A broker outage is ridden out rather than fatal: batches of one partition are sent and retried in
order (aiokafka keeps one batch per partition in flight), a batch waits for the broker for up to
`--delivery-timeout` seconds, and a send that aiokafka refuses at once while
the cluster is unreachable (connection refused, leader not available, buffer full) is retried
with backoff until the same deadline -- before the next message is sent, so nothing overtakes
it in its partition. Whatever is not acknowledged within the deadline is reported at the end
(count, first line numbers, error) and the exit code is 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError

from ..catalog.model import Catalog
from ..config import Settings
from ..contracts.events import ExportControl, InputEvent, parse_event
from ..topics import (
    INPUT_TOPIC_OF_TYPE,
    INPUT_TOPICS,
)

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

T = TypeVar("T")

DEFAULT_DELIVERY_TIMEOUT_S = 120.0
MAX_IN_FLIGHT = 10_000
"""Unacknowledged messages held before the replay waits for the oldest ones."""
METADATA_RETRY_BACKOFF_S = 0.5
"""Pause after a failed metadata update (aiokafka itself retries at once, in a tight loop)."""
SHOWN_FAILURES = 5
"""Undelivered messages listed one by one in the final report."""


@dataclass(frozen=True, slots=True)
class Planned:
    """One message to produce: source line, logical topic, key, original bytes, event time."""

    line_no: int
    topic: str
    key: bytes
    value: bytes
    occurred_at: float


@dataclass(frozen=True, slots=True)
class BadLine:
    line_no: int
    reason: str
    message: str


def plan(lines: Iterator[str], catalog: Catalog) -> Iterator[Planned | BadLine]:
    """Pure: the message for each good line of a file, in file order, and each bad line."""
    for line_no, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            event: InputEvent = parse_event(text)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            reason = "invalid_json" if first["type"] == "json_invalid" else "schema_violation"
            path = ".".join(str(p) for p in first["loc"])
            yield BadLine(line_no, reason, f"{path}: {first['msg']}" if path else first["msg"])
            continue
        if isinstance(event, ExportControl):
            materials = list(dict.fromkeys(event.materials))
            key = event.measure_id
        else:
            materials = [event.material]
            key = event.material
        unknown = [m for m in materials if m not in catalog.materials]
        if unknown:
            yield BadLine(line_no, "unknown_material", f"not in the catalog: {', '.join(unknown)}")
            continue
        yield Planned(
            line_no,
            INPUT_TOPIC_OF_TYPE[event.type].name,
            key.encode(),
            text.encode(),
            event.occurred_at.timestamp(),
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("events", type=Path, help="JSON Lines file of input events")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed", type=float, help="follow event time, N times faster than real time"
    )
    pace.add_argument("--rate", type=float, help="produce at most N events per second")
    parser.add_argument(
        "--delivery-timeout",
        type=float,
        default=DEFAULT_DELIVERY_TIMEOUT_S,
        metavar="SECONDS",
        help="how long a message may wait for an unreachable broker before it counts as not "
        f"delivered (default {DEFAULT_DELIVERY_TIMEOUT_S:g})",
    )
    parser.add_argument("--bootstrap", default=None, help="Kafka bootstrap (default: settings)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


@dataclass(frozen=True, slots=True)
class Undelivered:
    line_no: int
    error: str


@dataclass
class Outcome:
    delivered: int = 0
    bad: int = 0
    undelivered: list[Undelivered] = field(default_factory=list)


class GaveUp(Exception):
    """The broker stayed unreachable past the delivery deadline before anything was sent."""


def run(args: argparse.Namespace) -> int:
    from ..catalog.loader import load_catalog
    from ..logkit import install_rate_limit

    source: Path = args.events
    if not source.is_file():
        print(f"sentinel replay: no such file: {source}", file=sys.stderr)
        return 2
    if (args.speed is not None and args.speed <= 0) or (args.rate is not None and args.rate <= 0):
        print("sentinel replay: --speed and --rate must be positive", file=sys.stderr)
        return 2
    if args.delivery_timeout <= 0:
        print("sentinel replay: --delivery-timeout must be positive", file=sys.stderr)
        return 2
    settings = Settings()
    if args.bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap": args.bootstrap})
    # aiokafka logs every failed connection attempt; one line per cause per interval is enough.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    limited = install_rate_limit(settings.log_rate_limit_s)
    try:
        outcome = asyncio.run(_produce(args, source, settings, load_catalog()))
    except GaveUp as error:
        print(f"sentinel replay: {error}; nothing was replayed", file=sys.stderr)
        return 1
    finally:
        if limited is not None:
            limited.uninstall()  # reports what it held back
    failures = outcome.undelivered
    summary = f"replayed {outcome.delivered} events from {source}, {outcome.bad} bad lines skipped"
    if not failures:
        print(summary)
        return 0
    print(f"{summary}, {len(failures)} NOT delivered")
    shown = ", ".join(str(f.line_no) for f in failures[:SHOWN_FAILURES])
    more = ", ..." if len(failures) > SHOWN_FAILURES else ""
    print(
        f"sentinel replay: {len(failures)} events not delivered "
        f"(delivery timeout {args.delivery_timeout:g} s; lines {shown}{more}):",
        file=sys.stderr,
    )
    for failure in failures[:SHOWN_FAILURES]:
        print(f"  {source}:{failure.line_no}: {failure.error}", file=sys.stderr)
    return 1


async def _produce(
    args: argparse.Namespace, source: Path, settings: Settings, catalog: Catalog
) -> Outcome:
    from tqdm import tqdm

    from ..kafka_admin import ensure_configured_topics

    timeout_s: float = args.delivery_timeout
    topics = [f"{settings.topic_prefix}{spec.name}" for spec in INPUT_TOPICS]
    retry = _Retrier(timeout_s)
    await retry("creating topics", lambda: ensure_configured_topics(settings, INPUT_TOPICS))
    producer = await retry("connecting", lambda: _started_producer(settings, timeout_s, topics))
    outcome = Outcome()
    failures = outcome.undelivered
    pending: deque[tuple[int, float, asyncio.Future[object]]] = deque()
    started = time.monotonic()
    first_event_time: float | None = None
    given_up: str | None = None

    async def settle(keep: int) -> None:
        """Account for the oldest in-flight messages until at most `keep` remain."""
        while len(pending) > keep:
            line_no, sent_at, future = pending[0]
            if not future.done():
                wait = sent_at + timeout_s - time.monotonic()
                await asyncio.wait([future], timeout=max(0.0, wait))
            pending.popleft()
            if not future.done():
                failures.append(Undelivered(line_no, f"not acknowledged within {timeout_s:g} s"))
            elif future.cancelled():
                failures.append(Undelivered(line_no, "cancelled"))
            elif (error := future.exception()) is not None:
                failures.append(Undelivered(line_no, _describe(error)))
            else:
                outcome.delivered += 1

    try:
        with (
            source.open(encoding="utf-8", errors="replace") as handle,
            tqdm(
                total=source.stat().st_size,
                unit="B",
                unit_scale=True,
                desc="replay",
                file=sys.stderr,
                disable=args.no_progress or not sys.stderr.isatty(),
            ) as bar,
        ):

            def lines() -> Iterator[str]:
                for line in handle:
                    bar.update(len(line.encode("utf-8")))
                    yield line

            sent = 0
            for item in plan(lines(), catalog):
                if isinstance(item, BadLine):
                    outcome.bad += 1
                    print(
                        f"{source}:{item.line_no}: {item.reason}: {item.message}", file=sys.stderr
                    )
                    continue
                if given_up is not None:
                    failures.append(Undelivered(item.line_no, given_up))
                    continue
                if first_event_time is None:
                    first_event_time = item.occurred_at
                due = _due(args, sent, item.occurred_at - first_event_time)
                wait = started + due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)  # pacing the feed, not synchronisation
                topic = f"{settings.topic_prefix}{item.topic}"
                try:
                    future = await retry(
                        f"sending line {item.line_no}",
                        partial(producer.send, topic, value=item.value, key=item.key),
                    )
                except GaveUp as error:
                    # The cluster was unreachable for the whole deadline: stop sending, so the
                    # rest of the file does not each wait out a deadline of its own.
                    failures.append(Undelivered(item.line_no, str(error)))
                    given_up = f"not sent: gave up after line {item.line_no}"
                    continue
                except Exception as error:  # a non-retriable refusal of this one message
                    failures.append(Undelivered(item.line_no, _describe(error)))
                    continue
                pending.append((item.line_no, time.monotonic(), future))
                sent += 1
                if len(pending) >= MAX_IN_FLIGHT:
                    await settle(MAX_IN_FLIGHT // 2)
            await settle(0)
    finally:
        await _stop(producer)
    failures.sort(key=lambda f: f.line_no)
    return outcome


async def _started_producer(
    settings: Settings, timeout_s: float, topics: list[str]
) -> AIOKafkaProducer:
    """A producer whose batches wait up to `timeout_s` for the broker, started and holding
    metadata for every input topic (so a send during an outage need not fetch any).

    Not idempotent: aiokafka 0.14's idempotent producer fails every batch after a broker restart
    with OutOfOrderSequenceNumber (measured: 671 of 673 events refused), while a plain retry
    at worst writes a batch twice, and the risk service treats a repeated event id as a
    duplicate that causes nothing."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        linger_ms=5,
        # aiokafka's only per-batch deadline: a batch is failed once it is this old and its
        # partition still has no leader (as right after a broker restart). It also bounds one
        # request, which matters only for a broker that hangs without closing its connections.
        request_timeout_ms=int(timeout_s * 1000),
        retry_backoff_ms=250,
        metadata_max_age_ms=30_000,
    )
    _back_off_failed_metadata_updates(producer, METADATA_RETRY_BACKOFF_S)
    try:
        await producer.start()
        for topic in topics:
            await producer.partitions_for(topic)
    except BaseException:
        await _stop(producer)
        raise
    return producer


def _back_off_failed_metadata_updates(producer: AIOKafkaProducer, seconds: float) -> None:
    """Pause after a failed metadata update before the next one may start.

    While a partition has no known leader (as after the broker's controlled shutdown),
    aiokafka 0.14's sender asks for a metadata update on every loop and the update fails at once
    with the broker gone: about a thousand connection attempts a second, each logged, which also
    makes a connection to itself likely once the broker's port is in the ephemeral range.
    """
    client = producer.client
    update = getattr(client, "_metadata_update", None)
    if update is None:  # another aiokafka: nothing to wrap
        return

    async def update_with_backoff(*args: object, **kwargs: object) -> object:
        updated = await update(*args, **kwargs)
        if not updated:
            await asyncio.sleep(seconds)  # retry backoff while the broker is away
        return updated

    client._metadata_update = update_with_backoff


async def _stop(producer: AIOKafkaProducer) -> None:
    """Stop the producer; it flushes, which never ends while a batch waits for a dead broker."""
    try:
        await asyncio.wait_for(producer.stop(), timeout=10.0)
    except TimeoutError:
        print("sentinel replay: the producer did not flush within 10 s", file=sys.stderr)


class _Retrier:
    """Retry an operation that fails while the cluster is unreachable, with backoff, until
    `timeout_s` after its first attempt; says on stderr when the broker went away and came back.
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.outage_since: float | None = None

    async def __call__(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        deadline = time.monotonic() + self.timeout_s
        backoff = 0.1
        while True:
            remaining = deadline - time.monotonic()
            try:
                result = await asyncio.wait_for(attempt(), timeout=max(0.001, remaining))
            except Exception as error:
                if not _retriable(error):
                    raise
                if time.monotonic() + backoff >= deadline:
                    raise GaveUp(
                        f"{what}: broker unreachable for {self.timeout_s:g} s "
                        f"(last error: {_describe(error)})"
                    ) from error
                if self.outage_since is None:
                    self.outage_since = time.monotonic()
                    print(
                        f"sentinel replay: {what}: {_describe(error)}; retrying for up to "
                        f"{self.timeout_s:g} s",
                        file=sys.stderr,
                        flush=True,
                    )
                await asyncio.sleep(backoff)  # retry backoff while the broker is away
                backoff = min(backoff * 2, 2.0)
                continue
            if self.outage_since is not None:
                print(
                    f"sentinel replay: broker reachable again after "
                    f"{time.monotonic() - self.outage_since:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
                self.outage_since = None
            return result


def _retriable(error: BaseException) -> bool:
    from aiokafka.errors import KafkaError, KafkaTimeoutError

    if isinstance(error, KafkaTimeoutError | TimeoutError | ConnectionError):
        return True  # buffer full, or the attempt outlived the deadline's remainder
    return isinstance(error, KafkaError) and bool(error.retriable)


def _describe(error: BaseException) -> str:
    name, text = type(error).__name__, str(error)
    if not text:
        return name
    return text if text.startswith(name) else f"{name}: {text}"


def _due(args: argparse.Namespace, index: int, event_offset_s: float) -> float:
    """Seconds after the start at which message `index` may be sent."""
    if args.rate:
        return float(index / args.rate)
    if args.speed:
        return max(0.0, event_offset_s / float(args.speed))
    return 0.0
