"""Small, hand-written catalogs and event builders for the risk-core unit tests.

Numbers are round and illustrative (shaped like the 2023 EU assessment: gallium ~98% Chinese
refining, germanium ~60%), so the tests read as arithmetic, not as a copy of the real catalog.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from mineral_sentinel.catalog.model import Catalog, CountryProfile, MaterialProfile
from mineral_sentinel.contracts.events import (
    ExportControl,
    PriceObserved,
    ShipmentUpdated,
    StockpilePosition,
)
from mineral_sentinel.risk import MaterialState, Outputs, Policy, apply_event, initial_state

T0 = datetime(2023, 6, 1, tzinfo=UTC)


def _country(code: str, wgi: float, fta: bool = False) -> CountryProfile:
    return CountryProfile(code=code, name=code, wgi_scaled=wgi, eu_trade_agreement=fta)


def make_catalog() -> Catalog:
    countries = {
        c.code: c
        for c in (
            _country("CN", 6.2),
            _country("JP", 1.8, fta=True),
            _country("DE", 1.6),
            _country("US", 2.6),
            _country("ID", 5.1),
            _country("PH", 5.6),
            _country("RU", 7.4),
            _country("CD", 8.5),
            _country("AU", 1.7),
        )
    }
    gallium = MaterialProfile(
        code="gallium",
        name="Gallium",
        eu_status="critical_and_strategic",
        global_supply=MappingProxyType({"processing": {"CN": 0.98, "JP": 0.01, "RU": 0.01}}),
        eu_sourcing=MappingProxyType({"processing": {"CN": 0.71, "DE": 0.15, "JP": 0.14}}),
        import_reliance=0.98,
        eol_rir=0.0,
        substitution_index=0.98,
        economic_importance=3.7,
        eu_consumption_t=40.0,
        eu_net_imports_t=36.5,
        target_days=90.0,
        floor_days=30.0,
    )
    germanium = MaterialProfile(
        code="germanium",
        name="Germanium",
        eu_status="critical_and_strategic",
        global_supply=MappingProxyType({"processing": {"CN": 0.6, "RU": 0.05, "US": 0.05}}),
        eu_sourcing=MappingProxyType({"processing": {"CN": 0.45, "US": 0.2}}),
        import_reliance=0.42,
        eol_rir=0.02,
        substitution_index=0.94,
        economic_importance=3.6,
        eu_consumption_t=70.0,
        eu_net_imports_t=36.5,
        target_days=90.0,
        floor_days=30.0,
    )
    nickel = MaterialProfile(
        code="nickel",
        name="Nickel",
        eu_status="critical_and_strategic",
        global_supply=MappingProxyType(
            {
                "extraction": {"ID": 0.5, "PH": 0.1, "RU": 0.06, "AU": 0.05},
                "processing": {"ID": 0.35, "CN": 0.3, "JP": 0.05},
            }
        ),
        eu_sourcing=MappingProxyType({"extraction": {}, "processing": {"RU": 0.3, "AU": 0.1}}),
        import_reliance=0.75,
        eol_rir=0.16,
        substitution_index=0.92,
        economic_importance=5.7,
        eu_consumption_t=365_000.0,
        eu_net_imports_t=273_750.0,
        target_days=60.0,
        floor_days=20.0,
        published_trade_factors=MappingProxyType({"ID": 1.3}),
    )
    return Catalog(
        version="test",
        materials=MappingProxyType({m.code: m for m in (gallium, germanium, nickel)}),
        countries=MappingProxyType(countries),
    )


CATALOG = make_catalog()
POLICY = Policy()


class Events:
    """Builds valid input events with unique, readable ids (`p1`, `s2`, `x3`, `k4`)."""

    def __init__(self, material: str = "gallium") -> None:
        self.material = material
        self._ids: Iterator[int] = itertools.count(1)

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def price(
        self,
        at: datetime,
        price: float,
        *,
        market: str | None = "rotterdam",
        source: str = "fastmarkets",
        currency: str = "USD",
        unit: str = "kg",
        event_id: str | None = None,
        material: str | None = None,
    ) -> PriceObserved:
        return PriceObserved(
            event_id=event_id or self._id("p"),
            material=material or self.material,
            observed_at=at,
            price=price,
            currency=currency,
            unit=unit,  # type: ignore[arg-type]
            source=source,
            market=market,
        )

    def shipment(
        self,
        at: datetime,
        shipment_id: str,
        status: str,
        quantity_t: float,
        *,
        event_id: str | None = None,
    ) -> ShipmentUpdated:
        return ShipmentUpdated(
            event_id=event_id or self._id("s"),
            shipment_id=shipment_id,
            material=self.material,
            status=status,  # type: ignore[arg-type]
            origin_country="CN",
            destination_country="NL",
            quantity_t=quantity_t,
            planned_arrival=date(2023, 9, 1),
            occurred_at=at,
        )

    def control(
        self,
        *,
        status: str,
        announced_at: datetime,
        effective_at: datetime,
        measure: str = "licensing",
        measure_id: str = "cn-ga-ge-2023",
        country: str = "CN",
        materials: Sequence[str] | None = None,
        coverage: float = 1.0,
        expires_at: datetime | None = None,
        destinations: list[str] | None = None,
        event_id: str | None = None,
    ) -> ExportControl:
        return ExportControl(
            event_id=event_id or self._id("x"),
            measure_id=measure_id,
            country=country,
            materials=list(materials or [self.material]),
            measure=measure,  # type: ignore[arg-type]
            status=status,  # type: ignore[arg-type]
            announced_at=announced_at,
            effective_at=effective_at,
            expires_at=expires_at,
            coverage=coverage,
            destinations=destinations,
            summary="test measure",
        )

    def position(
        self,
        at: datetime,
        stock_t: float,
        *,
        event_id: str | None = None,
        holder: str | None = None,
        floor_t: float | None = None,
        target_t: float | None = None,
    ) -> StockpilePosition:
        return StockpilePosition(
            event_id=event_id or self._id("k"),
            material=self.material,
            stock_t=stock_t,
            as_of=at,
            holder=holder,
            floor_t=floor_t,
            target_t=target_t,
        )


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def fold(
    events: Sequence[Any],
    *,
    material: str = "gallium",
    state: MaterialState | None = None,
    policy: Policy = POLICY,
    catalog: Catalog = CATALOG,
) -> tuple[MaterialState, list[Outputs]]:
    """Apply events in order; returns the final state and every Outputs."""
    current = state if state is not None else initial_state(material)
    outputs: list[Outputs] = []
    for event in events:
        current, out = apply_event(current, event, catalog, policy)
        outputs.append(out)
    return current, outputs


def calm_prices(
    ev: Events, start: float, days: int, level: float = 300.0, step: float = 0.004
) -> list[PriceObserved]:
    """Daily prints gently alternating around `level` (never flat, never a shock)."""
    return [ev.price(day(start + i), level * (1 + (step if i % 2 else -step))) for i in range(days)]
