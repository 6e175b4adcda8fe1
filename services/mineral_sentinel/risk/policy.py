"""Every tunable of the risk core in one frozen object, with defaults a reviewer can argue with.

Defaults are chosen from the public sources in `docs/domain-facts.md`: the IEA's ~7% collective
action trigger, JOGMEC's 60-day stock target, the ~45 working-day licensing lag seen for gallium and
germanium in 2023, and the EU method's trade factors (1.1-1.5 for real restrictions).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

LEVELS: tuple[str, ...] = ("normal", "watch", "warning", "critical")


def _frozen(mapping: dict[str, float]) -> Mapping[str, float]:
    return MappingProxyType(mapping)


@dataclass(frozen=True, slots=True)
class MaterialOverride:
    """One material's own values of the deployment protocol (None: the global value).

    The fields are the ones `stockpile.decide` applies per material (see `StockpileRules`)."""

    shortfall_trigger: float | None = None
    horizon_days: int | None = None
    floor_days: float | None = None
    target_days: float | None = None
    price_spike_component: float | None = None
    price_spike_tranche_days: float | None = None
    replenish_max_market: float | None = None
    replenish_cooldown_days: float | None = None
    recommendation_valid_days: int | None = None


def _no_overrides() -> Mapping[str, MaterialOverride]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Policy:
    """Tunables of signals, scoring, alerting and stockpile advice (all times are event time)."""

    # --- levels and alerting -------------------------------------------------------------
    enter_watch: float = 25.0
    """Score (0..100) at or above which `watch` is entered."""
    enter_warning: float = 50.0
    """Score at or above which `warning` is entered (with EU-relevant evidence)."""
    enter_critical: float = 75.0
    """Score at or above which `critical` is entered (with physical exposure of EU supply)."""
    hysteresis: float = 10.0
    """A level is left only when the score falls this far below its entry threshold."""
    min_dwell_hours: float = 48.0
    """Minimum event time at a level before it may be lowered (escalation is immediate)."""
    snapshot_min_change: float = 2.0
    """Emit a RiskSnapshot when the score moved at least this much (or the level changed)."""
    cause_threshold: float = 30.0
    """A component at or above this value is named as a cause of the alert."""

    # --- severity gates (docs/severity.md): the evidence a level needs, whatever the score ---
    evidence_market: float = 30.0
    """Market component at or above which the material's prices count as EU-relevant evidence
    (lifts the `watch` ceiling of a measure that names no EU destination)."""
    evidence_at_risk_days: float = 1.0
    """Status-weighted inbound (EU-bound) tonnes at risk, in days of net imports, that count as
    EU-relevant evidence."""
    exposure_at_risk_days: float = 5.0
    """Status-weighted inbound tonnes at risk, in days of net imports, that count as physical
    exposure (allow `critical` without a restriction in force); a routine delayed cargo is
    about 4 days (a fortnight's imports at the 0.25 delayed weight) and does not."""
    near_floor_band: float = 0.25
    """Cover within this share of the floor-to-target band above the floor is 'near the floor'
    (EU-relevant evidence); cover below the floor is physical exposure."""

    # --- combination of components ---------------------------------------------------------
    weights: Mapping[str, float] = field(
        default_factory=lambda: _frozen(
            {
                "policy_shock": 0.85,
                "supply_risk": 0.5,
                "logistics": 0.6,
                "market": 0.55,
                "stock": 0.3,
            }
        )
    )
    """Largest share of the 0..100 score each component can drive on its own (noisy-OR); the
    stock weight is scaled by the other components' score (it amplifies, never starts, risk)."""

    # --- policy shock ----------------------------------------------------------------------
    severity: Mapping[str, float] = field(
        default_factory=lambda: _frozen(
            {"ban": 1.0, "quota": 0.75, "licensing": 0.55, "export_tax": 0.4, "other": 0.3}
        )
    )
    """Share of the restricting country's exports a measure of each kind takes off the market
    once in force (scaled by the measure's coverage)."""
    licensing_lag_severity: float = 0.9
    """Licensing during its lag: flows near zero until the first licences (gallium 2023)."""
    licensing_lag_working_days: int = 45
    """Working days after a licensing regime takes effect before the first licences (the lag
    seen for gallium and germanium in 2023)."""
    announced_weight: float = 0.5
    """An announced measure is a leading signal: it weighs this fraction of an effective one."""
    non_eu_destinations_weight: float = 0.35
    """A measure whose destination list names no EU country reaches the EU only indirectly."""
    shock_scale: float = 0.18
    """Component = 100 * (1 - exp(-pressure / shock_scale)): concave, so that the first tenths
    of world supply under restriction count most and a near-total restriction saturates."""
    trade_factor_uplift: float = 0.5
    """A full ban raises t_c to 1 + this (the 2023 exercise used up to 1.5 for China-tin)."""
    sr_uplift_full_scale: float = 2.0
    """Live SR above baseline that saturates the supply_risk component."""
    measure_retention_days: float = 90.0
    """Lifted/suspended/expired measures are forgotten after this long (bounded state)."""
    max_measures: int = 64
    """Export-control measures kept per material (bounded state)."""

    # --- logistics -------------------------------------------------------------------------
    shipment_weights: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"delayed": 0.25, "held": 0.75, "cancelled": 1.0})
    )
    """Share of a shipment's tonnes counted as missing: a delayed cargo is late but coming, a
    held one (licence, customs, sanctions screening) mostly missing, a cancelled one lost."""
    logistics_full_days: float = 30.0
    """Days of net imports delayed/held/cancelled that saturate the component."""
    cancelled_memory_days: float = 30.0
    """A cancelled shipment counts as missing supply for this long, then is dropped."""
    stale_shipment_days: float = 120.0
    """A delayed/held shipment with no update for this long is dropped (feed lost track)."""
    max_shipments: int = 512
    """Shipments tracked per material; beyond it the oldest is dropped."""

    # --- market ----------------------------------------------------------------------------
    ewma_half_life_prints: float = 20.0
    """Half-life of the EWMA of squared log returns, in informative prints of a series."""
    initial_volatility: float = 0.02
    """Prior per-print volatility before a series has history."""
    min_volatility: float = 0.005
    """Volatility floor: illiquid series must not make every move look like a shock."""
    warmup_returns: int = 5
    """Returns needed before a z-score counts (before that the prior dominates)."""
    z_low: float = 2.0
    """A print's log return, in volatilities, at or below which its z-signal is 0."""
    z_high: float = 6.0
    """A print's log return, in volatilities, at or above which its z-signal is 100."""
    median_window: int = 20
    """Informative prints of a series in its trailing median."""
    move_low: float = 0.05
    """Move above the trailing median at or below which the move signal is 0."""
    move_high: float = 0.5
    """Move above the trailing median mapped linearly from 0 at move_low to 100 at move_high."""
    spread_low: float = 0.05
    """Widening of a regional spread at or below which its signal is 0."""
    spread_high: float = 0.4
    """Widening of a log regional spread beyond its own EWMA baseline, mapped like moves."""
    spread_fresh_days: float = 14.0
    """Two series' latest prints must be this close in event time to compare them."""
    market_stale_half_life_days: float = 14.0
    """A series signal halves for every this many days without an informative print."""
    elevated_move: float = 0.1
    """A price this far above its trailing median is 'elevated' (blocks replenishment)."""
    max_series: int = 16
    """Price series kept per material; the least recently updated one is evicted."""

    # --- stock position --------------------------------------------------------------------
    floor_days: float | None = None
    """Floor of cover in days for every material; None: the catalog's value per material."""
    target_days: float | None = None
    """Target cover in days for every material; None: the catalog's value per material."""

    # --- stockpile policy ------------------------------------------------------------------
    shortfall_trigger: float = 0.07
    """Physical shortfall share of EU supply at which an emergency release is advised (the
    IEA's 7% collective-action trigger)."""
    horizon_days: int = 90
    """Horizon of the shortfall share and of a release's size, in days."""
    price_spike_component: float = 60.0
    """Market component at which a price-spike sale tranche is considered."""
    price_spike_tranche_days: float = 10.0
    """Size of a price-spike sale in days of net imports (kept above the target)."""
    replenish_max_market: float = 20.0
    """Replenish only when the market component is below this (prices not elevated)."""
    recommendation_valid_days: int = 30
    """How long a recommendation stands unless a new one replaces it."""
    replenish_cooldown_days: float = 30.0
    """No replenishment within this long after an alert resolved (markets stay tight a while;
    the IEA defers refilling after a collective action)."""

    # --- bounded bookkeeping ---------------------------------------------------------------
    max_holders: int = 64
    """Holders kept per material (27 member states, EU schemes, agencies); beyond it the holder
    with the oldest report is forgotten."""
    seen_ids: int = 2048
    """Recent event ids remembered for duplicate suppression (a ring)."""
    housekeeping_hours: float = 6.0
    """Event-time interval between pruning passes over shipments, measures and series."""
    evidence_cap: int = 64
    """Event ids kept in an alert's evidence and in each driver."""
    drivers_cap: int = 20
    """Drivers (the reasons behind the components) listed per snapshot, strongest first."""

    # --- per-material deployment protocol (docs/policy.md) ---------------------------------
    materials: Mapping[str, MaterialOverride] = field(default_factory=_no_overrides)
    """Material code -> its own values of the per-material fields (`MaterialOverride`)."""

    def enter(self, level: int) -> float:
        """Score at or above which `level` (1..3) is entered."""
        return (0.0, self.enter_watch, self.enter_warning, self.enter_critical)[level]

    def leave(self, level: int) -> float:
        """Score below which `level` (1..3) is left."""
        return self.enter(level) - self.hysteresis


DEFAULT_POLICY = Policy()


MATERIAL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(MaterialOverride))
"""The fields a material may override: the ones the stockpile decision applies per material."""


@dataclass(frozen=True, slots=True)
class StockpileRules:
    """One material's deployment protocol, resolved to plain values (what `stockpile.decide`
    and the severity gates on cover apply): the material's override, else the global value,
    else (floor and target) the catalog's."""

    protocol: str
    """`protocol_version` of the policy these rules come from."""
    shortfall_trigger: float
    horizon_days: int
    floor_days: float
    target_days: float
    price_spike_component: float
    price_spike_tranche_days: float
    replenish_max_market: float
    replenish_cooldown_days: float
    recommendation_valid_days: int


def stockpile_rules(
    policy: Policy, material: str, catalog_floor_days: float, catalog_target_days: float
) -> StockpileRules:
    """Resolve `material`'s rules (pure; the core memoises it per policy and material)."""
    override = policy.materials.get(material)
    values: dict[str, Any] = {}
    for name in MATERIAL_FIELDS:
        value = None if override is None else getattr(override, name)
        if value is None:
            value = getattr(policy, name)
        values[name] = value
    if values["floor_days"] is None:
        values["floor_days"] = catalog_floor_days
    if values["target_days"] is None:
        values["target_days"] = catalog_target_days
    return StockpileRules(protocol=protocol_version(policy), **values)


_FLOAT_FIELDS = frozenset(
    name
    for name, value in ((f.name, getattr(DEFAULT_POLICY, f.name)) for f in fields(Policy))
    if isinstance(value, float) or name in ("floor_days", "target_days")
)


def _number(name: str, value: Any) -> Any:
    """Float fields as floats, so that `10` and `10.0` are the same protocol."""
    return float(value) if name in _FLOAT_FIELDS and value is not None else value


def canonical_policy(policy: Policy) -> dict[str, Any]:
    """Every value of the policy as plain JSON data, defaults included (so a file that states
    a default is the same protocol as one that leaves it out). Unset values (global floor and
    target: the catalog's) and materials without an overridden value are left out, so the
    document is itself a valid policy file."""
    doc: dict[str, Any] = {}
    for f in fields(Policy):
        value = getattr(policy, f.name)
        if value is None:
            continue
        if f.name == "materials":
            materials: dict[str, Any] = {}
            for code in sorted(value):
                stated = {
                    name: _number(name, getattr(value[code], name))
                    for name in MATERIAL_FIELDS
                    if getattr(value[code], name) is not None
                }
                if stated:
                    materials[code] = stated
            doc[f.name] = materials
        elif isinstance(value, Mapping):
            doc[f.name] = {key: float(value[key]) for key in sorted(value)}
        else:
            doc[f.name] = _number(f.name, value)
    return doc


def canonical_json(policy: Policy) -> bytes:
    """Sorted keys, no whitespace, shortest round-trip floats: the bytes the version hashes."""
    text = json.dumps(
        canonical_policy(policy), sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    return text.encode("ascii")


_VERSIONS: dict[int, tuple[Policy, str]] = {}


def protocol_version(policy: Policy) -> str:
    """`sha256:` + the first 16 hex digits of the SHA-256 of `canonical_json(policy)`: the
    version a recommendation names (memoised per policy object)."""
    hit = _VERSIONS.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    version = "sha256:" + hashlib.sha256(canonical_json(policy)).hexdigest()[:16]
    if len(_VERSIONS) >= 32:
        _VERSIONS.clear()
    _VERSIONS[id(policy)] = (policy, version)
    return version
