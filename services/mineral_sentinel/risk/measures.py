"""Export controls: the measure lifecycle and the policy-shock view derived from it.

Pressure = share of world supply under restriction, weighted by measure severity (ban > quota >
licensing > export tax > other), coverage and phase. `announced` is a leading signal (a fraction
of the effective weight) until `effective_at`; licensing is treated as near-prohibitive during its
lag (~45 working days until the first licences, gallium 2023), then at its steady severity;
`suspended`, `lifted` and `expires_at` release the pressure; a measure aimed only at non-EU
destinations weighs less (it reaches the EU through the market only), causes no physical
shortfall for the EU and is no EU-relevant evidence on its own (`PolicyView.reaches_eu`), so it
raises at most `watch` without other evidence (scoring.py, docs/severity.md).

Stage: the EU method takes supply risk "at the bottleneck stage" (docs/domain-facts.md). We
take, per shock, the stage where the restricting countries hold the largest share of world
supply: an ore-export ban (Indonesia 2020, 26% of mined nickel) bites at extraction even though
nickel's structural bottleneck (highest SR) is processing, where Indonesia held far less; using
the structural stage would understate it.
The physical shortfall for the EU likewise uses the stage with the largest EU-sourcing exposure.
The view is piecewise constant in event time, so it is cached until the next boundary
(effective date, end of licensing lag, expiry).
"""

from __future__ import annotations

import math

from ..catalog.model import Catalog, MaterialProfile
from ..contracts.events import ExportControl
from .policy import Policy
from .state import MaterialState, MeasureState, PolicyView
from .supply_risk import supply_risk
from .timeutil import DAY, add_working_days

EU_MEMBER_STATES: frozenset[str] = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    }
)
INACTIVE_STATUSES: frozenset[str] = frozenset({"suspended", "lifted"})


def apply_export_control(state: MaterialState, event: ExportControl, at: float) -> bool:
    """Record a measure state; an event older than the stored state never regresses it."""
    stored = state.measures.get(event.measure_id)
    if stored is not None and at < stored.updated_at:
        return False
    destinations = event.destinations
    reaches_eu = destinations is None or any(c in EU_MEMBER_STATES for c in destinations)
    measure = state.measures[event.measure_id] = MeasureState(
        measure_id=event.measure_id,
        country=event.country,
        kind=event.measure,
        status=event.status,
        announced_at=event.announced_at.timestamp(),
        effective_at=event.effective_at.timestamp(),
        expires_at=None if event.expires_at is None else event.expires_at.timestamp(),
        coverage=event.coverage,
        reaches_eu=reaches_eu,
        updated_at=at,
        event_id=event.event_id,
        first_event_id=stored.first_event_id if stored is not None else event.event_id,
    )
    end = _latest_end(measure)
    if end < state.measures_min_end:
        state.measures_min_end = end
    state.view = None
    return True


def _latest_end(measure: MeasureState) -> float:
    """The value `ended_at` returns for this measure whenever it returns one (inf: never)."""
    if measure.status in INACTIVE_STATUSES:
        return measure.updated_at
    return math.inf if measure.expires_at is None else measure.expires_at


def ended_at(measure: MeasureState, now: float) -> float | None:
    """When the measure stopped mattering, or None while it still can."""
    if measure.status in INACTIVE_STATUSES:
        return measure.updated_at
    if measure.expires_at is not None and now >= measure.expires_at:
        return measure.expires_at
    return None


def measure_weight(measure: MeasureState, now: float, policy: Policy) -> tuple[float, float, float]:
    """(pressure weight, physical weight, next time the weights change) of one measure at `now`.

    Both weights include severity and coverage; the physical weight is zero before the measure
    is in force and for measures that do not reach the EU."""
    if ended_at(measure, now) is not None:
        return 0.0, 0.0, math.inf
    boundary = math.inf
    if measure.expires_at is not None:
        boundary = measure.expires_at
    if now < measure.effective_at:
        weight = policy.severity.get(measure.kind, 0.0) * policy.announced_weight
        physical = 0.0
        boundary = min(boundary, measure.effective_at)
    else:
        severity = policy.severity.get(measure.kind, 0.0)
        if measure.kind == "licensing":
            lag_end = add_working_days(measure.effective_at, policy.licensing_lag_working_days)
            if now < lag_end:
                severity = max(severity, policy.licensing_lag_severity)
                boundary = min(boundary, lag_end)
        weight = physical = severity
    weight *= measure.coverage
    physical *= measure.coverage
    if not measure.reaches_eu:
        weight *= policy.non_eu_destinations_weight
        physical = 0.0
    return weight, physical, boundary


def compute_view(
    state: MaterialState, profile: MaterialProfile, catalog: Catalog, now: float, policy: Policy
) -> PolicyView:
    """Pressure, physical shortfall and live SR from the active measures at `now`."""
    intensity: dict[str, float] = {}
    physical: dict[str, float] = {}
    valid_until = math.inf
    event_ids: list[str] = []
    reaches_eu = False
    for measure in state.measures.values():
        weight, phys, boundary = measure_weight(measure, now, policy)
        valid_until = min(valid_until, boundary)
        if weight <= 0.0:
            continue
        event_ids.append(measure.event_id)
        reaches_eu = reaches_eu or measure.reaches_eu
        country = measure.country
        intensity[country] = min(1.0, max(intensity.get(country, 0.0), weight))
        physical[country] = min(1.0, max(physical.get(country, 0.0), phys))
    uplift = policy.trade_factor_uplift
    sr_baseline = _baseline_sr(profile, catalog, uplift)
    sr_live, stage = supply_risk(profile, catalog, intensity, uplift)
    pressure, shock_stage, shortfall = 0.0, stage, 0.0
    for candidate in profile.stages:
        world = profile.global_supply.get(candidate) or {}
        eu = profile.eu_sourcing.get(candidate) or world
        restricted = sum(world.get(c, 0.0) * w for c, w in intensity.items())
        if restricted > pressure:
            pressure, shock_stage = restricted, candidate
        shortfall = max(shortfall, sum(eu.get(c, 0.0) * w for c, w in physical.items()))
    return PolicyView(
        pressure=min(1.0, pressure),
        shortfall=min(1.0, shortfall),
        sr_live=sr_live,
        sr_baseline=sr_baseline,
        stage=stage,
        shock_stage=shock_stage,
        valid_until=valid_until,
        event_ids=event_ids,
        countries=sorted(intensity),
        reaches_eu=reaches_eu,
    )


_BASELINES: dict[tuple[int, int, float], tuple[MaterialProfile, Catalog, float]] = {}


def _baseline_sr(profile: MaterialProfile, catalog: Catalog, uplift: float) -> float:
    """SR without live measures: a pure function of the (immutable) profile and catalog, so it
    is memoised by identity; entries hold both objects, so an id is never reused meanwhile."""
    key = (id(profile), id(catalog), uplift)
    hit = _BASELINES.get(key)
    if hit is not None and hit[0] is profile and hit[1] is catalog:
        return hit[2]
    value, _ = supply_risk(profile, catalog, {}, uplift)
    if len(_BASELINES) >= 256:
        _BASELINES.clear()
    _BASELINES[key] = (profile, catalog, value)
    return value


def prune_measures(state: MaterialState, now: float, policy: Policy) -> None:
    """Forget measures that ended long ago, and the oldest ended ones beyond the cap."""
    horizon = now - policy.measure_retention_days * DAY
    if state.measures_min_end >= horizon and len(state.measures) <= policy.max_measures:
        return  # no measure ended before the horizon: nothing to forget
    for measure_id, measure in list(state.measures.items()):
        end = ended_at(measure, now)
        if end is not None and end < horizon:
            del state.measures[measure_id]
    if len(state.measures) > policy.max_measures:
        ended = sorted(
            (end, mid) for mid, m in state.measures.items() if (end := ended_at(m, now)) is not None
        )
        for _, mid in ended[: len(state.measures) - policy.max_measures]:
            del state.measures[mid]
    state.measures_min_end = min(map(_latest_end, state.measures.values()), default=math.inf)
