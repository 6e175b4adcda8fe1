"""The risk service's HTTP API on a real worker: every endpoint's success and error paths."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from mineral_sentinel.risk import Policy, snapshot_of
from tests.helpers.kafka import read_topic
from tests.helpers.polling import wait_until
from tests.integration.risk_harness import (
    AUTH,
    SCENARIOS,
    RiskWorker,
    backtest,
    catalog,
    read_outputs,
    replay,
)

pytestmark = pytest.mark.integration

SCENARIO = "china_graphite_2023.jsonl"
MATERIAL = "natural_graphite"
V1_GETS = ["/v1/materials", f"/v1/materials/{MATERIAL}", "/v1/alerts", "/v1/recommendations"]


def price(event_id: str, material: str = "gallium", **overrides: object) -> dict[str, object]:
    return {
        "type": "price_observed",
        "event_id": event_id,
        "material": material,
        "observed_at": "2024-06-03T16:00:00Z",
        "price": 312.5,
        "currency": "USD",
        "unit": "kg",
        "source": "fastmarkets",
        **overrides,
    }


async def test_risk_api_success_and_error_paths(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    expected = backtest(SCENARIO)
    env = {**service_env, "SENTINEL_RISK_MAX_BODY_BYTES": "65536"}
    worker = RiskWorker(env, tmp_path / "worker.log").start()
    base = worker.url
    try:
        replay(service_env, SCENARIOS / SCENARIO)
        await read_outputs(
            kafka_bootstrap, topic_prefix, "alerts", expected=len(expected.alerts), settle=0.5
        )
        await read_outputs(
            kafka_bootstrap,
            topic_prefix,
            "recommendations",
            expected=len(expected.recommendations),
            settle=0.5,
        )

        # ---- auth: 401 without a token or with an unknown one (RFC 6750); health, metrics open
        for path in V1_GETS:
            assert httpx.get(base + path).status_code == 401
            wrong = httpx.get(base + path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            assert wrong.json()["status"] == 401
            assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
        assert httpx.post(base + "/v1/events", json=price("x")).status_code == 401
        for path in ("/healthz", "/readyz", "/metrics"):
            assert httpx.get(base + path).status_code == 200
        assert "sentinel_build_info" in httpx.get(base + "/metrics").text

        # ---- reads after the replay equal the backtest's final state and history
        final = snapshot_of(expected.states[MATERIAL], catalog(), Policy())
        rows = worker.get("/v1/materials").json()
        assert [r["material"] for r in rows] == [MATERIAL]
        assert (rows[0]["level"], rows[0]["score"]) == (final.level, final.score)
        detail = worker.get(f"/v1/materials/{MATERIAL}")
        assert detail.status_code == 200
        body = detail.json()
        assert body["snapshot"] == json.loads(final.model_dump_json())
        assert set(body) >= {"active_measures", "open_alert", "last_alert", "last_recommendation"}
        assert body["holdings"] and body["holdings"] == body["snapshot"]["holdings"]
        assert body["last_recommendation"] == json.loads(
            expected.recommendations[-1].model_dump_json()
        )
        assert worker.get("/v1/materials/unobtainium").status_code == 404
        assert worker.get("/v1/materials/gallium").status_code == 404, "no event seen yet"

        latest: dict[str, dict[str, object]] = {}
        for alert in expected.alerts:
            latest[alert.alert_id] = json.loads(alert.model_dump_json())
        alerts = worker.get("/v1/alerts").json()
        assert sorted(alerts, key=lambda a: str(a["alert_id"])) == sorted(
            latest.values(), key=lambda a: str(a["alert_id"])
        )
        resolved = worker.get("/v1/alerts", params={"status": "resolved"}).json()
        assert resolved == [a for a in alerts if a["status"] == "resolved"]
        assert worker.get("/v1/alerts", params={"material": MATERIAL}).json() == alerts
        assert worker.get("/v1/alerts", params={"status": "sleeping"}).status_code == 422
        assert worker.get("/v1/alerts", params={"material": "unobtainium"}).status_code == 422
        recs = worker.get("/v1/recommendations", params={"material": MATERIAL}).json()
        want = [json.loads(r.model_dump_json()) for r in expected.recommendations][-20:]
        assert recs == sorted(want, key=lambda r: str(r["issued_at"]), reverse=True)
        assert worker.get("/v1/recommendations", params={"material": "x!"}).status_code == 422

        # ---- POST: one event, 202 with its id, then it is applied
        accepted = httpx.post(base + "/v1/events", json=price("api-1"), headers=AUTH)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json() == {"accepted": 1, "event_ids": ["api-1"]}
        wait_until(
            lambda: worker.get("/v1/materials/gallium").status_code == 200,
            timeout=30,
            message="posted event applied",
        )

        # ---- POST: an array with bad items is refused whole, with precise errors
        batch = [
            price("api-2", material="germanium"),
            price("api-3", price=-1),
            price("api-4", material="unobtainium"),
        ]
        refused = httpx.post(base + "/v1/events", json=batch, headers=AUTH)
        assert refused.status_code == 422
        errors = refused.json()["errors"]
        assert {(e["index"], e["field"]) for e in errors} == {
            (1, "price_observed.price"),
            (2, "material"),
        }
        assert all(e["message"] for e in errors)
        too_many = httpx.post(base + "/v1/events", json=[price("m")] * 1001, headers=AUTH)
        assert too_many.status_code in (413, 422)
        big = httpx.post(
            base + "/v1/events", json=[price(f"b{i}") for i in range(400)], headers=AUTH
        )
        assert big.status_code == 413
        not_json = httpx.post(base + "/v1/events", content=b"{nope", headers=AUTH)
        assert not_json.status_code == 422
        nan = httpx.post(
            base + "/v1/events",
            content=json.dumps(price("n")).replace("312.5", "NaN").encode(),
            headers=AUTH,
        )
        assert nan.status_code == 422

        # Nothing from the refused requests reached Kafka: the replayed prices plus api-1.
        replayed_prices = sum(
            1
            for line in (SCENARIOS / SCENARIO).read_text().splitlines()
            if '"price_observed"' in line
        )
        records = await read_topic(
            kafka_bootstrap,
            f"{topic_prefix}minerals.prices.v1",
            expected=replayed_prices + 1,
            settle=1.0,
        )
        assert len(records) == replayed_prices + 1
    finally:
        worker.stop()
