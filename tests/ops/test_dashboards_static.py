"""The dashboards as Grafana would load them: generated, unique ids, the provisioned datasource."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard, Panel

from tests.ops.dashboards import GRAFANA, dashboards, provisioned_datasource_uid, rule_expressions

pytestmark = pytest.mark.unit

CURRENT_SCHEMA_VERSION = 39  # Grafana 11.x writes 39-41; older numbers trigger a migration


def test_committed_dashboards_match_the_generator() -> None:
    result = subprocess.run(
        [sys.executable, str(GRAFANA / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_three_dashboards_with_unique_panel_ids_and_current_schema() -> None:
    boards = dashboards()
    assert set(boards) == {"materials.json", "pipeline.json", "webhooks.json"}
    uids = [board["uid"] for board in boards.values()]
    assert len(set(uids)) == len(uids)
    for name, board in boards.items():
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids {ids}"
        assert board["schemaVersion"] >= CURRENT_SCHEMA_VERSION, name
        assert board["panels"], name


def test_every_dashboard_loads_into_the_sdk_model_unchanged() -> None:
    """Read back by grafana-foundation-sdk's Dashboard model (Grafana 11.6's schema): no key it
    does not know is lost, nothing it requires is missing, the panels are its panel types."""
    register_default_plugins()
    for name, board in dashboards().items():
        loaded = Dashboard.from_json(board)
        again = json.loads(JSONEncoder(sort_keys=True).encode(loaded))
        assert again == board, name
        kinds = {panel.type_val for panel in loaded.panels or [] if isinstance(panel, Panel)}
        assert kinds <= {"timeseries", "stat", "table", "bargauge", "state-timeline"}, name


def test_every_datasource_reference_is_the_provisioned_one() -> None:
    uid = provisioned_datasource_uid()
    for name, board in dashboards().items():
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == uid, (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == uid, (name, panel["title"])
        for variable in board["templating"].get("list", []):  # the SDK omits an empty list
            assert variable["datasource"]["uid"] == uid, (name, variable["name"])


def test_rule_reader_finds_every_rule() -> None:
    rules = dict(rule_expressions())
    assert {
        "SentinelWorkerDown",
        "SentinelConsumerLagGrowing",
        "SentinelDeadLettersRising",
        "SentinelWebhookFailureRateHigh",
        "SentinelWebhookEndpointDisabled",
        "SentinelMaterialCritical",
    } <= set(rules)
    assert all(expr and expr != "|" for expr in rules.values())
    assert "delta(sentinel_consumer_lag_messages[10m])" in rules["SentinelConsumerLagGrowing"]
