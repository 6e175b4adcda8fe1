"""The Faust shell: the intake task and the stateful fold agent, and the table they share.

Everything here is I/O and bookkeeping; decisions live in `ingest`, `merge` and `processor`.
- The intake (`forwarder.Forwarder`, its own consumer group) validates each input message once
  and forwards it per material to the by-material topic, with every input partition's marks.
- The fold agent (faust, consumer group of the app, owns the table) feeds each by-material
  partition's envelopes to that partition's event-time merge and applies what the merge
  releases, in the total order, material by material: outputs are sent first, and the
  material's table value is written later, so a crash can only lose a table write, never
  outputs the table claims were made.
- The fold takes envelopes in batches (`SENTINEL_RISK_FOLD_WITHIN_S`). A material's table value
  is written at most once per `SENTINEL_RISK_TABLE_WRITE_INTERVAL_S` (`write_behind`): until
  then its slot lives in memory and its records are not counted off their envelopes. An
  envelope is acknowledged once every record in it has been applied *and written*, and every
  envelope read before it on its partition too (`acks`), so the committed offset never passes
  a record that waits in the merge or in an unwritten slot. After a crash the uncommitted
  envelopes are read again: records already in the stored value are recognised by their input
  coordinate, the others are applied again (the same outputs again: at least once).
Agent concurrency is 1 (faust can commit past an in-flight message otherwise); the service
scales by partitions and workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import faust
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faust.types import TP

from ..catalog.model import Catalog
from ..config import Settings
from ..contracts.events import InputEvent, parse_event
from ..contracts.outputs import LEVEL_ORDER, DeadLetterError, RiskSnapshot
from ..ingest import Rejected, dead_letter, failure_line
from ..risk import Policy, as_of, snapshot_of
from ..risk.ordering import OrderKey
from ..topics import ALERTS, DEAD_LETTER, INPUT_TOPICS, RECOMMENDATIONS, RISK
from . import faust_adapter, metrics
from .acks import HeldEnvelope, InOrderRelease
from .continuity import Continuity, Verdict
from .envelope import Forwarded, decode
from .forwarder import Forwarder, Handoff
from .merge import MergeState, new_merge, offer_mark, offer_record, release
from .processor import Step, StepResult, rebuilt, step
from .slot import MaterialSlot, OutputKind, decode_slot, encode_slot, new_slot
from .topology import BY_MATERIAL, MATERIAL_STATE_CHANGELOG, TABLE_NAME, intake_group_id
from .write_behind import WriteBehind

log = logging.getLogger(__name__)

ROCKSDB_OPTIONS = {
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "block_cache_size": 8 * 1024 * 1024,
}
"""Per partition database: a few dozen small values each, so faust's large defaults (sized for
big tables) would only cost memory."""
INTAKE_RESTART_S = 2.0
YIELD_EVERY = 500
"""Records the fold applies before it lets the event loop run other tasks: a merge can release
a whole backlog at once (100,000 records is seconds of work), and the HTTP API, the metrics
endpoint and the intake share the loop."""


Pending = tuple[Forwarded, HeldEnvelope]


class RiskAgents:
    """Owns the topics, the table, the merges and the decoded-slot cache of one worker."""

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
        self.outputs: dict[OutputKind, str] = {
            "risk": RISK.full_name(prefix),
            "alerts": ALERTS.full_name(prefix),
            "recommendations": RECOMMENDATIONS.full_name(prefix),
        }
        self.dead_letter_topic = DEAD_LETTER.full_name(prefix)
        for spec in INPUT_TOPICS:  # every series from the start, at 0: a rate, not a gap
            metrics.LATE_EVENTS.labels(spec.name)
        self.table = app.Table(
            TABLE_NAME,
            default=None,
            partitions=partitions,
            key_type=bytes,
            value_type=bytes,
            options=ROCKSDB_OPTIONS,
        )
        changelog = self.table.changelog_topic.get_topic_name()
        if changelog != MATERIAL_STATE_CHANGELOG.full_name(prefix):
            raise RuntimeError(  # the topic created before faust starts must be faust's
                f"faust names the changelog {changelog!r}, not "
                f"{MATERIAL_STATE_CHANGELOG.full_name(prefix)!r}: update topology.py"
            )
        self.handoff = Handoff()
        self.forwarder = Forwarder(
            settings,
            catalog,
            topics={spec.full_name(prefix): spec.name for spec in INPUT_TOPICS},
            by_material_topic=BY_MATERIAL.full_name(prefix),
            partitions=partitions,
            dead_letter_topic=self.dead_letter_topic,
            group_id=intake_group_id(prefix),
            handoff=self.handoff,
        )
        self.merges: dict[int, MergeState[Pending]] = {}
        self._sizes_seen: dict[int, tuple[tuple[str, int], ...]] = {}
        self.releases = InOrderRelease()
        self.continuity = Continuity()
        self.waiting: dict[int, dict[tuple[str, str], list[HeldEnvelope]]] = {}
        """(material, input coordinate) of each record buffered in a partition's merge -> the
        envelopes holding it (the one it came in, and copies read again meanwhile)."""
        self.quarantined: dict[str, str] = {}
        """material -> why its stored state cannot be used"""
        self._cache: dict[bytes, tuple[bytes, MaterialSlot]] = {}
        self.unwritten: WriteBehind[Any] = WriteBehind(settings.risk_table_write_interval_s)
        """Slots applied past their stored value, written at most every interval
        (`write_behind`)."""
        self.clock: Callable[[], float] = time.monotonic
        self._unyielded = 0
        """Records applied since the fold last let other tasks run (`YIELD_EVERY`)."""
        self._background: set[asyncio.Future[Any]] = set()
        self.positions: dict[TP, int] = {}
        """Next by-material offset to process per partition (for the lag gauge)."""

    # ---- wiring ------------------------------------------------------------------------------

    def register(self) -> None:
        self.app.agent(self.by_material, name="fold-by-material", concurrency=1)(self._fold)
        self.app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        self.app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]
        self.app.task(self._run_intake)

    async def _run_intake(self) -> None:
        """The intake for the worker's lifetime; restarted (with a pause) if it fails.

        aiokafka can let a CancelledError of its own out of a consumer call after a broker
        outage (seen: the group session expired while the broker was down). Only a cancel of
        this task itself (the worker stopping) ends the loop; anything else restarts it."""
        task = asyncio.current_task()
        while True:
            try:
                await self.forwarder.run()
            except asyncio.CancelledError:
                if task is None or task.cancelling():
                    raise
                log.warning("intake cancelled from inside the Kafka client; restarting")
            except Exception:
                log.exception("intake stopped; restarting in %s s", INTAKE_RESTART_S)
            self.forwarder.running.clear()
            self.forwarder.joined.clear()
            await asyncio.sleep(INTAKE_RESTART_S)  # back-off before reconnecting

    async def _on_revoked(self, sender: Any, revoked: Any, **_: Any) -> None:
        self._cache.clear()
        for tp in revoked:
            self.positions.pop(tp, None)

    async def _on_assigned(self, sender: Any, assigned: Any, **_: Any) -> None:
        """Forget the merges of partitions another worker folds now (it reads their
        unacknowledged envelopes again). The merges of partitions kept across the rebalance
        stay: faust revokes every partition at a rebalance but does not always deliver a kept
        partition's unacknowledged envelopes again, so their records must not be dropped.
        Every assigned partition is expected to start at its committed offset (`continuity`)."""
        topic = self.by_material.get_topic_name()
        mine = {tp.partition for tp in assigned if tp.topic == topic}
        dropped = self.unwritten.forget_partitions(mine)
        if dropped:
            log.info("dropped the unwritten state of %s (another worker folds them now)", dropped)
        for partition in list(self.merges):
            if partition not in mine:
                del self.merges[partition]
                self._sizes_seen.pop(partition, None)
                self.waiting.pop(partition, None)
                self.releases.forget(partition)
                metrics.MERGE_BUFFERED.labels(str(partition)).set(0)
        committed = await self._committed_offsets(topic, mine)
        for partition in range(self.settings.topic_partitions):
            if partition in mine:
                self.continuity.expect(partition, committed.get(partition))
            else:
                self.continuity.forget(partition)

    async def _committed_offsets(self, topic: str, partitions: set[int]) -> dict[int, int | None]:
        """The fold group's committed offsets (0 where nothing was committed: faust reads from
        the earliest); empty if the broker cannot say now (the first envelope read is taken)."""
        if not partitions:
            return {}
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        try:
            await admin.start()
            answer = await admin.list_consumer_group_offsets(
                self.app.conf.id, partitions=[TopicPartition(topic, p) for p in partitions]
            )
        except Exception as error:  # a broker hiccup must not fail the rebalance
            log.warning("committed offsets of the fold unknown (%s): not checking for holes", error)
            return {}
        finally:
            with contextlib.suppress(Exception):
                await admin.close()
        return {tp.partition: max(0, meta.offset) for tp, meta in answer.items()}

    # ---- the stateful fold ----------------------------------------------------------------------

    async def _fold(self, stream: Any) -> None:
        within = self.settings.risk_fold_within_s
        async for events in stream.take_events(self.settings.risk_fold_batch_size, within):
            await self._fold_batch(events)

    async def _fold_batch(self, events: Sequence[Any]) -> None:
        """Offer a batch of envelopes to their partitions' merges, apply what the merges
        release, then write the slots that are due (`write_behind`). Every envelope is held
        unacknowledged past the batch (`faust_adapter.hold`) and released in read order once
        its records are applied and written (`acks`)."""
        began = time.perf_counter()
        touched: dict[int, Any] = {}
        """partition -> an envelope event of it (table writes go to its partition)"""
        for event in events:
            message = event.message
            partition = message.partition
            if not await self._in_order(event):
                continue
            self.positions[message.tp] = message.offset + 1
            faust_adapter.hold(event)
            try:
                envelope = decode(event.value)
            except Exception as error:  # never die on input
                self.releases.hold(partition, event, 0)
                log.exception("undecodable envelope at %s@%s", message.tp, message.offset)
                await self._failure(None, event.value, message, "processing_error", repr(error))
                continue
            merge = self.merges.get(partition)
            if merge is None:
                merge = self.merges[partition] = new_merge(())
                self._sizes_seen.pop(partition, None)
            sizes = tuple(envelope.sizes.items())
            if self._sizes_seen.get(partition) != sizes:  # the same in nearly every envelope
                merge.expected.update(envelope.sources())
                self._sizes_seen[partition] = sizes
            waiting = self.waiting.setdefault(partition, {})
            fresh: list[Forwarded] = []
            again: list[tuple[str, str]] = []
            for record in envelope.records:
                ident = (record.material, record.coordinate)
                if ident in waiting:
                    again.append(ident)
                else:
                    fresh.append(record)
            # A copy read again while its records still wait (faust redelivers after a
            # rebalance) waits for them too: acknowledging it at once would let the committed
            # offset pass them.
            held = self.releases.hold(partition, event, len(fresh) + len(again))
            for ident in again:
                waiting[ident].append(held)
            for record in fresh:
                waiting[(record.material, record.coordinate)] = [held]
                offer_record(merge, record.source, record.key, record.written_ms, (record, held))
            for mark in envelope.marks:
                offer_mark(merge, mark.source, mark.time_us, mark.safe_ms)
            touched[partition] = event
        released: list[tuple[int, tuple[OrderKey, Pending]]] = []
        for partition in touched:
            merge = self.merges[partition]
            out = release(merge, limit=self.settings.risk_merge_buffer)
            if out.forced:
                metrics.MERGE_FORCED.inc(out.forced)
            metrics.MERGE_BUFFERED.labels(str(partition)).set(merge.buffered())
            released.extend((partition, item) for item in out.items)
        metrics.STAGE_SECONDS.labels("merge").inc(time.perf_counter() - began)
        if released:
            await self._apply_released(released, touched)
        self._write_due(self.clock())
        consumer = self.app.consumer
        for partition in self.releases.partitions():
            for held in self.releases.releasable(partition):
                faust_adapter.release_later(held.event, consumer)

    async def _in_order(self, event: Any) -> bool:
        """Whether to fold this envelope now; an envelope past a hole is set aside (held for
        good: the copy read after the seek is the one acknowledged) while the hole is read."""
        message = event.message
        expected = self.continuity.expected(message.partition)
        verdict = self.continuity.check(message.partition, message.offset)
        if verdict is Verdict.APPLY:
            return True
        if verdict is Verdict.ACCEPT_HOLE:
            missing = message.offset - (expected or message.offset)
            metrics.SKIPPED_ENVELOPES.inc(missing)
            log.error(
                "%s: offsets %s-%s never arrived after re-reads; going on without them",
                message.tp,
                expected,
                message.offset - 1,
            )
            return True
        faust_adapter.hold(event)
        if verdict is Verdict.SEEK and expected is not None:
            metrics.REREAD_HOLES.inc()
            log.warning(
                "%s: envelope %s read before %s; reading from %s again",
                message.tp,
                message.offset,
                expected,
                expected,
            )
            try:
                await faust_adapter.seek(self.app.consumer, message.tp, expected)
            except Exception as error:  # a rebalance took the partition; it is expected anew
                log.warning("%s: seeking to %s failed (%r)", message.tp, expected, error)
        return False

    async def _apply_released(
        self, released: list[tuple[int, tuple[OrderKey, Pending]]], touched: dict[int, Any]
    ) -> None:
        """Apply the released records material by material (they are counted off their
        envelopes when their slot is written)."""
        by_material: dict[str, list[tuple[OrderKey, Forwarded]]] = {}
        for _, (key, (record, _)) in released:
            by_material.setdefault(record.material, []).append((key, record))
        partition_of = {record.material: p for p, (_, (record, _)) in released}
        now = self.clock()
        for material, records in by_material.items():
            partition = partition_of[material]
            event = touched[partition]
            await self._apply_material(material, records, event, partition, now)

    def _write_due(self, now: float) -> None:
        """Write the slots whose interval is up; count their records off their envelopes."""
        due = self.unwritten.due(now)
        if not due:
            return
        began = time.perf_counter()
        for material in due:
            entry = self.unwritten.written(material)
            if entry is None:
                continue
            key = material.encode()
            faust_adapter.write_to_partition_of(entry.via)
            value = encode_slot(entry.slot)
            self.table[key] = value
            self._cache[key] = (value, entry.slot)
            self._count_off(entry.partition, entry.applied)
        metrics.STAGE_SECONDS.labels("table").inc(time.perf_counter() - began)
        metrics.UNWRITTEN_MATERIALS.set(len(self.unwritten))

    async def _apply_material(
        self,
        material: str,
        records: list[tuple[OrderKey, Forwarded]],
        event: Any,
        partition: int,
        now: float,
    ) -> None:
        """Apply a material's released records to its slot and send their outputs; the slot
        is written later (`_write_due`), and the records counted off their envelopes then."""
        message = event.message
        key = material.encode()
        applied = [(material, record.coordinate) for _, record in records]
        # faust's RocksDB store reads only the current event's partition (no fallback): a
        # material read in another partition's context is "never seen".
        faust_adapter.write_to_partition_of(event)
        slot = self.load(key)
        if material in self.quarantined:
            for _, record in records:
                why = f"material quarantined: {self.quarantined[material]}"
                await self._failure(key, record.raw, message, "unusable_state", why)
            self._count_off(partition, applied)
            return
        if slot is None:
            slot = new_slot(material)
        send = self.app.producer.send
        began = time.perf_counter()
        core = 0.0
        stepped: list[Step] = []
        latest: RiskSnapshot | None = None
        for order, record in records:
            self._unyielded += 1
            if self._unyielded >= YIELD_EVERY:
                self._unyielded = 0
                await asyncio.sleep(0)
            parsed = self._event(record)
            if parsed is None:
                await self._failure(key, record.raw, message, "processing_error", "unparseable")
                continue
            started = time.perf_counter()
            try:
                result = step(slot, order, parsed, record.coordinate, self.catalog, self.policy)
            except Exception as error:  # never die on input, never keep half of an event
                log.exception("fold failed for %s at %s", material, record.coordinate)
                metrics.EVENTS_UNDONE.inc()
                before = self.table.get(key)  # the stored value: what was applied since is known
                base = new_slot(material) if before is None else decode_slot(before)
                since = self.unwritten.steps(material) + stepped
                slot = rebuilt(base, since, self.catalog, self.policy)
                why = failure_line(error)
                await self._failure(key, record.raw, message, "processing_error", why)
                continue
            stepped.append((order, parsed, record.coordinate))
            elapsed = time.perf_counter() - started
            core += elapsed
            if result.late:
                log.warning(
                    "late event for %s from %s (applied out of event-time order)",
                    material,
                    record.coordinate,
                )
            for emission in result.emissions:
                await send(
                    self.outputs[emission.kind],
                    key,
                    emission.value,
                    partition=None,
                    timestamp=None,
                    headers=None,
                )
            self._observe(record, result, elapsed)
            if result.snapshot is not None:
                latest = result.snapshot
            if result.failure is not None:
                await self._failure(key, record.raw, message, "processing_error", result.failure)
        if latest is not None:  # gauges show the last value: once per material and batch
            set_material_gauges(
                material,
                latest.score,
                LEVEL_ORDER[latest.level],
                latest.supply_risk.value,
                latest.days_of_cover,
            )
        if partition in self.merges:
            self.unwritten.applied(material, partition, slot, event, now, stepped, applied)
        else:  # a rebalance took the partition while this batch yielded: the new owner
            # reads these envelopes again from the stored value; nothing of it is written here
            log.info("partition %s was reassigned while %s was folded", partition, material)
        metrics.STAGE_SECONDS.labels("core").inc(core)
        metrics.STAGE_SECONDS.labels("outputs").inc(time.perf_counter() - began - core)

    def _count_off(self, partition: int, applied: list[tuple[str, str]]) -> None:
        """These records are done with (written, or dead-lettered): their envelopes may go."""
        waiting = self.waiting.get(partition, {})
        for ident in applied:
            for holder in waiting.pop(ident, ()):
                holder.remaining -= 1

    def _event(self, record: Forwarded) -> InputEvent | None:
        """The model parsed at intake when this worker forwarded it; else parse the bytes."""
        event = self.handoff.take(record.coordinate)
        if event is not None:
            return event
        try:
            return parse_event(record.raw)
        except ValueError:
            return None

    async def _failure(
        self, key: bytes | None, raw: bytes | None, message: Any, reason: str, why: str
    ) -> None:
        rejected = Rejected(reason, (DeadLetterError(reason=reason, message=why[:2000]),))  # type: ignore[arg-type]
        metrics.EVENTS_INVALID.labels(BY_MATERIAL.name, reason).inc()
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

    def _observe(self, record: Forwarded, result: StepResult, elapsed: float) -> None:
        if result.applied:
            metrics.PROCESSING_SECONDS.observe(elapsed)
        metrics.INGEST_LAG_SECONDS.observe(max(0.0, time.time() - record.written_ms / 1000))
        if result.late:
            metrics.LATE_EVENTS.labels(record.topic).inc()
        if result.redelivered:
            metrics.REDELIVERED.inc()
        if result.duplicate:
            metrics.DUPLICATE_IDS.inc()
        for severity, status in result.alerts:
            metrics.ALERTS_EMITTED.labels(severity, status).inc()
        for action in result.actions:
            metrics.RECOMMENDATIONS.labels(action).inc()

    # ---- state access ----------------------------------------------------------------------------

    def load(self, key: bytes) -> MaterialSlot | None:
        """The fold's slot for a material: the unwritten one, else the stored value decoded
        (reusing the cache when the stored bytes match); None for a material never seen or
        quarantined."""
        pending = self.unwritten.slot(key.decode())
        if pending is not None:
            return pending
        value = self.table.get(key)
        if value is None:
            return None
        cached = self._cache.get(key)
        if cached is not None and cached[0] == value:
            return cached[1]
        slot = self._usable(key, value)
        if slot is not None:
            self._cache[key] = (value, slot)
        return slot

    def stored(self, key: bytes) -> MaterialSlot | None:
        """A fresh decode of the material's latest value, applied but maybe not written yet
        (for readers that must not share the fold's slot)."""
        pending = self.unwritten.slot(key.decode())
        value = encode_slot(pending) if pending is not None else self.table.get(key)
        return None if value is None else self._usable(key, value)

    def _usable(self, key: bytes, value: bytes) -> MaterialSlot | None:
        """Decode a stored value and check that every reader can use it; else quarantine."""
        material = key.decode(errors="replace")
        if material in self.quarantined:
            return None
        try:
            slot = decode_slot(value)
            as_of(slot.state)
            if slot.state.now is not None:
                snapshot_of(slot.state, self.catalog, self.policy)
        except Exception as error:
            self.quarantine(material, value, f"{type(error).__name__}: {error}")
            return None
        return slot

    def quarantine(self, material: str, value: bytes, why: str) -> None:
        """Stop using a material's stored state: log once, count, dead-letter the state bytes."""
        if material in self.quarantined:
            return
        self.quarantined[material] = why
        metrics.QUARANTINED.set(len(self.quarantined))
        log.error("quarantined %s: its stored state cannot be used (%s)", material, why)
        rejected = Rejected(
            "unusable_state",
            (DeadLetterError(reason="unusable_state", path=material, message=why[:2000]),),
        )
        letter = dead_letter(
            rejected,
            raw=value,
            key=material.encode(),
            topic=self.table.changelog_topic.get_topic_name(),
            partition=None,
            offset=None,
            received_at=datetime.now(UTC),
        )
        task = asyncio.ensure_future(
            self.app.producer.send(
                self.dead_letter_topic,
                material.encode(),
                letter,
                partition=None,
                timestamp=None,
                headers=None,
            )
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def logical_topic(self, name: str) -> str:
        return name[len(self.prefix) :] if self.prefix and name.startswith(self.prefix) else name

    def update_lag(self, highwater: Callable[[TP], int]) -> None:
        """Lag of the by-material partitions this worker folds (the intake reports its own)."""
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
