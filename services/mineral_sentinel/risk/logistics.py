"""Logistics: inbound tonnes delayed, held or cancelled, in days of the material's net imports.

Tonnes are weighted by status (`Policy.shipment_weights`): late is not lost.

Only shipments that can still matter are kept: an arrived shipment is dropped (its id is
remembered briefly so a late, older update cannot resurrect it), a cancelled one counts as
missing supply for `cancelled_memory_days`, and one the feed stopped updating is dropped after
`stale_shipment_days`.
"""

from __future__ import annotations

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
    if status == "arrived":
        if stored is not None:
            del state.shipments[sid]
        state.closed_shipments.pop(sid, None)
        state.closed_shipments[sid] = at
        if len(state.closed_shipments) > policy.max_shipments:
            del state.closed_shipments[next(iter(state.closed_shipments))]
    else:
        state.shipments[sid] = ShipmentState(
            shipment_id=sid,
            status=status,
            quantity_t=event.quantity_t,
            updated_at=at,
            event_id=event.event_id,
        )
        if len(state.shipments) > policy.max_shipments:
            _drop_oldest(state)
    if was_at_risk or status in AT_RISK_STATUSES:
        state.at_risk_t = None
    return True


def _drop_oldest(state: MaterialState) -> None:
    oldest = min(
        state.shipments.values(), key=lambda s: (s.status in AT_RISK_STATUSES, s.updated_at)
    )
    del state.shipments[oldest.shipment_id]
    state.at_risk_t = None


def refresh_at_risk(state: MaterialState, policy: Policy) -> float:
    """Status-weighted tonnes at risk, recomputed from scratch (exact after a dump/load)."""
    total = 0.0
    ids: list[str] = []
    weights = policy.shipment_weights
    for shipment in state.shipments.values():
        if shipment.status in AT_RISK_STATUSES:
            total += shipment.quantity_t * weights.get(shipment.status, 1.0)
            ids.append(shipment.event_id)
    state.at_risk_t = total
    state.at_risk_ids = ids
    return total


def prune_shipments(state: MaterialState, now: float, policy: Policy) -> None:
    cancelled_before = now - policy.cancelled_memory_days * DAY
    stale_before = now - policy.stale_shipment_days * DAY
    for sid, shipment in list(state.shipments.items()):
        if (shipment.status == "cancelled" and shipment.updated_at < cancelled_before) or (
            shipment.updated_at < stale_before
        ):
            del state.shipments[sid]
            state.at_risk_t = None
    for sid, closed_at in list(state.closed_shipments.items()):
        if closed_at < stale_before:
            del state.closed_shipments[sid]


def logistics_component(days_at_risk: float, policy: Policy) -> float:
    return min(100.0, 100.0 * days_at_risk / policy.logistics_full_days)
