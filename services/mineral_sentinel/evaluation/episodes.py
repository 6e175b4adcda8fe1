"""Seeded generator of the labelled episodes' event files (`episodes/*.jsonl`).

`python -m mineral_sentinel.evaluation.episodes --out episodes/` rewrites them; the same seeds
give byte-identical files and a unit test fails when the committed copies drift. The labels
(`episodes/*.json`) are written by hand: they state what the service should have said, from
dated public facts. Here, the *dates* of measures and disruptions are those facts; price levels,
tonnes, stock positions and the exact hours of prints are illustrative (see docs/evaluation.md).
The builders are the sample scenarios' (`feeds.synthetic.Scenario`), so both speak one dialect.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from ..catalog.loader import load_catalog
from ..catalog.model import Catalog
from ..feeds.synthetic import Anchor, Scenario

RED_SEA = ("bab_el_mandeb", "suez_canal")


@cache
def _catalog() -> Catalog:
    return load_catalog()


def _monthly_t(material: str) -> float:
    return _catalog().material(material).eu_net_imports_t / 12.0


def _steady(
    s: Scenario,
    material: str,
    origins: Sequence[str],
    start: str,
    end: str,
    *,
    cover_of_target: float,
    prefix: str,
    delays: int = 0,
    skip: Sequence[tuple[str, str]] = (),
) -> None:
    """Routine EU-bound shipments (two a month, the catalog's net imports) and a monthly stock
    position at `cover_of_target` times the material's target days of cover."""
    s.routine_shipments(
        material,
        origins,
        _monthly_t(material),
        start,
        end,
        prefix=prefix,
        delays=delays,
        skip=skip,
    )
    profile = _catalog().material(material)
    stock = round(cover_of_target * profile.target_days * profile.eu_net_imports_t / 365.0, 1)
    s.positions(material, [(start, stock)], start, end)


def _flat(level: float, start: str, end: str, drift: float = 1.0) -> list[Anchor]:
    return [(start, level), (end, level * drift)]


def gallium_germanium_2023() -> Scenario:
    s = Scenario("ep-ga-ge-2023", seed=2023_07_03)
    start, end = "2023-04-03", "2024-01-31"
    s.prices(
        "gallium",
        [
            ("2023-04-03", 270),
            ("2023-07-03", 268),
            ("2023-07-06", 300),
            ("2023-08-01", 325),
            ("2023-10-02", 345),
            ("2024-01-31", 390),
        ],
        start,
        end,
        market="rotterdam",
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
            ("2024-01-31", 1600),
        ],
        start,
        end,
        market="rotterdam",
        grade="99.999%",
        noise=0.005,
    )
    common: dict[str, Any] = {
        "measure_id": "cn-mofcom-2023-23",
        "country": "CN",
        "materials": ["gallium", "germanium"],
        "measure": "licensing",
        "announced": "2023-07-03T08:00:00Z",
        "effective": "2023-08-01T00:00:00+08:00",
    }
    s.control(
        "2023-07-03T08:00:00+00:00",
        status="announced",
        summary="MOFCOM/GAC announcement 2023 No. 23: dual-use export licensing for gallium "
        "and germanium items from 1 August 2023",
        **common,
    )
    s.control(
        "2023-08-01T00:00:00+08:00",
        status="effective",
        summary="Licensing in force; China's customs recorded no gallium or germanium exports "
        "in August 2023",
        **common,
    )
    for material, origins in (("gallium", ["CN", "GB", "HK"]), ("germanium", ["CN", "BE", "US"])):
        _steady(
            s,
            material,
            origins,
            "2023-05-10",
            "2024-01-20",
            cover_of_target=0.45,
            prefix=f"ep-{material[:2]}",
            skip=[("2023-08-01", "2023-10-10")],
        )
        for n, (held, released) in enumerate(
            (("2023-08-02", "2023-09-26"), ("2023-08-16", "2023-10-05"))
        ):
            s.shipment(
                material,
                f"ep-{material[:2]}-held-{n}",
                "CN",
                round(_monthly_t(material) / 2, 3),
                [
                    ("2023-07-20", "booked"),
                    (held, "held"),
                    (released, "in_transit"),
                    ((date.fromisoformat(released) + timedelta(days=12)).isoformat(), "arrived"),
                ],
                planned="2023-08-20",
            )
    return s


def graphite_2023() -> Scenario:
    s = Scenario("ep-graphite-2023", seed=2023_10_20)
    start, end = "2023-08-01", "2024-03-29"
    m = "natural_graphite"
    s.prices(
        m,
        [
            ("2023-08-01", 560),
            ("2023-10-19", 555),
            ("2023-10-24", 610),
            ("2023-12-01", 640),
            ("2024-03-29", 590),
        ],
        start,
        end,
        market="china_fob",
        unit="t",
        grade="flake -194 94-95% C",
        noise=0.005,
    )
    common: dict[str, Any] = {
        "measure_id": "cn-mofcom-2023-39",
        "country": "CN",
        "materials": [m],
        "measure": "licensing",
        "announced": "2023-10-20T09:00:00Z",
        "effective": "2023-12-01T00:00:00+08:00",
    }
    s.control(
        "2023-10-20T09:00:00+00:00",
        status="announced",
        summary="MOFCOM/GAC announcement 2023 No. 39: export licensing for natural flake "
        "graphite incl. spheroidised and high-purity synthetic graphite from 1 December 2023",
        **common,
    )
    s.control(
        "2023-12-01T00:00:00+08:00",
        status="effective",
        summary="Graphite export licensing in force",
        **common,
    )
    _steady(
        s,
        m,
        ["CN", "BR", "MZ"],
        "2023-09-05",
        "2024-03-20",
        cover_of_target=0.8,
        prefix="ep-gr",
        skip=[("2023-12-01", "2024-02-15")],
    )
    return s


def antimony_2024() -> Scenario:
    s = Scenario("ep-sb-2024", seed=2024_08_15)
    start, end = "2024-06-03", "2024-11-29"
    m = "antimony"
    s.prices(
        m,
        [
            ("2024-06-03", 22000),
            ("2024-08-14", 23000),
            ("2024-08-20", 25500),
            ("2024-09-16", 28000),
            ("2024-11-29", 36000),
        ],
        start,
        end,
        market="rotterdam",
        unit="t",
        grade="regulus 99.65%",
        noise=0.005,
    )
    common: dict[str, Any] = {
        "measure_id": "cn-mofcom-2024-33",
        "country": "CN",
        "materials": [m],
        "measure": "licensing",
        "announced": "2024-08-15T08:00:00Z",
        "effective": "2024-09-15T00:00:00+08:00",
    }
    s.control(
        "2024-08-15T08:00:00+00:00",
        status="announced",
        summary="MOFCOM/GAC announcement 2024 No. 33: export licensing for antimony ores, "
        "metal and compounds from 15 September 2024",
        **common,
    )
    s.control(
        "2024-09-15T00:00:00+08:00",
        status="effective",
        summary="Antimony export licensing in force",
        **common,
    )
    _steady(
        s,
        m,
        ["CN", "VN", "TR"],
        "2024-06-05",
        "2024-11-20",
        cover_of_target=0.7,
        prefix="ep-sb",
        skip=[("2024-09-15", "2024-11-20")],
    )
    return s


def us_only_ban_2024() -> Scenario:
    """The US-only ban alone: EU-bound cargo keeps arriving, EU prices do not move."""
    s = Scenario("ep-us-ban-2024", seed=2024_12_03)
    start, end = "2024-11-01", "2025-12-31"
    for material, level, grade in (
        ("gallium", 550.0, "99.99%"),
        ("germanium", 2500.0, "99.999%"),
        ("antimony", 38000.0, "regulus 99.65%"),
    ):
        unit = "t" if material == "antimony" else "kg"
        s.prices(
            material,
            _flat(level, start, end),
            start,
            end,
            market="rotterdam",
            unit=unit,
            grade=grade,
            noise=0.005,
        )
        _steady(
            s,
            material,
            ["CN", "GB", "BE"],
            "2024-11-05",
            "2025-12-20",
            cover_of_target=1.05,
            prefix=f"ep-us-{material[:2]}",
        )
    common: dict[str, Any] = {
        "measure_id": "cn-mofcom-2024-46",
        "country": "CN",
        "materials": ["gallium", "germanium", "antimony"],
        "measure": "ban",
        "announced": "2024-12-03T04:00:00Z",
        "effective": "2024-12-03T04:00:00Z",
        "destinations": ["US"],
    }
    s.control(
        "2024-12-03T04:00:00+00:00",
        status="effective",
        summary="MOFCOM announcement 2024 No. 46: exports of gallium, germanium, antimony and "
        "superhard materials to the United States are in principle not permitted",
        **common,
    )
    s.control(
        "2025-11-09T04:00:00+00:00",
        **{**common, "effective": "2025-11-09T04:00:00Z"},
        status="suspended",
        summary="MOFCOM announcement 2025 No. 72: the US-only ban suspended until 27 November 2026",
    )
    return s


def tungsten_bismuth_2025() -> Scenario:
    s = Scenario("ep-w-bi-2025", seed=2025_02_04)
    start, end = "2024-11-01", "2025-06-30"
    s.prices(
        "tungsten",
        [("2024-11-01", 400), ("2025-02-03", 405), ("2025-02-10", 430), ("2025-06-30", 520)],
        start,
        end,
        market="rotterdam",
        unit="mtu",
        grade="APT 88.5%",
        noise=0.004,
    )
    s.prices(
        "bismuth",
        [("2024-11-01", 12.0), ("2025-02-03", 12.2), ("2025-02-14", 20.0), ("2025-06-30", 45.0)],
        start,
        end,
        market="rotterdam",
        grade="99.99%",
        noise=0.006,
    )
    s.control(
        "2025-02-04T08:00:00+00:00",
        measure_id="cn-mofcom-2025-10",
        country="CN",
        materials=["tungsten", "bismuth"],
        measure="licensing",
        status="effective",
        announced="2025-02-04T08:00:00Z",
        effective="2025-02-04T08:00:00Z",
        summary="MOFCOM/GAC announcement 2025 No. 10: export licensing for tungsten, tellurium, "
        "bismuth, molybdenum and indium items, effective on publication",
    )
    for material, origins, cover in (
        ("tungsten", ["CN", "VN", "AT"], 0.9),
        ("bismuth", ["CN", "LA", "KR"], 0.6),
    ):
        _steady(
            s,
            material,
            origins,
            "2024-11-05",
            "2025-06-20",
            cover_of_target=cover,
            prefix=f"ep-{material[:2]}",
            skip=[("2025-02-04", "2025-04-20")],
        )
    return s


RARE_EARTHS_2025 = ("dysprosium", "terbium", "samarium", "gadolinium", "scandium")


def rare_earths_2025() -> Scenario:
    s = Scenario("ep-ree-2025", seed=2025_04_04)
    start, end = "2025-01-02", "2025-09-30"
    levels = {
        "dysprosium": (230.0, 3.0),
        "terbium": (900.0, 3.0),
        "samarium": (60.0, 2.0),
        "gadolinium": (25.0, 1.6),
        "scandium": (850.0, 1.3),
    }
    for material, (level, rise) in levels.items():
        s.prices(
            material,
            [
                (start, level),
                ("2025-04-03", level),
                ("2025-04-17", level * (1 + (rise - 1) / 4)),
                ("2025-06-16", level * rise),
                (end, level * rise),
            ],
            start,
            end,
            market="rotterdam",
            grade="oxide 99.5%",
            noise=0.006,
            every_days=5,
            flat_runs=1,
        )
    s.control(
        "2025-04-04T08:00:00+00:00",
        measure_id="cn-mofcom-2025-18",
        country="CN",
        materials=list(RARE_EARTHS_2025),
        measure="licensing",
        status="effective",
        announced="2025-04-04T08:00:00Z",
        effective="2025-04-04T08:00:00Z",
        summary="MOFCOM/GAC announcement 2025 No. 18: export licensing for samarium, "
        "gadolinium, terbium, dysprosium, lutetium, scandium and yttrium items, effective on "
        "publication",
    )
    for n, material in enumerate(RARE_EARTHS_2025):
        _steady(
            s,
            material,
            ["CN", "MY", "JP"],
            "2025-01-05",
            "2025-09-20",
            cover_of_target=0.4 if n == 0 else 0.8,
            prefix=f"ep-ree-{material[:3]}",
            skip=[("2025-04-04", "2025-06-30")],
        )
    return s


def lithium_price_2022() -> Scenario:
    """A price spike without policy: no measure, shipments on time."""
    s = Scenario("ep-li-2022", seed=2022_11_15)
    start, end = "2021-07-01", "2023-05-31"
    m = "lithium"
    s.prices(
        m,
        [
            ("2021-07-01", 13.0),
            ("2021-09-01", 25.0),
            ("2022-01-10", 47.0),
            ("2022-04-01", 72.0),
            ("2022-08-01", 70.0),
            ("2022-11-15", 84.0),
            ("2023-01-16", 65.0),
            ("2023-04-20", 25.0),
            ("2023-05-31", 28.0),
        ],
        start,
        end,
        market="china_domestic",
        grade="carbonate battery grade",
        noise=0.006,
    )
    _steady(
        s, m, ["CL", "US", "AR"], "2021-07-05", "2023-05-20", cover_of_target=1.0, prefix="ep-li"
    )
    return s


def _sea_route(
    s: Scenario,
    material: str,
    start: str,
    end: str,
    *,
    prefix: str,
    disruption: tuple[str, str],
    extra_days: int,
) -> None:
    """Two China-to-Rotterdam cargoes a month, 40 days at sea via Suez; a cargo at sea inside
    the `disruption` window is reported delayed there, with its revised ETA."""
    monthly = _monthly_t(material)
    first, last = date.fromisoformat(disruption[0]), date.fromisoformat(disruption[1])
    day = date.fromisoformat(start)
    n = 0
    while day <= date.fromisoformat(end):
        if day.day in (5, 20):
            departed = day - timedelta(days=40)
            steps = [(departed - timedelta(days=5), "booked"), (departed, "departed")]
            steps.append((departed + timedelta(days=7), "in_transit"))
            eta = None
            arrive = day
            if departed <= last and day >= first:
                notice = max(first, departed + timedelta(days=8))
                arrive = day + timedelta(days=extra_days)
                eta = arrive.isoformat()
                steps.append((notice, "delayed"))
            steps.append((arrive, "arrived"))
            quantity = round(monthly / 2 * s.rng.uniform(0.85, 1.15), 3)
            s.shipment(
                material,
                f"{prefix}-{n:03d}",
                "CN",
                quantity,
                [(d.isoformat(), status) for d, status in sorted(steps)],
                planned=day.isoformat(),
                eta=eta,
                chokepoints=RED_SEA,
            )
            n += 1
        day += timedelta(days=1)


def _sea_route_episode(
    name: str, seed: int, start: str, end: str, disruption: tuple[str, str], extra_days: int
) -> Scenario:
    s = Scenario(name, seed=seed)
    for material, level, unit in (("magnesium", 2900.0, "t"), ("tungsten", 330.0, "mtu")):
        s.prices(
            material,
            _flat(level, start, end, 1.02),
            start,
            end,
            market="rotterdam",
            unit=unit,
            noise=0.005,
        )
        _sea_route(
            s,
            material,
            start,
            end,
            prefix=f"{name}-{material[:2]}",
            disruption=disruption,
            extra_days=extra_days,
        )
        profile = _catalog().material(material)
        stock = round(profile.target_days * profile.eu_net_imports_t / 365.0, 1)
        s.positions(material, [(start, stock)], start, end)
    return s


def red_sea_2023() -> Scenario:
    """Cape of Good Hope rerouting from mid-December 2023: every later cargo ~12 days late."""
    return _sea_route_episode(
        "ep-red-sea-2023", 2023_12_15, "2023-10-02", "2024-06-28", ("2023-12-15", "2024-06-28"), 12
    )


def ever_given_2021() -> Scenario:
    """Suez blocked 23-29 March 2021: cargoes at sea then arrive about a week late."""
    return _sea_route_episode(
        "ep-ever-given-2021",
        2021_03_23,
        "2021-01-04",
        "2021-06-30",
        ("2021-03-23", "2021-04-03"),
        7,
    )


CALM_2019 = (
    ("aluminium", 1800.0, "t", ["NO", "IS", "AE"]),
    ("manganese", 1900.0, "t", ["ZA", "GA", "AU"]),
    ("titanium_metal", 9.0, "kg", ["KZ", "JP", "US"]),
    ("tin", 19500.0, "t", ["ID", "PE", "MY"]),
    ("fluorspar", 450.0, "t", ["MX", "ZA", "CN"]),
)


def calm_2019() -> Scenario:
    """A control: five materials with ordinary noise, routine cargo, stock near target."""
    s = Scenario("ep-calm-2019", seed=2019)
    start, end = "2019-01-02", "2019-12-31"
    for n, (material, level, unit, origins) in enumerate(CALM_2019):
        s.prices(
            material,
            _flat(level, start, end, s.rng.uniform(0.95, 1.05)),
            start,
            end,
            market="rotterdam",
            unit=unit,
            noise=0.006,
        )
        _steady(
            s,
            material,
            origins,
            "2019-02-05",
            "2019-12-20",
            cover_of_target=0.9 if n % 2 else 1.1,
            prefix=f"ep-calm-{material[:3]}",
            delays=1,
        )
    return s


def drc_cobalt_2025() -> Scenario:
    s = Scenario("ep-cobalt-2025", seed=2025_02_22)
    start, end = "2024-12-02", "2025-09-15"
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
            ("2025-09-15", 18.0),
        ],
        start,
        end,
        market="rotterdam",
        unit="lb",
        grade="standard grade 99.8%",
        noise=0.006,
    )
    common: dict[str, Any] = {
        "measure_id": "cd-arecoms-cobalt-2025",
        "country": "CD",
        "materials": [m],
        "measure": "ban",
        "announced": "2025-02-22T11:00:00Z",
        "effective": "2025-02-22T11:00:00Z",
    }
    s.control(
        "2025-02-22T11:00:00+00:00",
        status="effective",
        expires="2025-06-22T00:00:00Z",
        summary="ARECOMS: cobalt export suspension for four months",
        **common,
    )
    s.control(
        "2025-06-21T11:00:00+00:00",
        **{**common, "effective": "2025-06-21T11:00:00Z"},
        status="amended",
        expires="2025-09-21T00:00:00Z",
        summary="ARECOMS: suspension extended by three months",
    )
    _steady(
        s,
        m,
        ["CD", "ZM", "AU"],
        "2025-01-05",
        "2025-09-05",
        cover_of_target=0.8,
        prefix="ep-co",
        skip=[("2025-03-25", "2025-09-05")],
    )
    return s


EPISODES: dict[str, Callable[[], Scenario]] = {
    "antimony_2024": antimony_2024,
    "calm_2019": calm_2019,
    "cobalt_drc_2025": drc_cobalt_2025,
    "ever_given_2021": ever_given_2021,
    "gallium_germanium_2023": gallium_germanium_2023,
    "graphite_2023": graphite_2023,
    "lithium_price_2022": lithium_price_2022,
    "rare_earths_2025": rare_earths_2025,
    "red_sea_2023": red_sea_2023,
    "tungsten_bismuth_2025": tungsten_bismuth_2025,
    "us_only_ban_2024": us_only_ban_2024,
}


def episode_lines(name: str) -> str:
    """The committed text of one episode's events file."""
    return "\n".join(EPISODES[name]().lines()) + "\n"


def write_episodes(out_dir: Path) -> dict[str, int]:
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name in EPISODES:
        text = episode_lines(name)
        (out_dir / f"{name}.jsonl").write_text(text, encoding="utf-8")
        counts[name] = text.count("\n")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("episodes"))
    args = parser.parse_args(argv)
    for name, count in write_episodes(args.out).items():
        print(f"{name}: {count} lines")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
