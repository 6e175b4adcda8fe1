"""The bounded per-material state the core folds events into.

Plain mutable dataclasses with slots: the hot path updates them in place (see `core.apply_event`).
Memory is bounded by construction -- a ring of recent event ids, at most `Policy.max_series` price
series (least recently updated evicted), shipments dropped once they arrive or stop mattering,
measures dropped some time after they end -- so state size never grows with the event count.
Times are POSIX seconds (float) of event time; the core never reads a clock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from ..catalog.model import MaterialProfile
from .policy import Policy, StockpileRules


@dataclass(slots=True)
class PriceSeries:
    """One price series (material, source, market, grade, currency, unit) and its statistics."""

    source: str
    market: str
    grade: str
    currency: str
    unit: str
    last_t: float
    last_price: float
    last_event_id: str
    var: float
    """EWMA of squared log returns of informative (non-flat) prints."""
    n_returns: int = 0
    window: list[float] = field(default_factory=list)
    """Trailing informative prices (bounded by Policy.median_window), oldest first."""
    signal: float = 0.0
    """Shock value 0..100 at the last informative print."""
    signal_t: float = 0.0
    signal_event_id: str = ""
    move: float = 0.0
    """Price relative to the trailing median at the last informative print, minus one."""


@dataclass(slots=True)
class SpreadState:
    """Regional spread between two series of the same currency and unit (different markets)."""

    baseline: float
    """EWMA of the log spread (first series over second)."""
    n: int
    signal: float
    t: float
    event_id: str


@dataclass(slots=True)
class MeasureState:
    """The latest known state of one export-control measure as it applies to this material."""

    measure_id: str
    country: str
    kind: str
    status: str
    announced_at: float
    effective_at: float
    expires_at: float | None
    coverage: float
    reaches_eu: bool
    updated_at: float
    """occurred_at of the event that set this state (older events never regress it)."""
    event_id: str
    first_event_id: str


@dataclass(slots=True)
class HoldingState:
    """The latest position reported by one holder of the material's strategic stock."""

    holder: str
    """The reported holder, "" for a report that named none (ShortText is never empty)."""
    stock_t: float
    as_of: float
    event_id: str
    floor_t: float | None = None
    """Declared floor of this holder (None: its pro-rata share of the material's floor)."""
    target_t: float | None = None
    """Declared target of this holder (None: its pro-rata share of the material's target)."""


@dataclass(slots=True)
class ShipmentState:
    shipment_id: str
    status: str
    quantity_t: float
    updated_at: float
    event_id: str


@dataclass(slots=True)
class AlertState:
    """The open alert of the current episode (one per material episode, updated in place)."""

    alert_id: str
    severity: int
    started_at: float
    updated_at: float
    sequence: int
    score: float
    causes: list[str]
    evidence: list[str]
    summary: str = ""
    recommendation_id: str | None = None
    status: str = "firing"


@dataclass(slots=True)
class RecommendationState:
    """The last recommendation emitted, so that holds are only emitted on a change."""

    key: str
    recommendation_id: str
    action: str
    quantity_t: float
    days_before: float | None
    days_after: float | None
    horizon_days: int
    rationale: str
    alert_id: str | None
    issued_at: float
    valid_until: float
    allocations: list[tuple[str, float, float, float]] = field(default_factory=list)
    """Per holder: (holder, tonnes, stock before, stock after), holders.allocate's split."""
    rule: str = ""
    """The stockpile rule that decided ("" in a state saved before rules were named)."""
    protocol: str = ""
    """Version of the protocol that decided ("" in a state saved before it was recorded): a
    different one at the next evaluation re-issues the recommendation under the new one."""


@dataclass(slots=True)
class PolicyView:
    """Derived from the measures at one event time; piecewise constant, valid until `valid_until`.

    Not serialised: recomputed from the measures (a pure function of them and the time)."""

    pressure: float
    """Severity-weighted share of world supply under restriction (at `shock_stage`)."""
    shortfall: float
    """Physical shortfall share of EU supply from effective restrictions (release trigger)."""
    sr_live: float
    sr_baseline: float
    stage: str
    """Bottleneck stage of the live SR (highest stage SR)."""
    shock_stage: str
    """Stage where the active restrictions cover the largest share of world supply."""
    valid_until: float
    event_ids: list[str]
    countries: list[str]
    reaches_eu: bool = False
    """Some active measure (announced or in force) names an EU destination or none at all:
    EU-relevant evidence (docs/severity.md). Measures aimed only elsewhere act via the market."""
    shock_value: float = 0.0
    """policy_shock component value (0..100) derived from `pressure`."""
    sr_value: float = 0.0
    """supply_risk component value (0..100) derived from live vs baseline SR."""


@dataclass(slots=True)
class Frame:
    """The part of a reading that only changes with the policy view, tonnes at risk and stock.

    Not serialised: `core.read` rebuilds it whenever one of the inputs it records differs (by
    identity for the profile, policy and view, by value for the tonnes), so a price print, the
    common event, only re-evaluates the market component and two factors of the score."""

    profile: MaterialProfile
    policy: Policy
    rules: StockpileRules
    """The material's resolved protocol (a function of the policy and the profile)."""
    view: PolicyView
    at_risk_t: float
    stock_t: float | None
    daily_t: float | None
    logistics_value: float
    cover: float | None
    stock_value: float
    remaining: float
    """Noisy-OR product of the policy, supply-risk and logistics factors (in that order)."""
    exposure: str
    """`scoring.physical_exposure` of this frame ('' for none): allows `critical`."""
    evidence: str
    """`scoring.eu_evidence` without the market ('' for none; prices are checked per read)."""
    triggered: bool
    """Physical shortfall at or above the trigger: the stockpile key ignores the market."""
    key_alert: str | None = None
    key: str | None = None
    """Stockpile decision key computed while `triggered`, for the open alert `key_alert`."""


@dataclass(slots=True)
class MaterialState:
    """Everything the core remembers about one material."""

    material: str
    now: float | None = None
    """Event-time clock: the latest event time seen (never moves backwards)."""
    seen_ring: deque[str] = field(default_factory=deque)
    seen: set[str] = field(default_factory=set)
    series: dict[str, PriceSeries] = field(default_factory=dict)
    """Insertion order = recency of update (updated series move to the end)."""
    spreads: dict[str, SpreadState] = field(default_factory=dict)
    measures: dict[str, MeasureState] = field(default_factory=dict)
    shipments: dict[str, ShipmentState] = field(default_factory=dict)
    closed_shipments: dict[str, float] = field(default_factory=dict)
    """Recently arrived shipment ids -> time, so a late, older update cannot resurrect them."""
    holdings: dict[str, HoldingState] = field(default_factory=dict)
    """Positions per holder, in order of first report (see holders.py)."""
    holdings_legacy: bool = False
    """The one position migrated from a format-1 state (which kept only the last report of
    any holder): replaced by the next report, whoever the holder (codec.py)."""
    stock_t: float | None = None
    """Sum of `holdings` (None before any report): kept with them, never set on its own."""
    score: float = 0.0
    level: int = 0
    level_since: float = 0.0
    emitted_score: float | None = None
    """Score of the last emitted snapshot (None before the first)."""
    emitted_level: int = 0
    alert: AlertState | None = None
    """The open alert, or the last resolved one (status 'resolved')."""
    recommendation: RecommendationState | None = None
    next_housekeeping: float = 0.0
    # ---- caches (not serialised; recomputed lazily) ----
    view: PolicyView | None = None
    at_risk_t: float | None = None
    at_risk_ids: list[str] = field(default_factory=list)
    frame: Frame | None = None
    at_risk_index: dict[str, ShipmentState] | None = None
    """The delayed/held/cancelled shipments, in `shipments` order (None: rebuild from it), so
    the at-risk sum re-adds the same terms in the same order without scanning every shipment."""
    shipments_oldest: float = -math.inf
    """Lower bound of `updated_at` over `shipments` (housekeeping skips its scan while nothing
    can be due); -inf until the first scan, so a loaded state is scanned."""
    cancelled_oldest: float = -math.inf
    """Lower bound of `updated_at` over cancelled shipments."""
    closed_oldest: float = -math.inf
    """Lower bound of the times in `closed_shipments`."""
    measures_min_end: float = -math.inf
    """Lower bound of the times at which measures ended or will end (updated_at of suspended or
    lifted ones, expires_at), so housekeeping skips the scan while none can be due."""


def initial_state(material: str) -> MaterialState:
    """A fresh state for a material nobody has reported on yet."""
    return MaterialState(material=material)
