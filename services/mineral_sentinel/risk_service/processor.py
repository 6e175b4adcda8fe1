"""One step of the stateful agent: fold one re-keyed message into a material's slot. Pure.

Order: the sequencer decides what may be applied; each released event goes through the core;
what it caused is serialized once, remembered in the slot's ring and returned for sending. A
sequenced message that was already applied (a redelivery after a crash) returns the ring's
bytes for that event again, byte-identical, because its first sending may have been lost. A
sequenced event whose id repeats an earlier *different* line of the file is a genuine
duplicate and, like in the backtest, causes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from ..catalog.model import Catalog
from ..contracts.events import parse_event
from ..contracts.outputs import RiskSnapshot
from ..risk import Policy, apply_event
from . import sequencer
from .envelope import Keyed
from .slot import MaterialSlot, OutputKind


@dataclass(frozen=True, slots=True)
class Emission:
    kind: OutputKind
    value: bytes


@dataclass(frozen=True, slots=True)
class Failure:
    raw: bytes
    message: str


@dataclass(slots=True)
class StepResult:
    emissions: list[Emission] = field(default_factory=list)
    applied: int = 0
    redelivered: bool = False
    forced: int = 0
    failures: list[Failure] = field(default_factory=list)
    alerts: list[tuple[str, str]] = field(default_factory=list)
    """(severity, status) of each alert emitted, for metrics."""
    actions: list[str] = field(default_factory=list)
    """action of each recommendation emitted, for metrics."""
    snapshot: RiskSnapshot | None = None
    """The latest snapshot emitted by this step, for the per-material gauges."""


def step(
    slot: MaterialSlot, keyed: Keyed, catalog: Catalog, policy: Policy, *, reorder_limit: int
) -> StepResult:
    result = StepResult()
    decision = sequencer.offer(slot.sequencer, keyed.run, keyed.seq, keyed.raw, limit=reorder_limit)
    result.forced = decision.forced
    if decision.redelivered:
        result.redelivered = True
        _replay_ring(slot, keyed.raw, result)
        return result
    live = keyed.seq is None
    for raw in decision.release:
        _apply(slot, raw, catalog, policy, result, redeliverable=live)
    return result


def _event_id(raw: bytes) -> str | None:
    try:
        return parse_event(raw).event_id
    except ValidationError:
        return None


def _replay_ring(slot: MaterialSlot, raw: bytes, result: StepResult) -> None:
    event_id = _event_id(raw)
    if event_id is not None:
        for kind, value in slot.ring.get(event_id, ()):
            result.emissions.append(Emission(kind, value))


def _apply(
    slot: MaterialSlot,
    raw: bytes,
    catalog: Catalog,
    policy: Policy,
    result: StepResult,
    *,
    redeliverable: bool,
) -> None:
    try:
        event = parse_event(raw)
    except ValidationError as error:
        result.failures.append(Failure(raw, f"unparseable after intake: {error}"))
        return
    if event.event_id in slot.state.seen:
        if redeliverable:
            _replay_ring(slot, raw, result)
        return
    try:
        _, outputs = apply_event(slot.state, event, catalog, policy)
    except (KeyError, ValueError) as error:  # the core validates before it mutates
        result.failures.append(Failure(raw, f"{type(error).__name__}: {error}"))
        return
    result.applied += 1
    if not outputs:
        return
    made: list[tuple[OutputKind, bytes]] = []
    if outputs.snapshot is not None:
        made.append(("risk", outputs.snapshot.model_dump_json().encode()))
        result.snapshot = outputs.snapshot
    for alert in outputs.alerts:
        value = alert.model_dump_json().encode()
        made.append(("alerts", value))
        slot.record_alert(alert.alert_id, value)
        result.alerts.append((alert.severity, alert.status))
    for rec in outputs.recommendations:
        value = rec.model_dump_json().encode()
        made.append(("recommendations", value))
        slot.recommendations.append(value)
        result.actions.append(rec.action)
    slot.remember(event.event_id, tuple(made))
    result.emissions.extend(Emission(kind, value) for kind, value in made)
