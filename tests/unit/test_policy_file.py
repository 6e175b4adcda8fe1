"""Deployment protocols as data (docs/policy.md): the policy file, its version, per-material
rules, the rule each recommendation names, `--policy` on backtest and evaluate, restarts."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mineral_sentinel.backtest import BacktestResult, run_backtest
from mineral_sentinel.backtest import cli as backtest_cli
from mineral_sentinel.backtest.report import jsonl
from mineral_sentinel.catalog.loader import load_catalog
from mineral_sentinel.cli import main
from mineral_sentinel.contracts.outputs import StockpileRecommendation
from mineral_sentinel.policyfile import BOUNDS, PolicyFileError, load_policy, policy_from_json
from mineral_sentinel.risk import Policy, apply_event, dump_state, load_state
from mineral_sentinel.risk import derived as derived_module
from mineral_sentinel.risk.codec import FORMAT_VERSION
from mineral_sentinel.risk.policy import (
    DEFAULT_POLICY,
    MATERIAL_FIELDS,
    MaterialOverride,
    canonical_json,
    canonical_policy,
    protocol_version,
    stockpile_rules,
)
from mineral_sentinel.risk.stockpile import RULES, decide

from .risk_fixtures import CATALOG, Events, calm_prices, day, fold

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
REAL = load_catalog()
DEFAULT_VERSION = "sha256:243524040e894506"
"""The version of today's defaults; changing any default changes it (and docs/policy.md)."""


def _problems(doc: Any, catalog: Any = REAL) -> list[tuple[str, str]]:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    with pytest.raises(PolicyFileError) as caught:
        policy_from_json(data, catalog, Path("agency.json"))
    assert str(caught.value).startswith("policy file agency.json: ")
    return caught.value.problems


# ---- validation: file, field path, reason --------------------------------------------------


def test_unknown_fields_are_rejected_at_every_level_with_their_path():
    assert _problems({"shortfall_triger": 0.1}) == [
        ("shortfall_triger", "unknown field (allowed: the fields of docs/policy.md)")
    ]
    assert _problems({"weights": {"markets": 0.5}}) == [
        (
            "weights.markets",
            "unknown field (allowed: policy_shock, supply_risk, logistics, market, stock)",
        )
    ]
    assert _problems({"materials": {"gallium": {"floor": 10}}}) == [
        ("materials.gallium.floor", f"unknown field (allowed: {', '.join(MATERIAL_FIELDS)})")
    ]


def test_types_are_strict_and_values_bounded():
    assert _problems({"horizon_days": 90.0}) == [
        ("horizon_days", "Input should be a valid integer (got 90.0)")
    ]
    assert _problems({"shortfall_trigger": "0.07"}) == [
        ("shortfall_trigger", "Input should be a valid number (got '0.07')")
    ]
    assert _problems({"enter_watch": None}) == [("enter_watch", "Input should be a valid number")]
    assert _problems({"materials": {"gallium": {"shortfall_trigger": 7}}}) == [
        ("materials.gallium.shortfall_trigger", "Input should be less than or equal to 1 (got 7)")
    ]
    assert _problems({"shortfall_trigger": 0}) == [
        ("shortfall_trigger", "Input should be greater than 0 (got 0)")
    ]
    assert _problems({"drivers_cap": 21}) == [
        ("drivers_cap", "Input should be less than or equal to 20 (got 21)")
    ]
    assert _problems(b'{"enter_watch": 1e999}') == [
        ("enter_watch", "Input should be a finite number (got inf)")
    ]


def test_unknown_materials_and_inconsistent_values_are_named():
    assert _problems({"materials": {"galium": {"horizon_days": 30.5}}}) == [
        ("materials.galium.horizon_days", "Input should be a valid integer (got 30.5)"),
        ("materials.galium", f"unknown material (not in catalog {REAL.version})"),
    ]
    gallium = REAL.material("gallium")
    assert _problems({"materials": {"gallium": {"floor_days": 500}}}) == [
        (
            "materials.gallium.floor_days",
            f"gallium: floor 500 d (material override) is above target "
            f"{gallium.target_days:g} d (catalog)",
        )
    ]
    assert _problems({"materials": {"gallium": {"target_days": 10}}}) == [
        (
            "materials.gallium.target_days",
            f"gallium: floor {gallium.floor_days:g} d (catalog) is above target 10 d "
            "(material override)",
        )
    ]
    too_low = [code for code, m in REAL.materials.items() if m.floor_days > 5.0]
    problems = _problems({"target_days": 5})
    assert [where for where, _ in problems] == ["target_days"] * len(too_low)
    assert problems[0][1].endswith("is above target 5 d (global value)")
    assert _problems({"enter_watch": 60}) == [
        ("enter_warning", "must be above enter_watch (60), is 50")
    ]


def test_malformed_json_and_unreadable_files_are_errors_naming_the_file(tmp_path: Path):
    assert _problems(b'{"horizon_days": 90') == [
        ("", "Invalid JSON: EOF while parsing an object at line 1 column 19")
    ]
    assert _problems(b"[]") == [("", "Input should be an object")]
    with pytest.raises(PolicyFileError) as caught:
        load_policy(tmp_path / "missing.json", REAL)
    assert str(caught.value) == (
        f"policy file {tmp_path / 'missing.json'}: (the file): cannot read it: "
        "No such file or directory"
    )


def test_every_global_field_has_bounds_and_every_material_field_is_a_global_one():
    names = {name for name in canonical_policy(DEFAULT_POLICY) if name != "materials"}
    assert names | {"floor_days", "target_days"} == set(BOUNDS)
    assert set(MATERIAL_FIELDS) <= set(BOUNDS)


# ---- defaults = today's Policy ---------------------------------------------------------------


def test_no_file_and_an_empty_file_are_todays_policy_exactly():
    assert load_policy(None, REAL) is DEFAULT_POLICY
    assert policy_from_json(b"{}", REAL, Path("p.json")) == Policy()
    assert stockpile_rules(Policy(), "gallium", 30.0, 90.0) == stockpile_rules(
        DEFAULT_POLICY, "gallium", 30.0, 90.0
    )


def test_the_canonical_json_is_itself_a_policy_file_for_the_same_protocol():
    restated = policy_from_json(canonical_json(DEFAULT_POLICY), REAL, Path("all.json"))
    assert restated == DEFAULT_POLICY
    assert protocol_version(restated) == protocol_version(DEFAULT_POLICY) == DEFAULT_VERSION


def _run(path: Path, policy: Policy) -> BacktestResult:
    return run_backtest(path.read_text(encoding="utf-8").splitlines(), REAL, policy)


def _all_outputs(result: BacktestResult) -> str:
    return jsonl(result.snapshots) + jsonl(result.alerts) + jsonl(result.recommendations)


@cache
def _restated() -> Policy:
    return policy_from_json(canonical_json(DEFAULT_POLICY), REAL, Path("all.json"))


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "scenarios").glob("*.jsonl")) + sorted((ROOT / "episodes").glob("*.jsonl")),
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_every_scenario_and_episode_is_byte_identical_with_every_default_stated(path: Path):
    default = _run(path, Policy())
    assert _all_outputs(default) == _all_outputs(_run(path, _restated()))
    assert default.recommendations
    for rec in default.recommendations:
        assert rec.protocol == DEFAULT_VERSION and rec.rule in RULES


# ---- the version: a content hash -------------------------------------------------------------


def test_the_version_is_stable_and_ignores_spelling_but_not_content():
    spelled = [
        b'{"horizon_days": 60, "replenish_cooldown_days": 45}',
        b'{ "replenish_cooldown_days" : 45.0 ,\n "horizon_days": 60 }',
    ]
    versions = {protocol_version(policy_from_json(d, REAL, Path("p"))) for d in spelled}
    assert len(versions) == 1
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", versions.pop() or "")
    assert protocol_version(
        policy_from_json(b'{"weights": {"market": 0.55}}', REAL, Path("p"))
    ) == (DEFAULT_VERSION)
    empty_override = b'{"materials": {"gallium": {}}}'
    assert protocol_version(policy_from_json(empty_override, REAL, Path("p"))) == DEFAULT_VERSION
    seen = {DEFAULT_VERSION}
    for change in (
        {"shortfall_trigger": 0.08},
        {"seen_ids": 2049},
        {"weights": {"market": 0.56}},
        {"floor_days": 30},
        {"materials": {"gallium": {"horizon_days": 60}}},
        {"materials": {"germanium": {"horizon_days": 60}}},
    ):
        version = protocol_version(policy_from_json(json.dumps(change), REAL, Path("p")))
        assert version not in seen, change
        seen.add(version)


# ---- per-material overrides ------------------------------------------------------------------


def test_rules_resolve_material_then_global_then_catalog():
    policy = replace(
        DEFAULT_POLICY,
        horizon_days=60,
        target_days=80.0,
        materials={"gallium": MaterialOverride(horizon_days=30, floor_days=10.0)},
    )
    gallium = stockpile_rules(policy, "gallium", 20.0, 50.0)
    assert (gallium.horizon_days, gallium.floor_days, gallium.target_days) == (30, 10.0, 80.0)
    other = stockpile_rules(policy, "germanium", 20.0, 50.0)
    assert (other.horizon_days, other.floor_days, other.target_days) == (60, 20.0, 80.0)
    assert gallium.protocol == other.protocol == protocol_version(policy)


def _without_protocol(models: list[Any]) -> list[str]:
    out = []
    for model in models:
        data = json.loads(model.model_dump_json())
        data.pop("protocol", None)
        out.append(json.dumps(data, sort_keys=True))
    return out


def test_a_material_override_changes_only_that_materials_recommendations():
    scenario = ROOT / "scenarios" / "china_gallium_germanium_2023.jsonl"
    override = b'{"materials": {"gallium": {"horizon_days": 30}}}'
    policy = policy_from_json(override, REAL, Path("p"))
    default, changed = _run(scenario, Policy()), _run(scenario, policy)

    def of(result: BacktestResult, gallium: bool) -> dict[str, list[str]]:
        keep = [lambda m: (m.material == "gallium") == gallium]
        return {
            kind: _without_protocol([m for m in getattr(result, kind) if keep[0](m)])
            for kind in ("snapshots", "alerts", "recommendations")
        }

    assert of(changed, gallium=False) == of(default, gallium=False)
    assert {r.material for r in default.recommendations} >= {"gallium", "germanium"}
    assert (
        of(changed, gallium=True)["recommendations"] != of(default, gallium=True)["recommendations"]
    )
    assert {r.protocol for r in changed.recommendations} == {protocol_version(policy)}

    def releases(result: BacktestResult) -> list[float]:
        return [
            r.quantity_t
            for r in result.recommendations
            if r.material == "gallium" and r.rule == "release.emergency"
        ]

    # sized shortfall x horizon x daily net imports: a third of the 90-day default's tranche
    assert [round(q / 3, 3) for q in releases(default)] == releases(changed) != []


def test_rules_are_resolved_once_per_policy_and_material_not_per_event(
    monkeypatch: pytest.MonkeyPatch,
):
    calls: list[str] = []
    real = stockpile_rules

    def counting(policy: Policy, material: str, floor: float, target: float) -> Any:
        calls.append(material)
        return real(policy, material, floor, target)

    monkeypatch.setattr(derived_module, "stockpile_rules", counting)
    policy = replace(DEFAULT_POLICY, horizon_days=89)  # a fresh object: nothing memoised yet
    ev = Events()
    events = [ev.position(day(0), 9.0), *calm_prices(ev, 1, 60)]
    events += [
        ev.shipment(day(62), "sh1", "delayed", 0.5),
        ev.shipment(day(63), "sh2", "held", 0.6),
    ]
    fold(events, policy=policy)
    assert calls == ["gallium"]


# ---- the rule each recommendation names ------------------------------------------------------


RULES_20_60 = stockpile_rules(DEFAULT_POLICY, "x", 20.0, 60.0)


@pytest.mark.parametrize(
    ("overrides", "rule", "action"),
    [
        ({"restriction_shortfall": 0.07, "alert_id": "a"}, "release.emergency", "release"),
        (
            {"stock_t": 200.0, "restriction_shortfall": 0.5, "alert_id": "a"},
            "hold.at_floor",
            "hold",
        ),
        ({"market": 80.0, "alert_id": "a"}, "release.price_spike", "release"),
        ({"alert_id": "a"}, "hold.alert", "hold"),
        ({"stock_t": 400.0, "cooling_down": True}, "hold.cooldown", "hold"),
        ({"stock_t": 400.0}, "replenish.below_target", "replenish"),
        ({"stock_t": 400.0, "elevated": True}, "hold.prices_elevated", "hold"),
        ({}, "hold.at_target", "hold"),
    ],
)
def test_each_branch_of_the_decision_names_its_rule(
    overrides: dict[str, Any], rule: str, action: str
):
    args: dict[str, Any] = {
        "stock_t": 900.0,
        "daily_t": 10.0,
        "restriction_shortfall": 0.0,
        "at_risk_t": 0.0,
        "market": 0.0,
        "elevated": False,
        "alert_id": None,
        "rules": RULES_20_60,
        **overrides,
    }
    decision = decide(**args)
    assert decision is not None and (decision.rule, decision.action) == (rule, action)


def test_every_rule_is_published_in_the_contract_and_documented():
    schema = StockpileRecommendation.model_json_schema()
    published = next(o for o in schema["properties"]["rule"]["anyOf"] if "enum" in o)["enum"]
    assert published == list(RULES)
    docs = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")
    for rule in RULES:
        assert f"`{rule}`" in docs, rule


def test_the_protocol_decides_the_threshold_in_the_stream_of_one_material():
    ev = Events()
    events = [ev.position(day(0), 9.0), *calm_prices(ev, 1, 20)]
    # 0.5 t = 5 days of net imports: 5.6% of the default 90-day horizon (trigger 7%)
    events.append(ev.shipment(day(22), "sh1", "cancelled", 0.5))
    _, outs = fold(events)
    default_rules = [r.rule for o in outs for r in o.recommendations]
    strict = replace(DEFAULT_POLICY, materials={"gallium": MaterialOverride(horizon_days=1)})
    _, outs = fold(events, policy=strict)
    strict_recs = [r for o in outs for r in o.recommendations]
    assert "release.emergency" not in default_rules
    assert strict_recs[-1].rule == "release.emergency"
    assert strict_recs[-1].protocol == protocol_version(strict)


# ---- persisted state when the protocol changes between restarts ----------------------------


def test_a_state_saved_under_one_protocol_continues_under_another():
    ev = Events()
    roomy = replace(DEFAULT_POLICY, seen_ids=4096, max_series=16, max_holders=8)
    events: list[Any] = [
        ev.position(day(0), 9.0, holder="FR"),
        ev.position(day(0), 9.0, holder="DE"),
    ]
    events += calm_prices(ev, 1, 30)
    events += [ev.price(day(31), 1.0, source=f"s{n}") for n in range(6)]
    state, outs = fold(events, policy=roomy)
    before = [r for o in outs for r in o.recommendations][-1]
    saved = dump_state(state)

    tight = replace(
        DEFAULT_POLICY,
        seen_ids=10,
        max_series=3,
        max_holders=1,
        materials={"gallium": MaterialOverride(target_days=400.0)},
    )
    loaded = load_state(saved)
    _, out = apply_event(loaded, ev.price(day(32), 1.0, source="s9"), CATALOG, tight)
    assert len(loaded.seen) <= 10 and len(loaded.series) <= 3
    _, out2 = apply_event(loaded, ev.position(day(33), 9.0, holder="IT"), CATALOG, tight)
    assert len(loaded.holdings) == 1
    recs = [*out.recommendations, *out2.recommendations]
    assert recs and recs[0].protocol == protocol_version(tight)
    assert recs[0].recommendation_id != before.recommendation_id
    assert recs[-1].rule == "replenish.below_target"  # the new target: 400 d


def test_an_unchanged_protocol_after_a_restart_reissues_nothing():
    ev = Events()
    state, _ = fold([ev.position(day(0), 9.0), *calm_prices(ev, 1, 20)])
    loaded = load_state(dump_state(state))
    _, out = apply_event(loaded, ev.price(day(21), 1.0), CATALOG, DEFAULT_POLICY)
    assert out.recommendations == ()


def test_a_format_2_state_loads_and_its_recommendation_is_reissued_with_a_rule():
    ev = Events()
    state, _ = fold([ev.position(day(0), 9.0), *calm_prices(ev, 1, 20)])
    doc = json.loads(dump_state(state))
    assert doc[0] == FORMAT_VERSION == 3
    doc[0], doc[12] = 2, doc[12][:-2]  # format 2: no rule, no protocol
    loaded = load_state(json.dumps(doc).encode())
    assert loaded.recommendation is not None and loaded.recommendation.rule == ""
    from mineral_sentinel.risk import last_recommendation

    old = last_recommendation(loaded)
    assert old is not None and old.rule is None and old.protocol is None
    _, out = apply_event(loaded, ev.price(day(21), 1.0), CATALOG, DEFAULT_POLICY)
    assert [(r.rule, r.protocol) for r in out.recommendations] == [
        ("hold.at_target", DEFAULT_VERSION)
    ]


# ---- the shells: backtest, evaluate, worker ---------------------------------------------------


def _backtest(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    backtest_cli.add_arguments(parser)
    return backtest_cli.run(parser.parse_args(argv))


def _write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_backtest_takes_the_policy_file_and_names_its_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    events = str(ROOT / "scenarios" / "china_gallium_germanium_2023.jsonl")
    strict = _write(tmp_path / "short.json", {"horizon_days": 30})
    version = protocol_version(policy_from_json(strict.read_bytes(), REAL, strict))
    assert _backtest([events, "--out", str(tmp_path / "a"), "--no-charts"]) == 0
    assert (
        _backtest([events, "--out", str(tmp_path / "b"), "--no-charts", "--policy", str(strict)])
        == 0
    )
    assert f"(protocol {version})" in capsys.readouterr().out
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert (a["protocol"], b["protocol"]) == (DEFAULT_VERSION, version)
    assert a["materials"]["gallium"]["rules"]["release.emergency"] == 1
    assert b["materials"]["gallium"]["released_t"] < a["materials"]["gallium"]["released_t"]
    monkeypatch.setenv("SENTINEL_POLICY_FILE", str(strict))  # the setting is the default
    assert _backtest([events, "--out", str(tmp_path / "c"), "--no-charts"]) == 0
    assert json.loads((tmp_path / "c" / "summary.json").read_text())["protocol"] == version


def test_backtest_and_evaluate_exit_2_on_a_bad_policy_file_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    bad = _write(tmp_path / "bad.json", {"materials": {"gallium": {"horizon_days": 0}}})
    events = str(ROOT / "scenarios" / "calm_year.jsonl")
    reason = "materials.gallium.horizon_days: Input should be greater than or equal to 1 (got 0)"
    assert _backtest([events, "--out", str(tmp_path / "o"), "--policy", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"sentinel backtest: policy file {bad}: {reason}\n"
    assert not (tmp_path / "o").exists()
    assert main(["evaluate", str(ROOT / "episodes"), "--no-charts", "--policy", str(bad)]) == 2
    assert capsys.readouterr().err == f"sentinel evaluate: policy file {bad}: {reason}\n"
    assert main(["policy", str(bad)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    # the worker in a child process (the two services' apps register the same metric names)
    worker = subprocess.run(
        [sys.executable, "-m", "mineral_sentinel.cli", "worker", "risk"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "SENTINEL_POLICY_FILE": str(bad)},
        timeout=120,
        check=False,
    )
    assert worker.returncode == 2, worker.stderr[-2000:]
    assert worker.stderr == f"sentinel worker risk: policy file {bad}: {reason}\n"


def test_evaluate_compares_two_protocols_on_the_same_episodes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    episodes = str(ROOT / "episodes")
    main(["evaluate", episodes, "--no-charts"])
    default = capsys.readouterr()
    never = _write(tmp_path / "never.json", {"shortfall_trigger": 1.0})
    main(["evaluate", episodes, "--no-charts", "--policy", str(never)])
    other = capsys.readouterr()
    assert f"protocol {DEFAULT_VERSION} (defaults)" in default.err
    assert f"({never})" in other.err
    assert "gallium_germanium_2023: gallium: release due by" not in default.out
    assert "gallium_germanium_2023: gallium: release due by" in other.out


def test_sentinel_policy_prints_the_version_and_every_value_in_effect(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = _write(tmp_path / "p.json", {"materials": {"gallium": {"horizon_days": 60}}})
    assert main(["policy", str(path)]) == 0
    printed = capsys.readouterr()
    doc = json.loads(printed.out)
    assert doc["materials"] == {"gallium": {"horizon_days": 60}}
    assert doc["shortfall_trigger"] == 0.07
    assert protocol_version(policy_from_json(printed.out, REAL, path)) in printed.err


def test_docs_example_is_a_valid_policy_with_the_version_the_docs_state():
    text = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")
    example = text.split("<!-- example:begin -->", 1)[1].split("<!-- example:end -->", 1)[0]
    body = example.split("```json\n", 1)[1].split("```", 1)[0]
    policy = policy_from_json(body, REAL, Path("example.json"))
    assert f"`{protocol_version(policy)}`" in text
    assert f"`{DEFAULT_VERSION}`" in text
