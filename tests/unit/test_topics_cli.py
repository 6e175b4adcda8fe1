"""`sentinel topics list`: what the topic Job creates, from topics.py and the settings."""

from __future__ import annotations

import json

import pytest

from mineral_sentinel import cli
from mineral_sentinel.risk_service.topology import CO_PARTITIONED, RISK_TOPICS
from mineral_sentinel.topics import NOTIFIER_SERVICE_TOPICS
from mineral_sentinel.topics_cli import deployment_topics

pytestmark = pytest.mark.unit


def test_every_topic_of_both_services_once() -> None:
    topics = deployment_topics()
    assert len(topics) == len(set(topics))
    assert set(topics) == {*RISK_TOPICS, *NOTIFIER_SERVICE_TOPICS}


def test_list_json_prints_each_topic_with_the_configured_partitions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SENTINEL_TOPIC_PREFIX", "p.")
    monkeypatch.setenv("SENTINEL_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("SENTINEL_TOPIC_REPLICATION", "3")
    assert cli.main(["topics", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["name"] for row in rows] == [f"p.{spec.name}" for spec in deployment_topics()]
    for row, spec in zip(rows, deployment_topics(), strict=True):
        assert (row["partitions"], row["replication"], row["cleanup"]) == (12, 3, spec.cleanup)
        assert row["exact_partitions"] is (spec in CO_PARTITIONED)
