"""The packaged catalog loads and covers the required materials; each rule rejects a broken copy."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mineral_sentinel.catalog import CatalogError, load_catalog
from mineral_sentinel.catalog.loader import COUNTRIES_FILE, DATA_DIR, MATERIALS_FILE

pytestmark = pytest.mark.unit

EU_CRITICAL_2023 = {
    "aluminium",
    "antimony",
    "arsenic",
    "baryte",
    "beryllium",
    "bismuth",
    "boron",
    "cobalt",
    "coking_coal",
    "copper",
    "feldspar",
    "fluorspar",
    "gallium",
    "germanium",
    "hafnium",
    "helium",
    "heavy_rare_earth_elements",
    "light_rare_earth_elements",
    "lithium",
    "magnesium",
    "manganese",
    "natural_graphite",
    "nickel",
    "niobium",
    "phosphate_rock",
    "phosphorus",
    "platinum_group_metals",
    "scandium",
    "silicon_metal",
    "strontium",
    "tantalum",
    "titanium_metal",
    "tungsten",
    "vanadium",
}
CRMA_STRATEGIC = {
    "bismuth",
    "boron",
    "cobalt",
    "copper",
    "gallium",
    "germanium",
    "lithium",
    "magnesium",
    "manganese",
    "natural_graphite",
    "nickel",
    "platinum_group_metals",
    "silicon_metal",
    "titanium_metal",
    "tungsten",
    "aluminium",
}
MAGNET_RARE_EARTHS = {
    "neodymium",
    "praseodymium",
    "dysprosium",
    "terbium",
    "samarium",
    "gadolinium",
    "cerium",
}


def _raw(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA_DIR / name).read_text(encoding="utf-8"))
    return data


def _material(doc: dict[str, Any], code: str) -> dict[str, Any]:
    return next(m for m in doc["materials"] if m["code"] == code)


def _country(doc: dict[str, Any], code: str) -> dict[str, Any]:
    return next(c for c in doc["countries"] if c["code"] == code)


def _write(directory: Path, materials: dict[str, Any], countries: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MATERIALS_FILE).write_text(json.dumps(materials), encoding="utf-8")
    (directory / COUNTRIES_FILE).write_text(json.dumps(countries), encoding="utf-8")
    return directory


def test_packaged_catalog_covers_every_required_material() -> None:
    catalog = load_catalog()
    codes = set(catalog.materials)
    assert len(EU_CRITICAL_2023) == 34
    assert codes >= EU_CRITICAL_2023
    assert codes >= CRMA_STRATEGIC
    assert codes >= MAGNET_RARE_EARTHS
    for code in CRMA_STRATEGIC | MAGNET_RARE_EARTHS:
        assert catalog.material(code).eu_status in ("strategic", "critical_and_strategic"), code
    assert catalog.version == _raw(MATERIALS_FILE)["version"]


def test_default_catalog_is_cached_and_explicit_path_is_not(tmp_path: Path) -> None:
    assert load_catalog() is load_catalog()
    copy_dir = _write(tmp_path / "c", _raw(MATERIALS_FILE), _raw(COUNTRIES_FILE))
    assert load_catalog(copy_dir) is not load_catalog(copy_dir)
    assert load_catalog(copy_dir) == load_catalog()


def test_reference_facts_reach_the_profiles() -> None:
    catalog = load_catalog()
    assert catalog.material("gallium").global_supply["processing"]["CN"] == 0.98
    assert catalog.material("germanium").global_supply["processing"]["CN"] == 0.60
    assert catalog.material("natural_graphite").global_supply["extraction"]["CN"] == 0.67
    assert 0.70 <= catalog.material("cobalt").global_supply["extraction"]["CD"] <= 0.75
    assert catalog.material("nickel").global_supply["extraction"]["ID"] == 0.26
    assert catalog.material("nickel").published_trade_factors["ID"] == 1.3
    assert catalog.material("cobalt").published_trade_factors["CD"] == 1.1
    assert catalog.material("copper").published_trade_factors["ID"] == 1.2
    assert catalog.material("tin").stage_trade_factors["processing"]["CN"] == 1.5
    assert catalog.material("gallium").published_supply_risk == 3.9
    assert catalog.material("dysprosium").published_supply_risk == 5.6


def test_every_material_is_usable_by_the_core() -> None:
    catalog = load_catalog()
    for code, m in catalog.materials.items():
        assert m.stages, code
        assert m.daily_net_imports_t > 0, code
        assert 0 < m.floor_days <= m.target_days, code
        assert m.quantity_basis, code
        for stage in m.stages:
            assert 0 < sum(m.global_supply[stage].values()) <= 1, (code, stage)
            for country in m.global_supply[stage]:
                assert country in catalog.countries, (code, country)


def test_high_supply_risk_materials_get_longer_targets() -> None:
    catalog = load_catalog()
    assert catalog.material("nickel").target_days == 60
    assert catalog.material("nickel").floor_days == 20
    assert catalog.material("gallium").target_days == 180
    assert catalog.material("dysprosium").target_days == 180
    assert catalog.material("cobalt").target_days == 120


def test_countries_know_eu_membership_and_governance() -> None:
    catalog = load_catalog()
    assert catalog.is_eu_member("DE") and not catalog.is_eu_member("CN")
    assert not catalog.is_eu_member("ZZ")
    assert sum(1 for c in catalog.countries.values() if c.eu_member) == 27
    assert catalog.wgi("CD") > catalog.wgi("CN") > catalog.wgi("DE")
    assert catalog.countries["CL"].eu_trade_agreement
    assert not catalog.countries["CN"].eu_trade_agreement


def test_every_number_in_the_files_carries_provenance() -> None:
    """Walk both files: every leaf number sits in a record with source and vintage, or in a
    `shares` map whose block carries them."""

    def walk(node: Any, path: str, sourced: bool) -> None:
        if isinstance(node, dict):
            here = sourced or ("source" in node and "vintage" in node)
            for key, value in node.items():
                if key == "vintage":
                    continue
                walk(value, f"{path}.{key}", here)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]", sourced)
        elif isinstance(node, int | float) and not isinstance(node, bool):
            assert sourced, f"unsourced number at {path}"

    for name in (MATERIALS_FILE, COUNTRIES_FILE):
        walk(_raw(name), name, False)


Mutation = Callable[[dict[str, Any], dict[str, Any]], None]


def _set(code: str, field: str, value: Any) -> Mutation:
    def mutate(materials: dict[str, Any], countries: dict[str, Any]) -> None:
        _material(materials, code)[field] = value

    return mutate


def _set_value(code: str, field: str, value: Any) -> Mutation:
    def mutate(materials: dict[str, Any], countries: dict[str, Any]) -> None:
        _material(materials, code)[field]["value"] = value

    return mutate


def _share(
    code: str, stage: str, country: str, value: Any, section: str = "global_supply"
) -> Mutation:
    def mutate(materials: dict[str, Any], countries: dict[str, Any]) -> None:
        _material(materials, code)[section][stage]["shares"][country] = value

    return mutate


def _drop_country(code: str) -> Mutation:
    def mutate(materials: dict[str, Any], countries: dict[str, Any]) -> None:
        countries["countries"] = [c for c in countries["countries"] if c["code"] != code]

    return mutate


def _country_value(code: str, field: str, value: Any) -> Mutation:
    def mutate(materials: dict[str, Any], countries: dict[str, Any]) -> None:
        _country(countries, code)[field]["value"] = value

    return mutate


def _duplicate_material(code: str) -> Mutation:
    def mutate(materials: dict[str, Any], countries: dict[str, Any]) -> None:
        materials["materials"].append(copy.deepcopy(_material(materials, code)))

    return mutate


def _trade_factor(code: str, stage: str, country: str, value: float) -> Mutation:
    def mutate(materials: dict[str, Any], countries: dict[str, Any]) -> None:
        _material(materials, code)["trade_factors"].setdefault(stage, {})[country] = {
            "value": value,
            "source": "eu_crm_2023",
            "vintage": 2023,
            "estimate": False,
        }

    return mutate


def _provenance(code: str, field: str, key: str, value: Any) -> Mutation:
    def mutate(materials: dict[str, Any], countries: dict[str, Any]) -> None:
        _material(materials, code)[field][key] = value

    return mutate


BROKEN: dict[str, tuple[Mutation, str, str, str]] = {
    # name: (mutation, file, entry, field)
    "share above one": (
        _share("gallium", "processing", "CN", 1.2),
        MATERIALS_FILE,
        "material 'gallium'",
        "global_supply.processing.shares.CN",
    ),
    "negative share": (
        _share("cobalt", "extraction", "RU", -0.1),
        MATERIALS_FILE,
        "material 'cobalt'",
        "global_supply.extraction.shares.RU",
    ),
    "shares sum over one": (
        _share("nickel", "extraction", "PH", 0.9),
        MATERIALS_FILE,
        "material 'nickel'",
        "global_supply.extraction.shares",
    ),
    "eu shares sum over one": (
        _share("gallium", "processing", "GB", 0.5, "eu_sourcing"),
        MATERIALS_FILE,
        "material 'gallium'",
        "eu_sourcing.processing.shares",
    ),
    "import reliance above one": (
        _set_value("lithium", "import_reliance", 1.5),
        MATERIALS_FILE,
        "material 'lithium'",
        "import_reliance",
    ),
    "eol rate negative": (
        _set_value("tungsten", "eol_rir", -0.01),
        MATERIALS_FILE,
        "material 'tungsten'",
        "eol_rir",
    ),
    "substitution index above one": (
        _set_value("gallium", "substitution_index", 1.01),
        MATERIALS_FILE,
        "material 'gallium'",
        "substitution_index",
    ),
    "zero consumption": (
        _set_value("cobalt", "eu_consumption_t", 0),
        MATERIALS_FILE,
        "material 'cobalt'",
        "eu_consumption_t",
    ),
    "negative net imports": (
        _set_value("cobalt", "eu_net_imports_t", -5),
        MATERIALS_FILE,
        "material 'cobalt'",
        "eu_net_imports_t",
    ),
    "floor above target": (
        _set_value("germanium", "floor_days", 400),
        MATERIALS_FILE,
        "material 'germanium'",
        "floor_days",
    ),
    "country not in countries.json": (
        _drop_country("GA"),
        MATERIALS_FILE,
        "material 'manganese'",
        "global_supply.extraction.shares.GA",
    ),
    "country not ISO": (
        _share("gallium", "processing", "XX", 0.001),
        MATERIALS_FILE,
        "material 'gallium'",
        "global_supply.processing.shares.XX",
    ),
    "trade factor unknown country": (
        _trade_factor("nickel", "extraction", "QQ", 1.1),
        MATERIALS_FILE,
        "material 'nickel'",
        "trade_factors.extraction.QQ",
    ),
    "trade factor zero": (
        _trade_factor("nickel", "extraction", "ID", 0.0),
        MATERIALS_FILE,
        "material 'nickel'",
        "trade_factors.extraction.ID",
    ),
    "code with capitals": (
        _set("gallium", "code", "Gallium"),
        MATERIALS_FILE,
        "material 'Gallium'",
        "code",
    ),
    "code with space": (
        _set("natural_graphite", "code", "natural graphite"),
        MATERIALS_FILE,
        "material 'natural graphite'",
        "code",
    ),
    "duplicate material": (
        _duplicate_material("tungsten"),
        MATERIALS_FILE,
        "material 'tungsten'",
        "code",
    ),
    "unknown status": (
        _set("gallium", "eu_status", "vital"),
        MATERIALS_FILE,
        "material 'gallium'",
        "eu_status",
    ),
    "unknown stage": (
        _set(
            "gallium",
            "global_supply",
            {
                "smelting": {
                    "shares": {"CN": 0.9},
                    "source": "usgs_mcs",
                    "vintage": 2022,
                    "estimate": True,
                }
            },
        ),
        MATERIALS_FILE,
        "material 'gallium'",
        "global_supply.smelting",
    ),
    "number given as text": (
        _set_value("cobalt", "import_reliance", "0.8"),
        MATERIALS_FILE,
        "material 'cobalt'",
        "import_reliance",
    ),
    "unknown source": (
        _provenance("cobalt", "eol_rir", "source", "a blog"),
        MATERIALS_FILE,
        "material 'cobalt'",
        "eol_rir.source",
    ),
    "missing vintage": (
        _provenance("cobalt", "eol_rir", "vintage", None),
        MATERIALS_FILE,
        "material 'cobalt'",
        "eol_rir.vintage",
    ),
    "unknown material key": (
        _set("cobalt", "import_relience", 0.5),
        MATERIALS_FILE,
        "material 'cobalt'",
        "import_relience",
    ),
    "wgi above ten": (
        _country_value("CN", "wgi_scaled", 11.0),
        COUNTRIES_FILE,
        "country 'CN'",
        "wgi_scaled",
    ),
    "trade agreement not a flag": (
        _country_value("CL", "eu_trade_agreement", "yes"),
        COUNTRIES_FILE,
        "country 'CL'",
        "eu_trade_agreement",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_copy_is_rejected_naming_file_entry_and_field(name: str, tmp_path: Path) -> None:
    mutate, file, entry, field = BROKEN[name]
    materials, countries = _raw(MATERIALS_FILE), _raw(COUNTRIES_FILE)
    mutate(materials, countries)
    with pytest.raises(CatalogError) as info:
        load_catalog(_write(tmp_path, materials, countries))
    error = info.value
    assert (error.file, error.entry, error.field) == (file, entry, field), str(error)
    assert file in str(error) and entry in str(error) and f"field '{field}'" in str(error)


def test_unmodified_copy_loads(tmp_path: Path) -> None:
    """The broken-copy tests fail for the mutation, not for the copying."""
    catalog = load_catalog(_write(tmp_path, _raw(MATERIALS_FILE), _raw(COUNTRIES_FILE)))
    assert set(catalog.materials) == set(load_catalog().materials)


def test_nan_and_invalid_json_are_rejected(tmp_path: Path) -> None:
    directory = _write(tmp_path, _raw(MATERIALS_FILE), _raw(COUNTRIES_FILE))
    text = (directory / MATERIALS_FILE).read_text(encoding="utf-8")
    (directory / MATERIALS_FILE).write_text(
        text.replace('"value": 0.98,', '"value": NaN,', 1), encoding="utf-8"
    )
    with pytest.raises(CatalogError, match=r"materials\.json: invalid JSON"):
        load_catalog(directory)
    (directory / MATERIALS_FILE).write_text("{", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"materials\.json: invalid JSON"):
        load_catalog(directory)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    directory = _write(tmp_path, _raw(MATERIALS_FILE), _raw(COUNTRIES_FILE))
    (directory / COUNTRIES_FILE).unlink()
    with pytest.raises(CatalogError, match=r"countries\.json: cannot read"):
        load_catalog(directory)
