"""Logistics: inbound tonnes delayed, held or cancelled, in days of the material's net imports.

Tonnes are weighted by status (`Policy.shipment_weights`): late is not lost.

Only shipments that can still matter are kept: an arrived shipment is dropped (its id is
remembered briefly so a late, older update cannot resurrect it), a cancelled one counts as
missing supply for `cancelled_memory_days`, and one the feed stopped updating is dropped after
`stale_shipment_days`.
"""

from __future__ import annotations

import math

from ..contracts.events import ShipmentUpdated
from .policy import Policy
from .state import MaterialState, ShipmentState
from .timeutil import DAY

AT_RISK_STATUSES: frozenset[str] = frozenset({"delayed", "held", "cancelled"})


def apply_shipment(state: MaterialState, event: ShipmentUpdated, at: float, policy: Policy) -> bool:
    """Record a shipment status; an update older than the stored one is ignored."""
    sid = event.shipment_id
    stored = state.shipments.get(sid)
    if stored is not None and at < stored.updated_at:
        return False
    closed_at = state.closed_shipments.get(sid)
    if closed_at is not None and at < closed_at:
        return False
    was_at_risk = stored is not None and stored.status in AT_RISK_STATUSES
    status = event.status
    index = state.at_risk_index
    if status == "arrived":
        if stored is not None:
            del state.shipments[sid]
            if index is not None:
                index.pop(sid, None)
        state.closed_shipments.pop(sid, None)
        state.closed_shipments[sid] = at
        if at < state.closed_oldest:
            state.closed_oldest = at
        while len(state.closed_shipments) > policy.max_shipments:  # the bound may shrink
            del state.closed_shipments[next(iter(state.closed_shipments))]
    else:
        shipment = state.shipments[sid] = ShipmentState(
            shipment_id=sid,
            status=status,
            quantity_t=event.quantity_t,
            updated_at=at,
            event_id=event.event_id,
        )
        if index is not None:
            if status in AT_RISK_STATUSES:
                if stored is None or was_at_risk:
                    index[sid] = shipment  # appended with it, or replaced in place
                else:
                    state.at_risk_index = None  # it joins mid-order: rebuild when next needed
            elif was_at_risk:
                del index[sid]
        if at < state.shipments_oldest:
            state.shipments_oldest = at
        if status == "cancelled" and at < state.cancelled_oldest:
            state.cancelled_oldest = at
        while len(state.shipments) > policy.max_shipments:
            _drop_oldest(state)
    if was_at_risk or status in AT_RISK_STATUSES:
        total = state.at_risk_t
        if stored is None and status != "arrived" and total is not None:
            # a new at-risk shipment went to the end of `shipments`: the sum `refresh_at_risk`
            # would compute is the cached one plus this last term (same additions, same order)
            state.at_risk_t = total + event.quantity_t * policy.shipment_weights.get(status, 1.0)
            state.at_risk_ids.append(event.event_id)
        else:
            state.at_risk_t = None
    return True


def _drop_oldest(state: MaterialState) -> None:
    oldest = min(
        state.shipments.values(), key=lambda s: (s.status in AT_RISK_STATUSES, s.updated_at)
    )
    del state.shipments[oldest.shipment_id]
    if state.at_risk_index is not None:
        state.at_risk_index.pop(oldest.shipment_id, None)
    state.at_risk_t = None


def refresh_at_risk(state: MaterialState, policy: Policy) -> float:
    """Status-weighted tonnes at risk, recomputed from scratch (exact after a dump/load)."""
    index = state.at_risk_index
    if index is None:
        index = state.at_risk_index = {
            sid: shipment
            for sid, shipment in state.shipments.items()
            if shipment.status in AT_RISK_STATUSES
        }
    total = 0.0
    ids: list[str] = []
    weight_of = policy.shipment_weights.get
    for shipment in index.values():
        total += shipment.quantity_t * weight_of(shipment.status, 1.0)
        ids.append(shipment.event_id)
    state.at_risk_t = total
    state.at_risk_ids = ids
    return total


def prune_shipments(state: MaterialState, now: float, policy: Policy) -> None:
    cancelled_before = now - policy.cancelled_memory_days * DAY
    stale_before = now - policy.stale_shipment_days * DAY
    if state.shipments_oldest < stale_before or state.cancelled_oldest < cancelled_before:
        shipments = state.shipments
        doomed: list[str] = []
        oldest = cancelled_oldest = math.inf
        for sid, shipment in shipments.items():
            updated = shipment.updated_at
            cancelled = shipment.status == "cancelled"
            if updated < stale_before or (cancelled and updated < cancelled_before):
                doomed.append(sid)
                continue
            if updated < oldest:
                oldest = updated
            if cancelled and updated < cancelled_oldest:
                cancelled_oldest = updated
        state.shipments_oldest, state.cancelled_oldest = oldest, cancelled_oldest
        if doomed:
            index = state.at_risk_index
            for sid in doomed:
                del shipments[sid]
                if index is not None:
                    index.pop(sid, None)
            state.at_risk_t = None
    if state.closed_oldest < stale_before:
        closed = state.closed_shipments
        for sid in [sid for sid, closed_at in closed.items() if closed_at < stale_before]:
            del closed[sid]
        state.closed_oldest = min(closed.values(), default=math.inf)


def logistics_component(days_at_risk: float, policy: Policy) -> float:
    return min(100.0, 100.0 * days_at_risk / policy.logistics_full_days)
