"""Fold a JSON Lines event file through the risk core, as the stream would.

Events are applied in file order (a stream processes each material's events in arrival order);
an export control is applied once per material it names, in the order listed (the stream re-keys
it per material). A bad line -- invalid JSON, schema violation, a material not in the catalog --
is recorded with its line number and reason and skipped; if an export control names any unknown
material the whole line is rejected, as the stream dead-letters the message. Pure apart from
reading the iterable: no clock, no files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from ..catalog.model import Catalog
from ..contracts.events import ExportControl, PriceObserved, parse_event
from ..contracts.outputs import Alert, RiskSnapshot, StockpileRecommendation
from ..risk import MaterialState, Policy, apply_event, initial_state

MAX_CHART_POINTS = 20_000


@dataclass(frozen=True, slots=True)
class BadLine:
    line_no: int
    reason: str
    """invalid_json, schema_violation or unknown_material (the dead-letter vocabulary)."""
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


def _classify(error: ValidationError) -> tuple[str, str]:
    first = error.errors()[0]
    reason = "invalid_json" if first["type"] == "json_invalid" else "schema_violation"
    path = ".".join(str(p) for p in first["loc"])
    return reason, f"{path}: {first['msg']}" if path else first["msg"]


def _record_price(result: BacktestResult, event: PriceObserved) -> None:
    series = result.prices.setdefault(event.material, {}).setdefault(event.series_key, [])
    series.append((event.observed_at, event.price))
    if len(series) > MAX_CHART_POINTS:
        del series[1::2]


def run_backtest(lines: Iterable[str], catalog: Catalog, policy: Policy) -> BacktestResult:
    """Apply every valid line in order; collect outputs in the order they were produced."""
    result = BacktestResult()
    states = result.states
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = parse_event(line)
        except ValidationError as error:
            reason, message = _classify(error)
            result.bad_lines.append(BadLine(line_no, reason, message[:500]))
            continue
        if isinstance(event, ExportControl):
            materials = list(dict.fromkeys(event.materials))
        else:
            materials = [event.material]
        unknown = [m for m in materials if m not in catalog.materials]
        if unknown:
            result.bad_lines.append(
                BadLine(line_no, "unknown_material", f"not in the catalog: {', '.join(unknown)}")
            )
            continue
        result.events += 1
        if isinstance(event, PriceObserved):
            _record_price(result, event)
        for material in materials:
            state = states.get(material)
            if state is None:
                state = states[material] = initial_state(material)
            _, outputs = apply_event(state, event, catalog, policy)
            if outputs.snapshot is not None:
                result.snapshots.append(outputs.snapshot)
            result.alerts.extend(outputs.alerts)
            result.recommendations.extend(outputs.recommendations)
    return result
