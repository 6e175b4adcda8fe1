"""The catalog as plain, immutable data: what the pure risk core reads.

The files under `data/` carry a source and vintage for every number; the loader checks them and
produces these flat objects, so the core never sees provenance bookkeeping it does not need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Stage = Literal["extraction", "processing"]
EuStatus = Literal["critical", "strategic", "critical_and_strategic", "other"]
STAGES: tuple[Stage, ...] = ("extraction", "processing")


@dataclass(frozen=True, slots=True)
class CountryProfile:
    code: str
    name: str
    wgi_scaled: float
    """World Bank governance score rescaled to 0..10, 10 = worst (EU method)."""
    eu_trade_agreement: bool = False
    """An EU trade agreement covers flows from here (trade factor 0.8 in the EU method)."""
    eu_member: bool = False
    """An EU Member State: export controls aimed only at other destinations spare these flows."""


@dataclass(frozen=True, slots=True)
class MaterialProfile:
    code: str
    name: str
    eu_status: EuStatus
    global_supply: Mapping[Stage, Mapping[str, float]]
    """Share of world supply by country (0..1) per stage; the remainder is fragmented."""
    eu_sourcing: Mapping[Stage, Mapping[str, float]]
    """Share of EU sourcing (EU production + imports) by country per stage; may be empty."""
    import_reliance: float
    eol_rir: float
    substitution_index: float
    """SI_SR, 0..1, 1 = no substitute."""
    economic_importance: float
    eu_consumption_t: float
    """EU apparent consumption, tonnes per year."""
    eu_net_imports_t: float
    """EU net imports, tonnes per year (CRMA Art. 23 benchmark base)."""
    target_days: float
    floor_days: float
    published_supply_risk: float | None = None
    published_trade_factors: Mapping[str, float] = field(default_factory=dict)
    """Trade factors t_c the 2023 exercise applied (country -> factor), default 1.

    Where the exercise set different factors per stage, this holds the larger one; the per-stage
    values are in `stage_trade_factors`."""
    stage_trade_factors: Mapping[Stage, Mapping[str, float]] = field(default_factory=dict)
    """Trade factors per stage as published (stage -> country -> factor)."""
    quantity_basis: str = ""
    """What a tonne means for this material (e.g. 't Co content'): stock and imports share it."""

    @property
    def daily_net_imports_t(self) -> float:
        return self.eu_net_imports_t / 365.0

    @property
    def stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in STAGES if self.global_supply.get(s))


@dataclass(frozen=True, slots=True)
class Catalog:
    version: str
    materials: Mapping[str, MaterialProfile]
    countries: Mapping[str, CountryProfile]

    def material(self, code: str) -> MaterialProfile:
        return self.materials[code]

    def is_eu_member(self, country: str) -> bool:
        profile = self.countries.get(country)
        return profile.eu_member if profile else False

    def wgi(self, country: str) -> float:
        """Scaled WGI of a country; an unlisted country gets the median-ish 5.0 (neutral)."""
        profile = self.countries.get(country)
        return profile.wgi_scaled if profile else 5.0
