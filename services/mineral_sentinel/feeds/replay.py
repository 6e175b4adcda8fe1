"""`sentinel replay EVENTS.jsonl [--speed N | --rate N]`: produce a JSON Lines file into Kafka.

Each event goes to the input topic of its type, keyed as the topic contract says (material, or
measure_id for export controls), with its original bytes. Every message carries a replay run id
and, per material it concerns, a sequence number in file order (headers `sentinel-run`,
`sentinel-seq`): the risk service uses them to apply each material's events in file order even
though Kafka interleaves the four topics arbitrarily -- which is what makes a replay give the
same alerts as `sentinel backtest`. Bad lines (invalid JSON, schema violations, materials not in
the catalog) are reported on stderr and skipped, exactly the lines the backtest skips.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ..catalog.model import Catalog
from ..config import Settings
from ..contracts.events import ExportControl, InputEvent, parse_event
from ..risk_service.envelope import sequence_headers
from ..topics import EXPORT_CONTROLS, INPUT_TOPICS, PRICES, SHIPMENTS, STOCKPILE_POSITIONS

TOPIC_OF_TYPE = {
    "price_observed": PRICES,
    "shipment_updated": SHIPMENTS,
    "export_control": EXPORT_CONTROLS,
    "stockpile_position": STOCKPILE_POSITIONS,
}


@dataclass(frozen=True, slots=True)
class Planned:
    """One message to produce: logical topic, key, original bytes, headers, event time."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    occurred_at: float


@dataclass(frozen=True, slots=True)
class BadLine:
    line_no: int
    reason: str
    message: str


def plan(lines: Iterator[str], catalog: Catalog, run_id: str) -> Iterator[Planned | BadLine]:
    """Pure: the messages for a file's lines, numbered per material in file order."""
    counters: dict[str, int] = {}
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
        seqs = {}
        for material in materials:
            counters[material] = seqs[material] = counters.get(material, 0) + 1
        yield Planned(
            TOPIC_OF_TYPE[event.type].name,
            key.encode(),
            text.encode(),
            sequence_headers(run_id, seqs),
            event.occurred_at.timestamp(),
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("events", type=Path, help="JSON Lines file of input events")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed", type=float, help="follow event time, N times faster than real time"
    )
    pace.add_argument("--rate", type=float, help="produce at most N events per second")
    parser.add_argument("--run-id", default=None, help="replay run id (default: random)")
    parser.add_argument("--bootstrap", default=None, help="Kafka bootstrap (default: settings)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..catalog.loader import load_catalog

    source: Path = args.events
    if not source.is_file():
        print(f"sentinel replay: no such file: {source}", file=sys.stderr)
        return 2
    if (args.speed is not None and args.speed <= 0) or (args.rate is not None and args.rate <= 0):
        print("sentinel replay: --speed and --rate must be positive", file=sys.stderr)
        return 2
    settings = Settings()
    if args.bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap": args.bootstrap})
    run_id = args.run_id or uuid.uuid4().hex[:12]
    produced, bad = asyncio.run(_produce(args, source, settings, load_catalog(), run_id))
    print(f"replayed {produced} events from {source} (run {run_id}), {bad} bad lines skipped")
    return 0


async def _produce(
    args: argparse.Namespace, source: Path, settings: Settings, catalog: Catalog, run_id: str
) -> tuple[int, int]:
    from aiokafka import AIOKafkaProducer
    from tqdm import tqdm

    from ..kafka_admin import ensure_configured_topics

    await ensure_configured_topics(settings, INPUT_TOPICS)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
    await producer.start()
    produced = bad = 0
    pending = []
    started = time.monotonic()
    first_event_time: float | None = None
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

            for item in plan(lines(), catalog, run_id):
                if isinstance(item, BadLine):
                    bad += 1
                    print(
                        f"{source}:{item.line_no}: {item.reason}: {item.message}", file=sys.stderr
                    )
                    continue
                if first_event_time is None:
                    first_event_time = item.occurred_at
                due = _due(args, produced, item.occurred_at - first_event_time)
                wait = started + due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)  # pacing the feed, not synchronisation
                pending.append(
                    await producer.send(
                        f"{settings.topic_prefix}{item.topic}",
                        value=item.value,
                        key=item.key,
                        headers=item.headers,
                    )
                )
                produced += 1
                if len(pending) >= 10_000:
                    await asyncio.gather(*pending)
                    pending.clear()
            await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return produced, bad


def _due(args: argparse.Namespace, index: int, event_offset_s: float) -> float:
    """Seconds after the start at which message `index` may be sent."""
    if args.rate:
        return float(index / args.rate)
    if args.speed:
        return max(0.0, event_offset_s / float(args.speed))
    return 0.0
