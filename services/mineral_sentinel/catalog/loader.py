"""Read and check the catalog files, producing the plain dataclasses the risk core reads.

The data files carry provenance (source, vintage, estimate) for every number so that reviewers can
audit them; the loader checks every rule once, strips the bookkeeping and hands the core flat,
frozen profiles. A broken file fails loudly with a `CatalogError` naming file, entry and field.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

from pydantic import TypeAdapter, ValidationError

from ..contracts.codes import ISO_COUNTRIES
from ..contracts.common import MaterialCode
from .errors import CatalogError
from .model import STAGES, Catalog, CountryProfile, EuStatus, MaterialProfile, Stage

DATA_DIR = Path(__file__).parent / "data"
MATERIALS_FILE = "materials.json"
COUNTRIES_FILE = "countries.json"

EU_STATUSES: frozenset[str] = frozenset(get_args(EuStatus))
SHARE_SUM_TOLERANCE = 1e-9
MAX_TRADE_FACTOR = 5.0
_PROVENANCE_KEYS = frozenset({"value", "source", "vintage", "estimate", "note"})
_BLOCK_KEYS = frozenset({"shares", "source", "vintage", "estimate", "note"})
_COUNTRY_KEYS = frozenset(
    {"code", "name", "eu_member", "wgi_scaled", "eu_trade_agreement", "notes"}
)
_MATERIAL_KEYS = frozenset(
    {
        "code",
        "name",
        "eu_status",
        "quantity_basis",
        "global_supply",
        "eu_sourcing",
        "import_reliance",
        "eol_rir",
        "substitution_index",
        "economic_importance",
        "eu_consumption_t",
        "eu_net_imports_t",
        "target_days",
        "floor_days",
        "published_supply_risk",
        "trade_factors",
        "notes",
    }
)
_material_code: TypeAdapter[str] = TypeAdapter(MaterialCode)


def load_catalog(path: Path | None = None) -> Catalog:
    """Load the catalog from a directory holding materials.json and countries.json.

    Without a path, the packaged data is loaded once per process and shared (it is immutable).
    """
    if path is None:
        return _packaged_catalog()
    return _load(Path(path))


@functools.cache
def _packaged_catalog() -> Catalog:
    return _load(DATA_DIR)


def _load(directory: Path) -> Catalog:
    countries_doc = _read_json(directory / COUNTRIES_FILE)
    materials_doc = _read_json(directory / MATERIALS_FILE)
    countries_version, countries = _parse_countries(_Reader(COUNTRIES_FILE), countries_doc)
    version, materials = _parse_materials(_Reader(MATERIALS_FILE), materials_doc, countries)
    if countries_version != version:
        version = f"{version}+countries.{countries_version}"
    return Catalog(version=version, materials=materials, countries=countries)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(path.name, f"cannot read {path}: {exc.strerror}") from exc
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise CatalogError(path.name, f"invalid JSON: {exc}") from exc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


class _Reader:
    """Typed access to untyped JSON that reports failures with file, entry and field."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.entry: str | None = None
        self.sources: frozenset[str] = frozenset()

    def fail(self, field: str | None, message: str) -> CatalogError:
        return CatalogError(self.file, message, entry=self.entry, field=field)

    def obj(
        self, value: Any, field: str | None, allowed: frozenset[str] | None = None
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(field, f"expected an object, got {type(value).__name__}")
        if allowed is not None:
            unknown = sorted(set(value) - allowed)
            if unknown:
                where = unknown[0] if field is None else f"{field}.{unknown[0]}"
                raise self.fail(where, "unknown key (a typo?)")
        return value

    def text(self, value: Any, field: str, *, empty_ok: bool = False) -> str:
        if not isinstance(value, str) or (not empty_ok and not value.strip()):
            raise self.fail(field, "expected a non-empty string")
        return value

    def flag(self, value: Any, field: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(field, "expected true or false")
        return value

    def number(
        self, value: Any, field: str, low: float, high: float, *, low_open: bool = False
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(field, f"expected a number, got {json.dumps(value)}")
        number = float(value)
        too_low = number <= low if low_open else number < low
        if not math.isfinite(number) or too_low or number > high:
            bracket = "(" if low_open else "["
            raise self.fail(field, f"{number} is outside {bracket}{low}, {high}]")
        return number

    def provenance(self, value: dict[str, Any], field: str) -> None:
        source = value.get("source")
        if source not in self.sources:
            raise self.fail(f"{field}.source", f"unknown source {json.dumps(source)}")
        vintage = value.get("vintage")
        if isinstance(vintage, bool) or not isinstance(vintage, int) or not 1950 <= vintage <= 2100:
            raise self.fail(f"{field}.vintage", "expected a year")
        self.flag(value.get("estimate"), f"{field}.estimate")
        if "note" in value:
            self.text(value["note"], f"{field}.note")

    def sourced(self, value: Any, field: str) -> Any:
        """The bare value of a {value, source, vintage, estimate} record, provenance checked."""
        record = self.obj(value, field, _PROVENANCE_KEYS)
        if "value" not in record:
            raise self.fail(field, "missing 'value'")
        self.provenance(record, field)
        return record["value"]

    def sourced_number(
        self, value: Any, field: str, low: float, high: float, *, low_open: bool = False
    ) -> float:
        return self.number(self.sourced(value, field), field, low, high, low_open=low_open)

    def read_sources(self, doc: dict[str, Any]) -> None:
        sources = self.obj(doc.get("sources"), "sources")
        for key, entry in sources.items():
            record = self.obj(entry, f"sources.{key}", frozenset({"title", "url"}))
            self.text(record.get("title"), f"sources.{key}.title")
            self.text(record.get("url", ""), f"sources.{key}.url", empty_ok=True)
        self.sources = frozenset(sources)

    def version(self, doc: dict[str, Any]) -> str:
        return self.text(doc.get("version"), "version")

    def entries(self, doc: dict[str, Any], key: str) -> list[Any]:
        value = doc.get(key)
        if not isinstance(value, list) or not value:
            raise self.fail(key, "expected a non-empty list")
        return value


def _parse_countries(reader: _Reader, raw: Any) -> tuple[str, dict[str, CountryProfile]]:
    doc = reader.obj(raw, None)
    version = reader.version(doc)
    reader.read_sources(doc)
    countries: dict[str, CountryProfile] = {}
    for index, item in enumerate(reader.entries(doc, "countries")):
        reader.entry = f"countries[{index}]"
        record = reader.obj(item, None)
        code = reader.text(record.get("code"), "code")
        reader.entry = f"country '{code}'"
        reader.obj(record, None, _COUNTRY_KEYS)
        if code not in ISO_COUNTRIES:
            raise reader.fail("code", "not an ISO 3166-1 alpha-2 code (contracts/codes.py)")
        if code in countries:
            raise reader.fail("code", "duplicate country")
        countries[code] = CountryProfile(
            code=code,
            name=reader.text(record.get("name"), "name"),
            wgi_scaled=reader.sourced_number(record.get("wgi_scaled"), "wgi_scaled", 0.0, 10.0),
            eu_trade_agreement=reader.flag(
                reader.sourced(record.get("eu_trade_agreement"), "eu_trade_agreement"),
                "eu_trade_agreement",
            ),
            eu_member=reader.flag(record.get("eu_member", False), "eu_member"),
        )
    return version, countries


def _parse_materials(
    reader: _Reader, raw: Any, countries: Mapping[str, CountryProfile]
) -> tuple[str, dict[str, MaterialProfile]]:
    doc = reader.obj(raw, None)
    version = reader.version(doc)
    reader.read_sources(doc)
    materials: dict[str, MaterialProfile] = {}
    for index, item in enumerate(reader.entries(doc, "materials")):
        reader.entry = f"materials[{index}]"
        record = reader.obj(item, None)
        code = reader.text(record.get("code"), "code")
        reader.entry = f"material '{code}'"
        reader.obj(record, None, _MATERIAL_KEYS)
        try:
            _material_code.validate_python(code)
        except ValidationError as exc:
            raise reader.fail(
                "code",
                "does not match the MaterialCode pattern (lower-case English name, '_' for spaces)",
            ) from exc
        if code in materials:
            raise reader.fail("code", "duplicate material")
        materials[code] = _parse_material(reader, record, code, countries)
    return version, materials


def _parse_material(
    reader: _Reader, record: dict[str, Any], code: str, countries: Mapping[str, CountryProfile]
) -> MaterialProfile:
    status = reader.text(record.get("eu_status"), "eu_status")
    if status not in EU_STATUSES:
        raise reader.fail("eu_status", f"expected one of {', '.join(sorted(EU_STATUSES))}")
    global_supply = _parse_stages(reader, record.get("global_supply"), "global_supply", countries)
    if not any(global_supply.values()):
        raise reader.fail("global_supply", "needs at least one stage with shares")
    eu_sourcing = _parse_stages(reader, record.get("eu_sourcing", {}), "eu_sourcing", countries)
    for stage in eu_sourcing:
        if stage not in global_supply:
            raise reader.fail(f"eu_sourcing.{stage}", "stage has no global_supply")
    target = reader.sourced_number(
        record.get("target_days"), "target_days", 0.0, 3650.0, low_open=True
    )
    floor = reader.sourced_number(record.get("floor_days"), "floor_days", 0.0, 3650.0)
    if floor > target:
        raise reader.fail("floor_days", f"floor {floor} is above target {target}")
    published = record.get("published_supply_risk")
    stage_factors = _parse_trade_factors(reader, record.get("trade_factors", {}), countries)
    flat_factors: dict[str, float] = {}
    for factors in stage_factors.values():
        for country, factor in factors.items():
            flat_factors[country] = max(factor, flat_factors.get(country, factor))
    return MaterialProfile(
        code=code,
        name=reader.text(record.get("name"), "name"),
        eu_status=status,  # type: ignore[arg-type]  # checked against EU_STATUSES above
        global_supply=global_supply,
        eu_sourcing=eu_sourcing,
        import_reliance=reader.sourced_number(
            record.get("import_reliance"), "import_reliance", 0.0, 1.0
        ),
        eol_rir=reader.sourced_number(record.get("eol_rir"), "eol_rir", 0.0, 1.0),
        substitution_index=reader.sourced_number(
            record.get("substitution_index"), "substitution_index", 0.0, 1.0
        ),
        economic_importance=reader.sourced_number(
            record.get("economic_importance"), "economic_importance", 0.0, 10.0
        ),
        eu_consumption_t=reader.sourced_number(
            record.get("eu_consumption_t"), "eu_consumption_t", 0.0, 1e12, low_open=True
        ),
        eu_net_imports_t=reader.sourced_number(
            record.get("eu_net_imports_t"), "eu_net_imports_t", 0.0, 1e12, low_open=True
        ),
        target_days=target,
        floor_days=floor,
        published_supply_risk=(
            None
            if published is None
            else reader.sourced_number(published, "published_supply_risk", 0.0, 10.0)
        ),
        published_trade_factors=flat_factors,
        stage_trade_factors=stage_factors,
        quantity_basis=reader.text(
            record.get("quantity_basis", ""), "quantity_basis", empty_ok=True
        ),
    )


def _stage(reader: _Reader, name: str, field: str) -> Stage:
    for stage in STAGES:
        if stage == name:
            return stage
    raise reader.fail(field, f"unknown stage (expected {' or '.join(STAGES)})")


def _country(
    reader: _Reader, code: str, field: str, countries: Mapping[str, CountryProfile]
) -> str:
    if code not in ISO_COUNTRIES:
        raise reader.fail(field, "not an ISO 3166-1 alpha-2 code (contracts/codes.py)")
    if code not in countries:
        raise reader.fail(field, f"country {code} is not in {COUNTRIES_FILE}")
    return code


def _parse_stages(
    reader: _Reader, raw: Any, field: str, countries: Mapping[str, CountryProfile]
) -> dict[Stage, dict[str, float]]:
    """Per-stage share blocks: {stage: {shares: {CC: share | record}, source, vintage, ...}}."""
    result: dict[Stage, dict[str, float]] = {}
    for name, block in reader.obj(raw, field).items():
        stage_field = f"{field}.{name}"
        stage = _stage(reader, name, stage_field)
        record = reader.obj(block, stage_field, _BLOCK_KEYS)
        reader.provenance(record, stage_field)
        shares: dict[str, float] = {}
        for code, value in reader.obj(record.get("shares"), f"{stage_field}.shares").items():
            share_field = f"{stage_field}.shares.{code}"
            _country(reader, code, share_field, countries)
            bare = reader.sourced(value, share_field) if isinstance(value, dict) else value
            shares[code] = reader.number(bare, share_field, 0.0, 1.0)
        total = sum(shares.values())
        if total > 1.0 + SHARE_SUM_TOLERANCE:
            raise reader.fail(f"{stage_field}.shares", f"shares sum to {total:.4f} > 1")
        result[stage] = shares
    return result


def _parse_trade_factors(
    reader: _Reader, raw: Any, countries: Mapping[str, CountryProfile]
) -> dict[Stage, dict[str, float]]:
    result: dict[Stage, dict[str, float]] = {}
    for name, factors in reader.obj(raw, "trade_factors").items():
        stage_field = f"trade_factors.{name}"
        stage = _stage(reader, name, stage_field)
        result[stage] = {}
        for code, value in reader.obj(factors, stage_field).items():
            factor_field = f"{stage_field}.{code}"
            _country(reader, code, factor_field, countries)
            result[stage][code] = reader.sourced_number(
                value, factor_field, 0.0, MAX_TRADE_FACTOR, low_open=True
            )
    return result
