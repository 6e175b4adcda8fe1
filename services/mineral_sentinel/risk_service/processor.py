"""Fold one released record into a material's slot. Pure.

The merge hands records over in the total order (`risk.ordering`); this step decides what a
record is for the material's state:
- newer than the newest event applied: it goes through the core (the normal case);
- not newer, and the ring remembers its event id *from the same input coordinate*: a re-read
  after a crash or a rebalance. Its outputs are returned again, byte-identical, because their
  first sending may have been lost;
- not newer, id already seen from elsewhere: a second event with the same id, which (as in the
  backtest) causes nothing;
- not newer and never seen: a *late* event (its source was idle for longer than the idle time,
  or a producer wrote it out of order). It is applied and counted: the core folds an older event
  into the parts of the state it concerns and evaluates at the state's clock, which keeps late
  export controls and shipments rather than losing them. Outputs then differ from a backtest of
  the same events, which would have applied it in order; the metric says how often.
What the core caused is serialized once, remembered in the ring and returned for sending.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..catalog.model import Catalog
from ..contracts.events import InputEvent
from ..contracts.outputs import RiskSnapshot
from ..risk import Policy, apply_event
from ..risk.ordering import OrderKey
from .slot import MaterialSlot, OutputKind


@dataclass(frozen=True, slots=True)
class Emission:
    kind: OutputKind
    value: bytes


@dataclass(slots=True)
class StepResult:
    emissions: list[Emission] = field(default_factory=list)
    applied: bool = False
    redelivered: bool = False
    late: bool = False
    duplicate: bool = False
    failure: str | None = None
    """Why the core refused the event (it validates before it mutates)."""
    alerts: list[tuple[str, str]] = field(default_factory=list)
    """(severity, status) of each alert emitted, for metrics."""
    actions: list[str] = field(default_factory=list)
    """action of each recommendation emitted, for metrics."""
    snapshot: RiskSnapshot | None = None
    """The snapshot emitted by this step, for the per-material gauges."""


def step(
    slot: MaterialSlot,
    key: OrderKey,
    event: InputEvent,
    coordinate: str,
    catalog: Catalog,
    policy: Policy,
) -> StepResult:
    result = StepResult()
    last = slot.last_key
    if last is not None and key <= last:
        entry = slot.ring.get(event.event_id)
        if entry is not None and entry.coordinate == coordinate:
            result.redelivered = True
            result.emissions.extend(Emission(kind, value) for kind, value in entry.outputs)
            return result
        if event.event_id in slot.state.seen:
            result.duplicate = True
            return result
        result.late = True
    else:
        slot.last_key = key
    _apply(slot, event, coordinate, catalog, policy, result)
    return result


def _apply(
    slot: MaterialSlot,
    event: InputEvent,
    coordinate: str,
    catalog: Catalog,
    policy: Policy,
    result: StepResult,
) -> None:
    if event.event_id in slot.state.seen:
        result.duplicate = True
        return
    try:
        _, outputs = apply_event(slot.state, event, catalog, policy)
    except (KeyError, ValueError) as error:  # the core validates before it mutates
        result.failure = f"{type(error).__name__}: {error}"
        return
    result.applied = True
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
    slot.remember(event.event_id, coordinate, tuple(made))
    result.emissions.extend(Emission(kind, value) for kind, value in made)


Step = tuple[OrderKey, InputEvent, str]
"""What `step` was given for one record: order key, event, input coordinate."""


def rebuilt(
    stored: MaterialSlot, steps: Iterable[Step], catalog: Catalog, policy: Policy
) -> MaterialSlot:
    """The slot as it was just before a step that raised: `stored` (the value before the batch)
    with the batch's earlier steps applied again. A step that raises may have changed the slot
    half-way (the event marked seen, a series moved); a step is deterministic, so stepping the
    others again gives the state they left, without copying the slot before every step. Their
    outputs were sent already and are dropped here."""
    for key, event, coordinate in steps:
        step(stored, key, event, coordinate, catalog, policy)
    return stored
