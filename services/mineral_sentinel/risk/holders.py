"""Several holders of one material's strategic stock, and how advice is split between them.

Member states report their stocks (CRMA Art. 22) and cover is measured against average daily
net imports (Art. 23), so a position is kept per (material, holder): a holder's later report
replaces only its own, and the material's stock is the sum over holders (days of cover = that
sum / daily net imports). A report older than the holder's stored one is ignored.

Allocation (docs/stockpiles.md), so that national stockpiles can be coordinated:
- each holder has a floor and a target: the ones it declared on its position, else its
  pro-rata share by stock of the material's floor and target days (an equal share when the
  material holds no stock at all);
- a release is taken from holders above their floor, in proportion to their excess over it;
- a replenishment goes to holders below their target, in proportion to their shortfall to it;
- no holder is asked to go below its floor or above its target: when the excesses (shortfalls)
  add up to less than the material-level quantity, each holder gives (receives) all of its
  excess (shortfall) and the rest is left unallocated, which the rationale says.
Without declared floors and targets this splits both in proportion to the holders' stocks.
"""

from __future__ import annotations

import math

from ..contracts.events import StockpilePosition
from .policy import Policy
from .state import HoldingState, MaterialState

Allocation = tuple[str, float, float, float]
"""(holder, tonnes, stock before, stock after)."""


def total_stock(holdings: dict[str, HoldingState]) -> float | None:
    """Sum of the holders' stocks in report order (None when nobody reported)."""
    if not holdings:
        return None
    total = 0.0
    for holding in holdings.values():
        total += holding.stock_t
    return total


def apply_position(
    state: MaterialState, event: StockpilePosition, at: float, policy: Policy
) -> bool:
    """Record one holder's position; False when it is older than what that holder reported."""
    key = event.holder or ""
    holdings = state.holdings
    if state.holdings_legacy:
        # the migrated position was the last report of whichever holder: the old rule applies
        # to it (an older report is ignored, a newer one replaces it), then holders are kept
        legacy = next(iter(holdings.values()), None)
        if legacy is not None and at < legacy.as_of:
            return False
        holdings.clear()
        state.holdings_legacy = False
    stored = holdings.get(key)
    if stored is not None and at < stored.as_of:
        return False
    holdings[key] = HoldingState(
        holder=key,
        stock_t=event.stock_t,
        as_of=at,
        event_id=event.event_id,
        floor_t=event.floor_t,
        target_t=event.target_t,
    )
    while len(holdings) > policy.max_holders:  # the bound may have shrunk since a restart
        oldest = min(holdings.values(), key=lambda h: (h.as_of, h.holder))
        del holdings[oldest.holder]
    state.stock_t = total_stock(holdings)
    return True


def floors_and_targets(
    holdings: dict[str, HoldingState], daily_t: float, floor_days: float, target_days: float
) -> dict[str, tuple[float, float]]:
    """Each holder's (floor, target) in tonnes: declared, else its share of the material's."""
    total = total_stock(holdings) or 0.0
    out: dict[str, tuple[float, float]] = {}
    for key, holding in holdings.items():
        share = holding.stock_t / total if total > 0.0 else 1.0 / len(holdings)
        floor = holding.floor_t if holding.floor_t is not None else floor_days * daily_t * share
        target = holding.target_t if holding.target_t is not None else target_days * daily_t * share
        out[key] = (floor, max(floor, target))
    return out


def allocate(
    holdings: dict[str, HoldingState],
    action: str,
    quantity_t: float,
    daily_t: float,
    floor_days: float,
    target_days: float,
) -> list[Allocation]:
    """Split a release or a replenishment of `quantity_t` over the holders (see module doc);
    an empty list for a hold. Holders with nothing to give (receive) get no row.

    Shares are whole kilokilos (the material-level quantity is, see stockpile._tonnes), split
    by largest remainder, so they add up to the quantity exactly when there is room for it and
    no holder's share exceeds its own room."""
    if action not in ("release", "replenish") or quantity_t <= 0.0 or not holdings:
        return []
    limits = floors_and_targets(holdings, daily_t, floor_days, target_days)
    room: dict[str, int] = {}
    for key, holding in holdings.items():
        floor, target = limits[key]
        gap = holding.stock_t - floor if action == "release" else target - holding.stock_t
        room[key] = math.floor(max(0.0, gap) * 1000.0)
    available = sum(room.values())
    wanted = math.floor(quantity_t * 1000.0 + 1e-6)
    if available <= 0 or wanted <= 0:
        return []
    if available <= wanted:
        kilos = dict(room)
    else:
        kilos = {key: wanted * r // available for key, r in room.items()}
        left = wanted - sum(kilos.values())
        by_remainder = sorted(room, key=lambda k: (-((wanted * room[k]) % available), k))
        for key in by_remainder:
            if left <= 0:
                break
            if kilos[key] < room[key]:
                kilos[key] += 1
                left -= 1
    out: list[Allocation] = []
    for key, holding in holdings.items():
        if kilos[key] <= 0:
            continue
        tonnes = kilos[key] / 1000.0
        after = holding.stock_t - tonnes if action == "release" else holding.stock_t + tonnes
        out.append((key, tonnes, holding.stock_t, max(0.0, after)))
    return out


def allocation_text(allocations: list[Allocation], quantity_t: float, holders: int) -> str:
    """A rationale suffix: who gives (receives) what, and what is left unallocated (nothing to
    add for a single holder that takes the whole quantity)."""
    if not allocations:
        return ""
    if holders == 1 and len(allocations) == 1 and allocations[0][1] >= quantity_t - 0.0005:
        return ""
    parts = [
        f"{holder or 'unnamed holder'} {tonnes:,.3f} t" for holder, tonnes, _, _ in allocations
    ]
    text = "; by holder: " + ", ".join(parts[:8]) + (", ..." if len(parts) > 8 else "")
    rest = quantity_t - sum(tonnes for _, tonnes, _, _ in allocations)
    if rest >= 0.001:
        text += f" ({rest:,.3f} t unallocated: the holders' floors or targets leave no more room)"
    return text
