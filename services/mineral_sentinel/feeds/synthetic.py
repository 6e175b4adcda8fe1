"""Seeded, deterministic generator of the sample scenarios and of synthetic benchmark streams.

`python -m mineral_sentinel.feeds.synthetic --out scenarios/` rewrites every file under
scenarios/; the same seed always gives byte-identical files. Dates and the sizes of measures come
from docs/domain-facts.md (see scenarios/README.md); price *levels* are illustrative, only
their moves follow the facts, and noise comes from `random.Random(seed)`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

Anchor = tuple[str, float]
"""(ISO date, price level): the path is log-linear between anchors, a step where dates repeat."""


def _dt(day: date, hour: int = 16, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _d(text: str) -> date:
    return date.fromisoformat(text)


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def _level(anchors: Sequence[Anchor], day: date) -> float:
    points = [(_d(a), v) for a, v in anchors]
    if day <= points[0][0]:
        return points[0][1]
    for (d0, v0), (d1, v1) in itertools.pairwise(points):
        if d0 <= day < d1:
            frac = (day - d0).days / max(1, (d1 - d0).days)
            return math.exp(math.log(v0) + frac * (math.log(v1) - math.log(v0)))
    return points[-1][1]


@dataclass
class Scenario:
    """Collects events with their event time; `lines()` orders them by time (stable)."""

    name: str
    seed: int
    rng: random.Random = field(init=False)
    _events: list[tuple[datetime, int, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _add(self, at: datetime, event: dict[str, Any]) -> None:
        self._events.append((at, len(self._events), event))

    def lines(self) -> list[str]:
        ordered = sorted(self._events, key=lambda item: (item[0], item[1]))
        out = []
        for index, (_, _, event) in enumerate(ordered, start=1):
            out.append(
                json.dumps({"event_id": f"{self.name}-{index:05d}", **event}, separators=(",", ":"))
            )
        return out

    # ---- event builders -------------------------------------------------------------------
    def prices(
        self,
        material: str,
        anchors: Sequence[Anchor],
        start: str,
        end: str,
        *,
        market: str,
        currency: str = "USD",
        unit: str = "kg",
        source: str = "fastmarkets",
        grade: str | None = None,
        noise: float = 0.008,
        every_days: int = 1,
        flat_runs: int = 0,
    ) -> None:
        """Weekday prints around the anchor path; AR(1) noise. `flat_runs` > 0 makes an
        illiquid assessment that repeats its last price for that many prints in a row."""
        deviation = 0.0
        last: float | None = None
        repeat = 0
        for n, day in enumerate(d for d in _days(_d(start), _d(end)) if d.weekday() < 5):
            if n % every_days:
                continue
            deviation = 0.7 * deviation + self.rng.gauss(0.0, noise)
            price = round(_level(anchors, day) * math.exp(deviation), 2)
            if flat_runs and last is not None and repeat < flat_runs:
                price, repeat = last, repeat + 1
            else:
                repeat = 0
            last = price
            event: dict[str, Any] = {
                "type": "price_observed",
                "material": material,
                "observed_at": _iso(_dt(day)),
                "price": price,
                "currency": currency,
                "unit": unit,
                "source": source,
                "market": market,
            }
            if grade:
                event["grade"] = grade
            self._add(_dt(day), event)

    def shipment(
        self,
        material: str,
        shipment_id: str,
        origin: str,
        quantity_t: float,
        timeline: Sequence[tuple[str, str]],
        *,
        destination: str = "NL",
        planned: str | None = None,
        eta: str | None = None,
        chokepoints: Sequence[str] = (),
    ) -> None:
        """One shipment through its statuses: [(ISO date, status), ...]; `eta` (the revised
        arrival) is sent with every status after the first `delayed` one."""
        planned_arrival = planned or timeline[-1][0]
        late = False
        for when, status in timeline:
            at = _dt(_d(when), 9)
            late = late or status == "delayed"
            event: dict[str, Any] = {
                "type": "shipment_updated",
                "shipment_id": shipment_id,
                "material": material,
                "status": status,
                "origin_country": origin,
                "destination_country": destination,
                "quantity_t": quantity_t,
                "planned_arrival": planned_arrival,
                "occurred_at": _iso(at),
            }
            if eta and late:
                event["eta"] = eta
            if chokepoints:
                event["chokepoints"] = list(chokepoints)
            self._add(at, event)

    def routine_shipments(
        self,
        material: str,
        origins: Sequence[str],
        monthly_t: float,
        start: str,
        end: str,
        *,
        prefix: str,
        delays: int = 0,
        skip: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Two shipments a month, booked 35 days before arrival; `delays` of them run late.
        Shipments arriving inside a `skip` window (from restricted origins) are left out."""
        arrivals = [d for d in _days(_d(start), _d(end)) if d.day in (5, 20)]
        late = set(self.rng.sample(range(len(arrivals)), k=min(delays, len(arrivals))))
        for n, arrive in enumerate(arrivals):
            origin = origins[n % len(origins)]
            if any(_d(a) <= arrive <= _d(b) for a, b in skip) and origin == origins[0]:
                continue
            quantity = round(monthly_t / 2 * self.rng.uniform(0.85, 1.15), 3)
            booked = arrive - timedelta(days=35)
            steps = [
                (booked, "booked"),
                (booked + timedelta(days=5), "departed"),
                (booked + timedelta(days=12), "in_transit"),
            ]
            if n in late:
                steps.append((arrive - timedelta(days=2), "delayed"))
                arrive = arrive + timedelta(days=6)
            steps.append((arrive, "arrived"))
            self.shipment(
                material,
                f"{prefix}-{n:03d}",
                origin,
                quantity,
                [(d.isoformat(), s) for d, s in steps],
                planned=(booked + timedelta(days=35)).isoformat(),
            )

    def positions(self, material: str, stock: Sequence[Anchor], start: str, end: str) -> None:
        """A stockpile position on the first of every month (step path from `stock`)."""
        for day in _days(_d(start), _d(end)):
            if day.day != 1:
                continue
            level = max((v for d, v in stock if _d(d) <= day), default=stock[0][1])
            at = _dt(day, 0)
            self._add(
                at,
                {
                    "type": "stockpile_position",
                    "material": material,
                    "stock_t": level,
                    "as_of": _iso(at),
                    "holder": "eu_pilot_scheme",
                },
            )

    def control(
        self,
        when: str,
        *,
        measure_id: str,
        country: str,
        materials: Sequence[str],
        measure: str,
        status: str,
        announced: str,
        effective: str,
        summary: str,
        expires: str | None = None,
        coverage: float | None = None,
        source_url: str | None = None,
        destinations: Sequence[str] | None = None,
    ) -> None:
        at = datetime.fromisoformat(when)
        event: dict[str, Any] = {
            "type": "export_control",
            "measure_id": measure_id,
            "country": country,
            "materials": list(materials),
            "measure": measure,
            "status": status,
            "announced_at": announced,
            "effective_at": effective,
            "summary": summary,
        }
        if expires:
            event["expires_at"] = expires
        if coverage is not None:
            event["coverage"] = coverage
        if source_url:
            event["source_url"] = source_url
        if destinations is not None:
            event["destinations"] = list(destinations)
        self._add(at, event)


# ---- the sample scenarios ----------------------------------------------------------------


def china_gallium_germanium_2023() -> Scenario:
    s = Scenario("cn-ga-ge-2023", seed=2023_07_03)
    start, end = "2023-04-03", "2024-08-30"
    s.prices(
        "gallium",
        [
            ("2023-04-03", 270),
            ("2023-07-03", 268),
            ("2023-07-06", 300),
            ("2023-08-01", 325),
            ("2023-10-02", 345),
            ("2024-03-01", 470),
            ("2024-04-15", 500),
            ("2024-06-01", 480),
            ("2024-08-30", 478),
        ],
        start,
        end,
        market="rotterdam",
        grade="99.99%",
        noise=0.006,
    )
    s.prices(
        "gallium",
        [
            ("2023-04-03", 235),
            ("2023-07-03", 236),
            ("2023-07-06", 246),
            ("2023-08-01", 240),
            ("2023-10-02", 215),
            ("2024-03-01", 300),
            ("2024-04-15", 420),
            ("2024-06-01", 415),
            ("2024-08-30", 414),
        ],
        start,
        end,
        market="china_domestic",
        grade="99.99%",
        noise=0.006,
    )
    s.prices(
        "germanium",
        [
            ("2023-04-03", 1300),
            ("2023-07-03", 1290),
            ("2023-07-05", 1390),
            ("2023-08-01", 1420),
            ("2023-10-02", 1480),
            ("2024-03-01", 1750),
            ("2024-04-15", 1800),
            ("2024-08-30", 1790),
        ],
        start,
        end,
        market="rotterdam",
        grade="99.999%",
        noise=0.005,
    )
    s.prices(
        "germanium",
        [("2023-04-03", 1250), ("2024-08-30", 1350)],
        start,
        end,
        market="china_domestic",
        grade="99.999%",
        noise=0.004,
        every_days=5,
        flat_runs=3,
    )
    s.control(
        "2023-07-03T08:00:00+00:00",
        measure_id="cn-mofcom-2023-23",
        country="CN",
        materials=["gallium", "germanium"],
        measure="licensing",
        status="announced",
        announced="2023-07-03T08:00:00Z",
        effective="2023-08-01T00:00:00+08:00",
        summary="MOFCOM/GAC announcement 2023 No. 23: dual-use export licensing for "
        "gallium and germanium items from 1 August 2023",
        source_url="http://www.mofcom.gov.cn/",
    )
    s.control(
        "2023-08-01T00:00:00+08:00",
        measure_id="cn-mofcom-2023-23",
        country="CN",
        materials=["gallium", "germanium"],
        measure="licensing",
        status="effective",
        announced="2023-07-03T08:00:00Z",
        effective="2023-08-01T00:00:00+08:00",
        summary="Licensing in force; exports near zero until the first licences (2023-09-21)",
    )
    s.control(
        "2024-04-02T00:00:00+00:00",
        measure_id="cn-mofcom-2023-23",
        country="CN",
        materials=["gallium", "germanium"],
        measure="licensing",
        status="suspended",
        announced="2023-07-03T08:00:00Z",
        effective="2024-04-02T00:00:00Z",
        summary="SYNTHETIC resolution for testing: licensing suspended (history has no "
        "such suspension in 2024)",
    )
    for material, monthly, origins in (
        ("gallium", 3.3, ["CN", "GB", "HK"]),
        ("germanium", 1.5, ["CN", "BE", "US"]),
    ):
        s.routine_shipments(
            material,
            origins,
            monthly,
            "2023-05-10",
            "2024-08-20",
            prefix=f"{material[:2]}",
            skip=[("2023-08-01", "2023-10-10")],
        )
        # front-running in July, then Chinese cargoes held under licensing until first licences
        s.shipment(
            material,
            f"{material[:2]}-front-1",
            "CN",
            monthly * 0.6,
            [("2023-07-05", "booked"), ("2023-07-10", "departed"), ("2023-07-28", "arrived")],
        )
        for n, (held, released) in enumerate(
            (
                ("2023-08-02", "2023-09-26"),
                ("2023-08-16", "2023-10-05"),
                ("2023-09-01", "2023-10-12"),
            )
        ):
            s.shipment(
                material,
                f"{material[:2]}-held-{n}",
                "CN",
                monthly / 2,
                [
                    ("2023-07-20", "booked"),
                    (held, "held"),
                    (released, "in_transit"),
                    ((_d(released) + timedelta(days=12)).isoformat(), "arrived"),
                ],
                planned="2023-08-20",
            )
    s.positions("gallium", [("2023-04-01", 14.0)], start, end)
    s.positions("germanium", [("2023-04-01", 4.5)], start, end)
    return s


def china_graphite_2023() -> Scenario:
    s = Scenario("cn-graphite-2023", seed=2023_10_20)
    start, end = "2023-07-03", "2024-10-31"
    m = "natural_graphite"
    s.prices(
        m,
        [
            ("2023-07-03", 560),
            ("2023-10-19", 555),
            ("2023-10-24", 610),
            ("2023-12-01", 640),
            ("2024-02-01", 600),
            ("2024-06-01", 520),
            ("2024-10-31", 515),
        ],
        start,
        end,
        market="china_fob",
        unit="t",
        grade="flake -194 94-95% C",
        noise=0.005,
    )
    s.prices(
        m,
        [
            ("2023-07-03", 2900),
            ("2023-10-19", 2880),
            ("2023-10-25", 3150),
            ("2023-12-01", 3250),
            ("2024-06-01", 3000),
            ("2024-10-31", 2950),
        ],
        start,
        end,
        market="europe_cif",
        unit="t",
        grade="spherical 15um uncoated",
        noise=0.004,
        every_days=5,
        flat_runs=2,
    )
    s.control(
        "2023-10-20T09:00:00+00:00",
        measure_id="cn-mofcom-2023-39",
        country="CN",
        materials=[m],
        measure="licensing",
        status="announced",
        announced="2023-10-20T09:00:00Z",
        effective="2023-12-01T00:00:00+08:00",
        summary="MOFCOM/GAC announcement 2023 No. 39: export licensing for natural flake "
        "graphite incl. spheroidised and high-purity synthetic graphite",
    )
    s.control(
        "2023-12-01T00:00:00+08:00",
        measure_id="cn-mofcom-2023-39",
        country="CN",
        materials=[m],
        measure="licensing",
        status="effective",
        announced="2023-10-20T09:00:00Z",
        effective="2023-12-01T00:00:00+08:00",
        summary="Graphite licensing in force",
    )
    s.control(
        "2024-06-03T00:00:00+00:00",
        measure_id="cn-mofcom-2023-39",
        country="CN",
        materials=[m],
        measure="licensing",
        status="suspended",
        announced="2023-10-20T09:00:00Z",
        effective="2024-06-03T00:00:00Z",
        summary="SYNTHETIC resolution for testing: licensing suspended (no such "
        "suspension happened)",
    )
    s.routine_shipments(
        m,
        ["CN", "BR", "MZ"],
        8250.0,
        "2023-08-05",
        "2024-10-20",
        prefix="gr",
        delays=2,
        skip=[("2023-12-01", "2024-02-15")],
    )
    for n, (held, released) in enumerate(
        (("2023-12-02", "2024-01-22"), ("2023-12-15", "2024-02-05"))
    ):
        s.shipment(
            m,
            f"gr-held-{n}",
            "CN",
            4000.0,
            [
                ("2023-11-10", "booked"),
                (held, "held"),
                (released, "in_transit"),
                ((_d(released) + timedelta(days=14)).isoformat(), "arrived"),
            ],
            planned="2024-01-05",
        )
    s.positions(m, [("2023-07-01", 22000.0)], start, end)
    return s


def indonesia_nickel_2019() -> Scenario:
    s = Scenario("id-nickel-2019", seed=2019_08_30)
    start, end = "2019-05-01", "2020-12-31"
    m = "nickel"
    s.prices(
        m,
        [
            ("2019-05-01", 12100),
            ("2019-07-01", 12600),
            ("2019-08-29", 16100),
            ("2019-08-30", 17550),
            ("2019-09-02", 18470),
            ("2019-09-20", 17700),
            ("2019-11-01", 16300),
            ("2020-01-02", 14000),
            ("2020-03-20", 11300),
            ("2020-06-01", 12200),
            ("2020-09-01", 14800),
            ("2020-12-31", 16600),
        ],
        start,
        end,
        source="lme",
        market="lme_cash",
        unit="t",
        grade="primary nickel",
        noise=0.007,
    )
    s.control(
        "2019-08-30T10:00:00+07:00",
        measure_id="id-esdm-11-2019",
        country="ID",
        materials=[m],
        measure="ban",
        status="announced",
        announced="2019-08-30T10:00:00+07:00",
        effective="2020-01-01T00:00:00+07:00",
        summary="ESDM Regulation 11/2019: nickel ore export ban brought forward to 1 January 2020",
    )
    s.control(
        "2020-01-01T00:00:00+07:00",
        measure_id="id-esdm-11-2019",
        country="ID",
        materials=[m],
        measure="ban",
        status="effective",
        announced="2019-08-30T10:00:00+07:00",
        effective="2020-01-01T00:00:00+07:00",
        expires="2020-07-01T00:00:00+07:00",
        summary="Ore export ban in force. SYNTHETIC expires_at 2020-07-01 for testing the "
        "resolution path (the real ban remains in force)",
    )
    s.routine_shipments(
        m, ["RU", "AU", "CA"], 21700.0, "2019-06-05", "2020-12-20", prefix="ni", delays=3
    )
    s.positions(m, [("2019-05-01", 40000.0)], start, end)
    return s


def drc_cobalt_2025() -> Scenario:
    s = Scenario("cd-cobalt-2025", seed=2025_02_22)
    start, end = "2024-12-02", "2026-07-31"
    m = "cobalt"
    s.prices(
        m,
        [
            ("2024-12-02", 10.6),
            ("2025-02-21", 10.1),
            ("2025-02-26", 11.6),
            ("2025-03-31", 15.5),
            ("2025-06-20", 15.0),
            ("2025-06-24", 16.2),
            ("2025-09-22", 18.5),
            ("2025-10-31", 23.5),
            ("2026-01-15", 24.5),
            ("2026-03-02", 24.0),
            ("2026-05-01", 22.5),
            ("2026-07-31", 22.4),
        ],
        start,
        end,
        market="rotterdam",
        unit="lb",
        grade="standard grade 99.8%",
        noise=0.006,
    )
    s.prices(
        m,
        [
            ("2024-12-02", 0.56),
            ("2025-02-21", 0.55),
            ("2025-03-15", 0.92),
            ("2025-10-31", 0.97),
            ("2026-07-31", 0.95),
        ],
        start,
        end,
        market="cif_china",
        unit="lb",
        grade="hydroxide payable (fraction)",
        noise=0.004,
        every_days=5,
        flat_runs=3,
    )
    mid = "cd-are-cobalt-2025"
    common: dict[str, Any] = {
        "measure_id": mid,
        "country": "CD",
        "materials": [m],
        "measure": "ban",
        "announced": "2025-02-22T12:00:00+01:00",
        "effective": "2025-02-22T12:00:00+01:00",
    }
    s.control(
        "2025-02-22T12:00:00+01:00",
        status="effective",
        expires="2025-06-22T00:00:00Z",
        summary="ARECOMS: cobalt export suspension for four months",
        **common,
    )
    s.control(
        "2025-06-21T12:00:00+01:00",
        **{**common, "effective": "2025-06-21T12:00:00+01:00"},
        status="amended",
        expires="2025-09-21T00:00:00Z",
        summary="ARECOMS: suspension extended by three months",
    )
    s.control(
        "2025-09-20T12:00:00+01:00",
        **{**common, "effective": "2025-09-20T12:00:00+01:00"},
        status="amended",
        expires="2025-10-16T00:00:00Z",
        summary="ARECOMS: suspension extended to 15 October, quotas from 16 October",
    )
    quota: dict[str, Any] = {
        "measure_id": "cd-are-cobalt-quota",
        "country": "CD",
        "materials": [m],
        "measure": "quota",
        "announced": "2025-09-20T12:00:00+01:00",
        "effective": "2025-10-16T00:00:00+01:00",
        "coverage": 0.55,
    }
    s.control(
        "2025-09-20T12:00:00+01:00",
        status="announced",
        summary="Export quotas: 18,125 t for the rest of 2025, 96,600 t/yr in 2026-27 "
        "(coverage ~ share of pre-ban exports cut)",
        **quota,
    )
    s.control(
        "2025-10-16T00:00:00+01:00",
        status="effective",
        summary="Cobalt export quotas in force",
        **quota,
    )
    s.control(
        "2026-03-02T00:00:00+00:00",
        **{**quota, "effective": "2026-03-02T00:00:00Z"},
        status="suspended",
        summary="SYNTHETIC resolution for testing: quotas suspended (history: quotas set "
        "for 2026-27)",
    )
    s.routine_shipments(
        m,
        ["CD", "ZM", "AU"],
        1650.0,
        "2025-01-05",
        "2026-07-20",
        prefix="co",
        skip=[("2025-03-25", "2026-03-31")],
    )
    for n, (when, status) in enumerate(
        (("2025-02-24", "held"), ("2025-02-27", "cancelled"), ("2025-03-05", "held"))
    ):
        s.shipment(
            m,
            f"co-stuck-{n}",
            "CD",
            900.0,
            [("2025-02-01", "booked"), (when, status)],
            destination="FI",
            planned="2025-03-20",
        )
    s.positions(m, [("2024-12-01", 5500.0)], start, end)
    return s


CALM_MATERIALS: tuple[tuple[str, float, str, str, float, int], ...] = (
    # material, price level, unit, market, share of monthly imports per shipment, flat runs
    ("gallium", 330.0, "kg", "rotterdam", 0.0, 0),
    ("germanium", 1450.0, "kg", "rotterdam", 0.0, 0),
    ("natural_graphite", 540.0, "t", "china_fob", 0.0, 0),
    ("cobalt", 15.0, "lb", "rotterdam", 0.0, 0),
    ("nickel", 16500.0, "t", "lme_cash", 0.0, 0),
    ("lithium", 13.5, "kg", "china_domestic", 0.0, 0),
    ("tungsten", 340.0, "mtu", "rotterdam", 0.0, 2),
    ("antimony", 12500.0, "t", "rotterdam", 0.0, 2),
    ("magnesium", 2900.0, "t", "china_fob", 0.0, 0),
    ("neodymium", 75.0, "kg", "china_domestic", 0.0, 3),
)


def calm_year() -> Scenario:
    """Ten materials, ordinary noise, routine shipments (a few short delays), no controls."""
    from ..catalog.loader import load_catalog

    catalog = load_catalog()
    s = Scenario("calm-2024", seed=2024)
    start, end = "2024-01-02", "2024-12-31"
    for n, (material, level, unit, market, _, flat) in enumerate(CALM_MATERIALS):
        drift = level * s.rng.uniform(0.95, 1.05)
        every = 5 if flat else 1
        s.prices(
            material,
            [(start, level), (end, drift)],
            start,
            end,
            market=market,
            unit=unit,
            noise=0.006,
            every_days=every,
            flat_runs=flat,
        )
        profile = catalog.material(material)
        monthly = profile.eu_net_imports_t / 12.0
        s.routine_shipments(
            material,
            ["AU", "CA", "BR"],
            monthly,
            "2024-02-05",
            "2024-12-20",
            prefix=f"calm-{material[:3]}",
            delays=1,
        )
        daily = profile.eu_net_imports_t / 365.0
        cover = profile.target_days * (0.85 if n % 3 == 0 else 1.1)
        s.positions(material, [("2024-01-01", round(cover * daily, 1))], start, end)
    return s


SCENARIOS = {
    "china_gallium_germanium_2023": china_gallium_germanium_2023,
    "china_graphite_2023": china_graphite_2023,
    "indonesia_nickel_2019": indonesia_nickel_2019,
    "drc_cobalt_2025": drc_cobalt_2025,
    "calm_year": calm_year,
}


def write_scenarios(out_dir: Path) -> dict[str, int]:
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, build in SCENARIOS.items():
        lines = build().lines()
        (out_dir / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        counts[name] = len(lines)
    return counts


# ---- benchmark streams ---------------------------------------------------------------------

_T0 = datetime(2025, 1, 1, tzinfo=UTC)


def synthetic_stream(
    n_events: int, materials: Sequence[str], seed: int = 7
) -> Iterator[dict[str, Any]]:
    """An endless-looking mix of events across `materials` (88% prices on two markets, 8%
    shipments, 3% positions, 1% export controls cycling announced/effective/lifted), one event
    per minute of event time per material slot, as dicts ready for JSON or model_validate."""
    rng = random.Random(seed)
    prices = {m: 100.0 * rng.uniform(0.5, 2.0) for m in materials}
    phase: dict[str, int] = {}
    for n in range(n_events):
        material = materials[n % len(materials)]
        at = _iso(_T0 + timedelta(minutes=n // len(materials) * 10))
        event_id = f"bench-{n}"
        roll = rng.random()
        if roll < 0.88:
            prices[material] *= math.exp(rng.gauss(0.0, 0.01))
            yield {
                "type": "price_observed",
                "event_id": event_id,
                "material": material,
                "observed_at": at,
                "price": round(prices[material], 4),
                "currency": "USD",
                "unit": "kg",
                "source": "bench",
                "market": "rotterdam" if roll < 0.6 else "china_domestic",
            }
        elif roll < 0.96:
            yield {
                "type": "shipment_updated",
                "event_id": event_id,
                "shipment_id": f"{material}-{rng.randrange(200)}",
                "material": material,
                "status": rng.choice(["booked", "departed", "in_transit", "delayed", "arrived"]),
                "origin_country": "AU",
                "destination_country": "NL",
                "quantity_t": round(rng.uniform(1, 50), 2),
                "planned_arrival": "2025-03-01",
                "occurred_at": at,
            }
        elif roll < 0.99:
            yield {
                "type": "stockpile_position",
                "event_id": event_id,
                "material": material,
                "stock_t": round(rng.uniform(100, 10_000), 1),
                "as_of": at,
            }
        else:
            step = phase.get(material, 0)
            phase[material] = step + 1
            status = ("announced", "effective", "lifted")[step % 3]
            yield {
                "type": "export_control",
                "event_id": event_id,
                "measure_id": f"bench-{material}-{step // 3}",
                "country": "CN",
                "materials": [material],
                "measure": "licensing",
                "status": status,
                "announced_at": at,
                "effective_at": at,
                "summary": "bench measure",
            }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("scenarios"))
    args = parser.parse_args(argv)
    for name, count in write_scenarios(args.out).items():
        print(f"{name}: {count} lines")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
