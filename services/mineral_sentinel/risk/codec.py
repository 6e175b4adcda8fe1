"""Compact, exact serialisation of MaterialState for the Faust table (RocksDB).

JSON of positional arrays: floats survive exactly (repr round-trips), insertion orders (series
LRU, shipments, measures, the seen-id ring) are preserved, and caches are left out because they
are pure functions of the rest and are recomputed on first use. A version tag guards the layout.

Format 2 keeps stock positions per holder. Format 1 (one position, the last report of any
holder) is still read: its position becomes the one holding, flagged `holdings_legacy` so the
next report replaces it whoever sent it (as format 1 would have), after which holders are kept
apart; its recommendation has no allocations.

Format 3 adds the rule and the protocol version to the last recommendation; a format 1 or 2
state's recommendation has neither (""), so the first evaluation after loading it re-issues
the recommendation under the running protocol. No policy value is stored: a state is readable
whatever protocol the worker runs.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import orjson

from .holders import total_stock
from .state import (
    AlertState,
    HoldingState,
    MaterialState,
    MeasureState,
    PriceSeries,
    RecommendationState,
    ShipmentState,
    SpreadState,
)

FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)


def _fields(obj: Any) -> list[Any]:
    return [getattr(obj, name) for name in obj.__slots__]


def dump_state(state: MaterialState) -> bytes:
    """Bytes that `load_state` turns back into an equivalent state (caches excluded)."""
    alert = state.alert
    rec = state.recommendation
    doc = [
        FORMAT_VERSION,
        state.material,
        state.now,
        list(state.seen_ring),
        [[sid, *_fields(s)] for sid, s in state.series.items()],
        [[key, *_fields(s)] for key, s in state.spreads.items()],
        [_fields(m) for m in state.measures.values()],
        [_fields(s) for s in state.shipments.values()],
        list(state.closed_shipments.items()),
        [[_fields(h) for h in state.holdings.values()], state.holdings_legacy],
        [state.score, state.level, state.level_since, state.emitted_score, state.emitted_level],
        None if alert is None else _fields(alert),
        None if rec is None else _fields(rec),
        state.next_housekeeping,
    ]
    return orjson.dumps(doc)  # shortest round-trip floats, like repr; about 10x json.dumps


def load_state(data: bytes) -> MaterialState:
    """Inverse of `dump_state`; raises ValueError on an unknown layout."""
    doc = orjson.loads(data)
    if not isinstance(doc, list) or not doc or doc[0] not in READABLE_VERSIONS:
        raise ValueError("not a MaterialState dump of a known format version")
    (
        version,
        material,
        now,
        seen,
        series,
        spreads,
        measures,
        shipments,
        closed,
        stock,
        level,
        alert,
        rec,
        next_housekeeping,
    ) = doc
    state = MaterialState(material=material, now=now)
    state.seen_ring = deque(seen)
    state.seen = set(seen)
    state.series = {row[0]: PriceSeries(*row[1:]) for row in series}
    state.spreads = {row[0]: SpreadState(*row[1:]) for row in spreads}
    state.measures = {row[0]: MeasureState(*row) for row in measures}
    state.shipments = {row[0]: ShipmentState(*row) for row in shipments}
    state.closed_shipments = {sid: at for sid, at in closed}
    if version == 1:
        stock_t, stock_as_of, stock_event_id = stock
        if stock_t is not None:
            state.holdings = {"": HoldingState("", stock_t, stock_as_of, stock_event_id)}
            state.holdings_legacy = True
    else:
        rows, state.holdings_legacy = stock
        state.holdings = {row[0]: HoldingState(*row) for row in rows}
    state.stock_t = total_stock(state.holdings)
    (
        state.score,
        state.level,
        state.level_since,
        state.emitted_score,
        state.emitted_level,
    ) = level
    state.alert = None if alert is None else AlertState(*alert)
    if rec is not None:
        loaded = state.recommendation = RecommendationState(*rec)
        loaded.allocations = [(a[0], a[1], a[2], a[3]) for a in loaded.allocations]
    state.next_housekeeping = next_housekeeping
    return state
