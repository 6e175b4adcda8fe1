"""Fold a JSON Lines event file through the risk core, as the stream would.

Every line is checked by `ingest.classify`, the rules the stream and the HTTP intake apply, so a
bad line here is exactly a message they would dead-letter: it is recorded with its line number,
reason and message, and skipped (if an export control names any unknown material the whole line
is rejected). The valid events are then applied in the one total order of
`risk.ordering.order_key` (event time, event id, bytes), each to every material it names in the
order listed (the stream re-keys it per material) -- so any line order of a file gives the same
outputs. Pure apart from reading the iterable: no clock (the caller passes `now`), no files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from ..catalog.model import Catalog
from ..config import Settings
from ..contracts.events import InputEvent, PriceObserved
from ..contracts.outputs import Alert, RiskSnapshot, StockpileRecommendation
from ..ingest import Accepted, Rejected, classify, classify_contract, failure_line
from ..risk import MaterialState, Policy, apply_event, initial_state
from ..risk.ordering import order_key
from ..risk.policy import protocol_version

MAX_CHART_POINTS = 20_000


@dataclass(frozen=True, slots=True)
class BadLine:
    line_no: int
    reason: str
    """The dead-letter reason: invalid_json, schema_violation, unknown_material,
    past_timestamp, future_timestamp, too_large, undecodable; processing_error for an event
    the core raised on (undone, as the stream does)."""
    message: str


@dataclass(slots=True)
class BacktestResult:
    alerts: list[Alert] = field(default_factory=list)
    recommendations: list[StockpileRecommendation] = field(default_factory=list)
    snapshots: list[RiskSnapshot] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)
    events: int = 0
    """Valid events applied (an export control counts once, however many materials it names)."""
    states: dict[str, MaterialState] = field(default_factory=dict)
    prices: dict[str, dict[tuple[str, ...], list[tuple[datetime, float]]]] = field(
        default_factory=dict
    )
    """Price prints per material and series (thinned beyond MAX_CHART_POINTS), for charts."""
    protocol: str = ""
    """Version of the deployment protocol the run applied (docs/policy.md)."""


def _record_price(result: BacktestResult, event: PriceObserved) -> None:
    series = result.prices.setdefault(event.material, {}).setdefault(event.series_key, [])
    series.append((event.observed_at, event.price))
    if len(series) > MAX_CHART_POINTS:
        del series[1::2]


DEFAULT_MAX_EVENT_BYTES: int = Settings.model_fields["risk_max_event_bytes"].default
DEFAULT_MAX_FUTURE_S: float = Settings.model_fields["max_future_s"].default


def _bytes(line: str | bytes) -> bytes:
    # surrogatepass: a lone surrogate becomes invalid UTF-8, an `undecodable` bad line
    return line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")


def _message(rejected: Rejected) -> str:
    first = rejected.errors[0]
    return f"{first.path}: {first.message}" if first.path else first.message


def _refolded(
    material: str, events: Iterable[InputEvent], catalog: Catalog, policy: Policy
) -> MaterialState:
    """A material's state from its events applied so far, without the one that raised: the
    core may have changed the state half-way before raising (rare: a bug, not bad input)."""
    state = initial_state(material)
    for event in events:
        apply_event(state, event, catalog, policy)
    return state


def run_backtest(
    lines: Iterable[str | bytes],
    catalog: Catalog,
    policy: Policy,
    *,
    now: float | None = None,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> BacktestResult:
    """Check every line, apply the valid events in the total order; outputs in produced order.

    `now` is the wall-clock time (seconds since the epoch) against which an event time more
    than `max_future_s` ahead is a `future_timestamp` bad line, as at the stream's intake;
    `now=None` skips only that bound (a replay of recorded history); every other rule, the
    contract's years 1900-2999 included, always applies. Blank lines are skipped.
    """
    result = BacktestResult(protocol=protocol_version(policy))
    valid: list[tuple[int, Accepted]] = []
    for line_no, line in enumerate(lines, start=1):
        raw = _bytes(line)
        if not raw.strip():
            continue
        if now is None:
            checked = classify_contract(raw, catalog, max_bytes=max_event_bytes)
        else:
            checked = classify(
                raw, catalog, max_bytes=max_event_bytes, now=now, max_future_s=max_future_s
            )
        if isinstance(checked, Rejected):
            result.bad_lines.append(BadLine(line_no, checked.reason, _message(checked)[:500]))
        else:
            valid.append((line_no, checked))
    valid.sort(key=lambda numbered: order_key(numbered[1].event, numbered[1].raw))
    states = result.states
    applied: dict[str, list[InputEvent]] = {}
    for line_no, accepted in valid:
        event = accepted.event
        result.events += 1
        if isinstance(event, PriceObserved):
            _record_price(result, event)
        for material in accepted.materials:
            state = states.get(material)
            if state is None:
                state = states[material] = initial_state(material)
            try:
                _, outputs = apply_event(state, event, catalog, policy)
            except Exception as error:  # as the stream: undo the event, dead-letter it
                result.bad_lines.append(BadLine(line_no, "processing_error", failure_line(error)))
                states[material] = _refolded(material, applied.get(material, ()), catalog, policy)
                continue
            applied.setdefault(material, []).append(event)
            if outputs.snapshot is not None:
                result.snapshots.append(outputs.snapshot)
            result.alerts.extend(outputs.alerts)
            result.recommendations.extend(outputs.recommendations)
    return result
