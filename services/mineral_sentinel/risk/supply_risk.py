"""EU criticality-method supply risk (JRC, 2017/2020/2023 lists), computed live.

SR = [HHI_GS * IR/2 + HHI_EU * (1 - IR/2)] * (1 - EoL_RIR) * SI_SR per life-cycle stage, with
HHI = sum_c S_c^2 * WGI_c * t_c. The EU method writes shares in percent and divides the HHI by
10,000; the catalog holds shares as fractions (0..1), and (100 s)^2 / 10,000 = s^2, so with
fractions the HHI needs no rescaling: a single supplier (s = 1) with the worst governance
(WGI = 10) and a neutral trade factor gives HHI = 10, the top of the ~0..10 SR scale.

Live: an active export control of country c on the material raises t_c to at least
1 + uplift * intensity (intensity 0..1 from severity, coverage, phase, destinations). A factor the
published exercise already applied for the same restriction (e.g. Indonesia-nickel 1.3) is not
counted twice: the larger of the two wins.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..catalog.model import STAGES, Catalog, MaterialProfile, Stage


def base_trade_factor(
    profile: MaterialProfile, catalog: Catalog, country: str, stage: Stage | None = None
) -> float:
    """t_c before live measures: the published factor (per stage where the exercise set one),
    0.8 under an EU trade agreement, else 1."""
    if stage is not None:
        per_stage = profile.stage_trade_factors.get(stage)
        if per_stage:
            return per_stage.get(country) or _default_factor(catalog, country)
    published = profile.published_trade_factors.get(country)
    if published is not None:
        return published
    return _default_factor(catalog, country)


def _default_factor(catalog: Catalog, country: str) -> float:
    country_profile = catalog.countries.get(country)
    return 0.8 if country_profile is not None and country_profile.eu_trade_agreement else 1.0


def hhi(
    shares: Mapping[str, float],
    profile: MaterialProfile,
    catalog: Catalog,
    intensity: Mapping[str, float],
    uplift: float,
    stage: Stage | None = None,
) -> float:
    """Governance- and trade-weighted concentration, 0..10 with fractional shares."""
    total = 0.0
    for country, share in shares.items():
        factor = base_trade_factor(profile, catalog, country, stage)
        live = intensity.get(country, 0.0)
        if live > 0.0:
            factor = max(factor, 1.0 + uplift * live)
        total += share * share * catalog.wgi(country) * factor
    return total


def stage_supply_risk(
    profile: MaterialProfile,
    catalog: Catalog,
    stage: Stage,
    intensity: Mapping[str, float],
    uplift: float,
) -> float:
    """SR of one stage; EU sourcing falls back to global supply when the catalog has none."""
    global_shares = profile.global_supply.get(stage) or {}
    eu_shares = profile.eu_sourcing.get(stage) or global_shares
    ir = min(1.0, max(0.0, profile.import_reliance))
    concentration = hhi(global_shares, profile, catalog, intensity, uplift, stage) * ir / 2.0 + hhi(
        eu_shares, profile, catalog, intensity, uplift, stage
    ) * (1.0 - ir / 2.0)
    return concentration * (1.0 - profile.eol_rir) * profile.substitution_index


def supply_risk(
    profile: MaterialProfile,
    catalog: Catalog,
    intensity: Mapping[str, float],
    uplift: float,
) -> tuple[float, Stage]:
    """(SR at the bottleneck stage, that stage): the higher stage is the bottleneck."""
    best: tuple[float, Stage] = (0.0, "extraction")
    for stage in STAGES:
        if not profile.global_supply.get(stage):
            continue
        value = stage_supply_risk(profile, catalog, stage, intensity, uplift)
        if value > best[0]:
            best = (value, stage)
    return best
