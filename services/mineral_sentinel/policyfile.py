"""The deployment-protocol file (`SENTINEL_POLICY_FILE`, `--policy`): JSON -> a validated `Policy`.

The shell half of docs/policy.md: read the file, validate it strictly with pydantic (unknown
fields, wrong types, values out of range and unknown materials are errors), and return a
`risk.Policy` whose unstated values are today's defaults. The risk core never sees the file:
it gets the resolved `Policy` and, per material, its `StockpileRules` (plain data).

JSON only: YAML would need PyYAML as a new runtime dependency (it is only in the development
environment as another tool's dependency).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from .catalog.model import Catalog
from .risk.policy import (
    DEFAULT_POLICY,
    MATERIAL_FIELDS,
    MaterialOverride,
    Policy,
    canonical_policy,
    protocol_version,
)

Bounds = tuple[float, float | None, bool]
"""(lowest, highest or None, lowest excluded)."""

_SCORE: Bounds = (0.0, 100.0, False)
_SHARE: Bounds = (0.0, 1.0, False)
_DAYS: Bounds = (0.0, 3650.0, False)
_NON_NEGATIVE: Bounds = (0.0, None, False)
_POSITIVE: Bounds = (0.0, None, True)
_COUNT: Bounds = (1.0, None, False)

BOUNDS: dict[str, Bounds] = {
    "enter_watch": _SCORE,
    "enter_warning": _SCORE,
    "enter_critical": _SCORE,
    "hysteresis": _SCORE,
    "min_dwell_hours": (0.0, 87_600.0, False),
    "snapshot_min_change": _SCORE,
    "cause_threshold": _SCORE,
    "evidence_market": _SCORE,
    "evidence_at_risk_days": _DAYS,
    "exposure_at_risk_days": _DAYS,
    "near_floor_band": _SHARE,
    "weights": _SHARE,
    "severity": _SHARE,
    "licensing_lag_severity": _SHARE,
    "licensing_lag_working_days": (0.0, 3650.0, False),
    "announced_weight": _SHARE,
    "non_eu_destinations_weight": _SHARE,
    "shock_scale": _POSITIVE,
    "trade_factor_uplift": _NON_NEGATIVE,
    "sr_uplift_full_scale": _POSITIVE,
    "measure_retention_days": _DAYS,
    "max_measures": _COUNT,
    "shipment_weights": _SHARE,
    "logistics_full_days": (0.0, 3650.0, True),
    "cancelled_memory_days": _DAYS,
    "stale_shipment_days": _DAYS,
    "max_shipments": _COUNT,
    "ewma_half_life_prints": _POSITIVE,
    "initial_volatility": _POSITIVE,
    "min_volatility": _POSITIVE,
    "warmup_returns": _NON_NEGATIVE,
    "z_low": _NON_NEGATIVE,
    "z_high": _NON_NEGATIVE,
    "median_window": _COUNT,
    "move_low": _NON_NEGATIVE,
    "move_high": _NON_NEGATIVE,
    "spread_low": _NON_NEGATIVE,
    "spread_high": _NON_NEGATIVE,
    "spread_fresh_days": _DAYS,
    "market_stale_half_life_days": (0.0, 3650.0, True),
    "elevated_move": _NON_NEGATIVE,
    "max_series": _COUNT,
    "floor_days": _DAYS,
    "target_days": _DAYS,
    "shortfall_trigger": (0.0, 1.0, True),
    "horizon_days": (1.0, 3650.0, False),
    "price_spike_component": _SCORE,
    "price_spike_tranche_days": _DAYS,
    "replenish_max_market": _SCORE,
    "recommendation_valid_days": (1.0, 3650.0, False),
    "replenish_cooldown_days": _DAYS,
    "max_holders": _COUNT,
    "seen_ids": _COUNT,
    "housekeeping_hours": (0.0, 87_600.0, True),
    "evidence_cap": (1.0, 64.0, False),
    "drivers_cap": (1.0, 20.0, False),
}
"""Allowed values of every global field (caps: the published contract's list bounds)."""

ORDERED: tuple[tuple[str, str], ...] = (
    ("enter_watch", "enter_warning"),
    ("enter_warning", "enter_critical"),
    ("z_low", "z_high"),
    ("move_low", "move_high"),
    ("spread_low", "spread_high"),
)
"""(lower, higher) pairs that must be strictly ordered once the file's values are applied."""

_STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class PolicyFileError(ValueError):
    """A policy file that cannot be used: which file, and per problem the field path and why."""

    def __init__(self, path: Path, problems: Sequence[tuple[str, str]]) -> None:
        self.path = path
        self.problems = list(problems)
        lines = [f"{where or '(the file)'}: {reason}" for where, reason in self.problems]
        super().__init__(f"policy file {path}: " + "; ".join(lines))


def _number_field(name: str, kind: type) -> tuple[Any, Any]:
    low, high, open_low = BOUNDS[name]
    constraints: dict[str, Any] = {"gt" if open_low else "ge": kind(low)}
    if high is not None:
        constraints["le"] = kind(high)
    # default None marks "not stated" (never validated); an explicit null is a type error
    return (kind, Field(None, **constraints))


def _kind(name: str) -> type:
    default = getattr(DEFAULT_POLICY, name)
    return int if isinstance(default, int) and not isinstance(default, bool) else float


def _mapping_model(name: str, keys: Sequence[str]) -> type[BaseModel]:
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"Policy_{name}",
        __config__=_STRICT,
        **{key: _number_field(name, float) for key in keys},
    )


def _build_models() -> tuple[type[BaseModel], type[BaseModel]]:
    material_model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        "MaterialPolicy",
        __config__=_STRICT,
        **{name: _number_field(name, _kind(name)) for name in MATERIAL_FIELDS},
    )
    top: dict[str, Any] = {}
    for f in fields(Policy):
        default = getattr(DEFAULT_POLICY, f.name)
        if f.name == "materials":
            top[f.name] = (dict[str, material_model], Field(None))  # type: ignore[valid-type]
        elif isinstance(default, Mapping):
            top[f.name] = (_mapping_model(f.name, list(default)), Field(None))
        else:
            top[f.name] = _number_field(f.name, _kind(f.name))
    file_model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        "PolicyFile", __config__=_STRICT, **top
    )
    return file_model, material_model


PolicyFileModel, MaterialPolicyModel = _build_models()


def _where(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _allowed(loc: Sequence[int | str]) -> str:
    """The field names allowed where an unknown one was found."""
    if len(loc) == 3 and loc[0] == "materials":
        return ", ".join(MATERIAL_FIELDS)
    default = getattr(DEFAULT_POLICY, str(loc[0]), None) if len(loc) == 2 else None
    if isinstance(default, Mapping):
        return ", ".join(default)
    return "the fields of docs/policy.md"


def _reason(error: Mapping[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        return f"unknown field (allowed: {_allowed(error['loc'])})"
    reason = str(error["msg"])
    value = error.get("input")
    if error.get("type") not in ("extra_forbidden", "json_invalid", "missing") and isinstance(
        value, int | float | str | bool
    ):
        reason += f" (got {value!r})"
    return reason


def policy_from_json(data: bytes | str, catalog: Catalog, path: Path) -> Policy:
    """Validate a policy document (pure apart from naming `path` in errors)."""
    try:
        model = PolicyFileModel.model_validate_json(data, strict=True)
    except ValidationError as error:
        problems = [(_where(e["loc"]), _reason(e)) for e in error.errors()]
        try:  # name the unknown materials too, so that one run lists every problem
            doc = json.loads(data)
        except ValueError:
            doc = None
        materials = doc.get("materials") if isinstance(doc, dict) else None
        if isinstance(materials, dict):
            problems.extend(_unknown_materials(materials, catalog))
        raise PolicyFileError(path, problems) from None
    stated = model.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    for name, value in stated.items():
        if name == "materials":
            continue
        default = getattr(DEFAULT_POLICY, name)
        if isinstance(default, Mapping):
            changes[name] = MappingProxyType({**default, **value})
        else:
            changes[name] = value
    materials = stated.get("materials") or {}
    problems = _unknown_materials(materials, catalog)
    overrides = {
        code: MaterialOverride(**values)
        for code, values in materials.items()
        if code in catalog.materials
    }
    policy = replace(DEFAULT_POLICY, **changes, materials=MappingProxyType(overrides))
    problems.extend(_consistency(policy, catalog))
    if problems:
        raise PolicyFileError(path, problems)
    return policy


def _unknown_materials(materials: Mapping[str, Any], catalog: Catalog) -> list[tuple[str, str]]:
    return [
        (f"materials.{code}", f"unknown material (not in catalog {catalog.version})")
        for code in materials
        if code not in catalog.materials
    ]


def _consistency(policy: Policy, catalog: Catalog) -> list[tuple[str, str]]:
    """Cross-field rules, on the values in effect (the file's, else the defaults)."""
    problems: list[tuple[str, str]] = []
    for low, high in ORDERED:
        below, above = getattr(policy, low), getattr(policy, high)
        if not below < above:
            problems.append((high, f"must be above {low} ({below:g}), is {above:g}"))
    for code in sorted(catalog.materials):
        profile = catalog.materials[code]
        override = policy.materials.get(code) or MaterialOverride()
        floor, floor_from = _pick(override.floor_days, policy.floor_days, profile.floor_days)
        target, target_from = _pick(override.target_days, policy.target_days, profile.target_days)
        if floor > target:
            where = _blamed(code, override, policy)
            problems.append(
                (
                    where,
                    f"{code}: floor {floor:g} d ({floor_from}) is above target {target:g} d "
                    f"({target_from})",
                )
            )
    return problems


def _blamed(code: str, override: MaterialOverride, policy: Policy) -> str:
    """The stated field a floor above the target is reported at: the most specific one."""
    if override.floor_days is not None:
        return f"materials.{code}.floor_days"
    if override.target_days is not None:
        return f"materials.{code}.target_days"
    return "floor_days" if policy.floor_days is not None else "target_days"


def _pick(own: float | None, common: float | None, catalog: float) -> tuple[float, str]:
    if own is not None:
        return own, "material override"
    if common is not None:
        return common, "global value"
    return catalog, "catalog"


def load_policy(path: Path | None, catalog: Catalog) -> Policy:
    """The policy in `path` (None: the defaults); raises PolicyFileError naming the file."""
    if path is None:
        return DEFAULT_POLICY
    try:
        data = path.read_bytes()
    except OSError as error:
        raise PolicyFileError(path, [("", f"cannot read it: {error.strerror or error}")]) from None
    return policy_from_json(data, catalog, path)


# ---- `sentinel policy [FILE]`: check a file, print its version and every value in effect ----


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        type=Path,
        nargs="?",
        default=None,
        help="policy file, JSON (default: SENTINEL_POLICY_FILE, else the defaults)",
    )


def run(args: argparse.Namespace) -> int:
    """Exit 0 and print the protocol version and its canonical JSON; 2 on a bad file."""
    from .catalog.loader import load_catalog
    from .config import load_settings

    path: Path | None = args.file or load_settings().policy_file
    try:
        policy = load_policy(path, load_catalog())
    except PolicyFileError as error:
        print(f"sentinel policy: {error}", file=sys.stderr)
        return 2
    print(f"protocol {protocol_version(policy)} ({path or 'defaults'})", file=sys.stderr)
    print(json.dumps(canonical_policy(policy), indent=2, sort_keys=True))
    return 0
