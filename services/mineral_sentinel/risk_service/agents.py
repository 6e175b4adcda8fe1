"""The Faust shell: intake agents (validate, dead-letter, re-key) and the stateful fold agent.

Everything here is I/O and bookkeeping; decisions live in `intake`, `sequencer` and `processor`.
The fold agent takes events in batches and writes each material's table value once per batch,
after sending that material's outputs (so a crash can only lose a table write, never outputs
the table claims were made). Agent concurrency is 1 everywhere (faust can commit past an
in-flight message otherwise); the service scales by partitions and workers.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import faust
from faust.streams import _current_event  # the context table stores read the partition from
from faust.types import TP

from ..catalog.model import Catalog
from ..config import Settings
from ..contracts.outputs import LEVEL_ORDER, DeadLetterError
from ..risk import Policy
from ..topics import DEAD_LETTER, INPUT_TOPICS, TopicSpec
from . import metrics
from .envelope import Keyed, chunks, decode, encode, read_sequence
from .intake import Rejected, classify, dead_letter, materials_of
from .processor import StepResult, step
from .slot import MaterialSlot, decode_slot, encode_slot, new_slot
from .topology import BY_MATERIAL

log = logging.getLogger(__name__)

ROCKSDB_OPTIONS = {
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "block_cache_size": 8 * 1024 * 1024,
}
"""Per partition database: a few dozen small values each, so faust's large defaults (sized for
big tables) would only cost memory."""


class RiskAgents:
    """Owns the topics, the table and the decoded-slot cache of one worker."""

    def __init__(
        self, app: faust.App, settings: Settings, catalog: Catalog, policy: Policy
    ) -> None:
        self.app = app
        self.settings = settings
        self.catalog = catalog
        self.policy = policy
        prefix = settings.topic_prefix
        self.prefix = prefix
        partitions = settings.topic_partitions
        self.inputs = {
            spec.name: app.topic(spec.full_name(prefix), partitions=partitions)
            for spec in INPUT_TOPICS
        }
        self.by_material = app.topic(BY_MATERIAL.full_name(prefix), partitions=partitions)
        self.outputs: dict[str, str] = {
            "risk": f"{prefix}minerals.risk.v1",
            "alerts": f"{prefix}minerals.alerts.v1",
            "recommendations": f"{prefix}minerals.stockpile-recommendations.v1",
        }
        self.dead_letter_topic = DEAD_LETTER.full_name(prefix)
        self.table = app.Table(
            "material-state",
            default=None,
            partitions=partitions,
            key_type=bytes,
            value_type=bytes,
            options=ROCKSDB_OPTIONS,
        )
        self._cache: dict[bytes, tuple[bytes, MaterialSlot]] = {}
        self.positions: dict[TP, int] = {}
        """Next offset to process per consumed partition (for the lag gauge)."""

    # ---- wiring ------------------------------------------------------------------------------

    def register(self) -> None:
        for spec in INPUT_TOPICS:
            self._register_intake(spec)
        self.app.agent(self.by_material, name="fold-by-material", concurrency=1)(self._fold)
        self.app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]

    def _register_intake(self, spec: TopicSpec) -> None:
        async def intake(stream: Any) -> None:
            async for events in stream.take_events(
                self.settings.risk_batch_size, self.settings.risk_batch_within_s
            ):
                pending: dict[str, list[Keyed]] = {}
                for event in events:
                    await self._intake_one(spec, event, pending)
                await self._forward(pending)

        self.app.agent(self.inputs[spec.name], name=f"intake-{spec.name}", concurrency=1)(intake)

    async def _on_revoked(self, sender: Any, revoked: Any, **_: Any) -> None:
        self._cache.clear()
        for tp in revoked:
            self.positions.pop(tp, None)

    # ---- intake --------------------------------------------------------------------------------

    async def _forward(self, pending: dict[str, list[Keyed]]) -> None:
        """One envelope per material (split if large), in arrival order within the material."""
        topic = self.by_material.get_topic_name()
        for material, items in pending.items():
            for chunk in chunks(items):
                await self.app.producer.send(
                    topic,
                    material.encode(),
                    encode(chunk),
                    partition=None,
                    timestamp=None,
                    headers=None,
                )

    async def _intake_one(
        self, spec: TopicSpec, event: Any, pending: dict[str, list[Keyed]]
    ) -> None:
        message = event.message
        raw: bytes | None = event.value
        self.positions[message.tp] = message.offset + 1
        try:
            result = classify(
                raw, self.catalog, max_bytes=self.settings.risk_max_event_bytes, topic=spec.name
            )
        except Exception as error:  # never die on input
            log.exception(
                "intake failed on %s[%s]@%s", message.topic, message.partition, message.offset
            )
            result = Rejected(
                "processing_error",
                (DeadLetterError(reason="processing_error", message=repr(error)[:2000]),),
            )
        if isinstance(result, Rejected):
            await self._dead_letter(spec.name, result, raw, event.key, message)
            return
        metrics.EVENTS_CONSUMED.labels(spec.name, result.type).inc()
        run, seqs = read_sequence(event.headers)
        produced_ms = int(message.timestamp * 1000) if message.timestamp else None
        for material in materials_of(result):
            seq = seqs.get(material)
            keyed = Keyed(
                material,
                raw or b"",
                spec.name,
                run if seq is not None else None,
                seq,
                produced_ms,
            )
            pending.setdefault(material, []).append(keyed)

    async def _dead_letter(
        self, source: str, rejected: Rejected, raw: bytes | None, key: bytes | None, message: Any
    ) -> None:
        metrics.EVENTS_INVALID.labels(source, rejected.reason).inc()
        value = dead_letter(
            rejected,
            raw=raw,
            key=key,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            received_at=datetime.now(UTC),
        )
        await self.app.producer.send(
            self.dead_letter_topic,
            message.topic.encode(),
            value,
            partition=None,
            timestamp=None,
            headers=None,
        )

    # ---- the stateful fold ----------------------------------------------------------------------

    async def _fold(self, stream: Any) -> None:
        async for events in stream.take_events(
            self.settings.risk_batch_size, self.settings.risk_fold_within_s
        ):
            groups: dict[bytes, list[Any]] = {}
            for event in events:
                groups.setdefault(event.key, []).append(event)
            for key, group in groups.items():
                await self._fold_group(key, group)

    async def _fold_group(self, key: bytes, group: list[Any]) -> None:
        _current_event.set(weakref.ref(group[-1]))  # table store picks this event's partition
        slot = self.load(key)
        if slot is None:
            slot = new_slot(key.decode())
        send = self.app.producer.send
        for event in group:
            message = event.message
            try:
                items = decode(event.value)
            except Exception as error:  # never die on input
                log.exception("undecodable envelope at %s@%s", message.tp, message.offset)
                await self._fold_failure(key, event.value, message, repr(error))
                continue
            for keyed in items:
                started = time.perf_counter()
                try:
                    result = step(
                        slot,
                        keyed,
                        self.catalog,
                        self.policy,
                        reorder_limit=self.settings.risk_reorder_buffer,
                    )
                except Exception as error:  # never die on input
                    log.exception("fold failed at %s@%s", message.tp, message.offset)
                    await self._fold_failure(key, keyed.raw, message, repr(error))
                    continue
                elapsed = time.perf_counter() - started
                for emission in result.emissions:
                    await send(
                        self.outputs[emission.kind],
                        key,
                        emission.value,
                        partition=None,
                        timestamp=None,
                        headers=None,
                    )
                self._observe(keyed, result, elapsed)
                for failure in result.failures:
                    await self._fold_failure(key, failure.raw, message, failure.message)
            self.positions[message.tp] = message.offset + 1
        value = encode_slot(slot)
        self.table[key] = value
        self._cache[key] = (value, slot)

    async def _fold_failure(self, key: bytes, raw: bytes | None, message: Any, why: str) -> None:
        rejected = Rejected(
            "processing_error",
            (DeadLetterError(reason="processing_error", message=why[:2000]),),
        )
        await self._dead_letter(BY_MATERIAL.name, rejected, raw, key, message)

    def _observe(self, keyed: Keyed, result: StepResult, elapsed: float) -> None:
        if result.applied:
            metrics.PROCESSING_SECONDS.observe(elapsed / result.applied)
        if keyed.produced_ms is not None:
            metrics.INGEST_LAG_SECONDS.observe(max(0.0, time.time() - keyed.produced_ms / 1000))
        if result.forced:
            metrics.REORDER_FORCED.inc(result.forced)
        if result.redelivered:
            metrics.REDELIVERED.inc()
        for severity, status in result.alerts:
            metrics.ALERTS_EMITTED.labels(severity, status).inc()
        for action in result.actions:
            metrics.RECOMMENDATIONS.labels(action).inc()
        snap = result.snapshot
        if snap is not None:
            set_material_gauges(
                snap.material,
                snap.score,
                LEVEL_ORDER[snap.level],
                snap.supply_risk.value,
                snap.days_of_cover,
            )

    # ---- state access ----------------------------------------------------------------------------

    def load(self, key: bytes) -> MaterialSlot | None:
        """The decoded slot for a material, reusing the cache when the stored bytes match."""
        value = self.table.get(key)
        if value is None:
            return None
        cached = self._cache.get(key)
        if cached is not None and cached[0] == value:
            return cached[1]
        slot = decode_slot(value)
        self._cache[key] = (value, slot)
        return slot

    def stored(self, key: bytes) -> MaterialSlot | None:
        """A fresh decode of the stored value (for readers that must not share the cache)."""
        value = self.table.get(key)
        return None if value is None else decode_slot(value)

    def logical_topic(self, name: str) -> str:
        return name[len(self.prefix) :] if self.prefix and name.startswith(self.prefix) else name

    def update_lag(self, highwater: Callable[[TP], int]) -> None:
        for tp, position in list(self.positions.items()):
            try:
                lag = max(0, highwater(tp) - position)
            except Exception:  # partition not fetched yet
                continue
            metrics.CONSUMER_LAG.labels(self.logical_topic(tp.topic), str(tp.partition)).set(lag)


def set_material_gauges(
    material: str, score: float, level: int, supply_risk: float, cover: float | None
) -> None:
    metrics.RISK_SCORE.labels(material).set(score)
    metrics.RISK_LEVEL.labels(material).set(level)
    metrics.SUPPLY_RISK.labels(material).set(supply_risk)
    if cover is not None:
        metrics.DAYS_OF_COVER.labels(material).set(cover)
