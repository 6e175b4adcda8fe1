"""End to end for operators: both services run a scenario while a real Prometheus scrapes them;
every dashboard panel expression and every rule expression must return data.

No Grafana server runs here, so this is how the dashboards are proven: Grafana would send exactly
these queries (template variables substituted) to the provisioned Prometheus datasource.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from mineral_sentinel.demo.receiver import Receiver
from tests.helpers.kafka import produce
from tests.helpers.polling import async_wait_until
from tests.helpers.processes import ServiceProcess, free_port
from tests.ops.dashboards import panel_queries, rule_expressions, substitute
from tests.ops.prometheus import PrometheusServer

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIO = REPO_ROOT / "scenarios" / "china_gallium_germanium_2023.jsonl"
TOKEN = "e2e-token"
COMPARISON = re.compile(r"\s*(==|!=|>=|<=|>|<)\s*-?[0-9.]+(e-?[0-9]+)?")


def signal_of(expr: str) -> str:
    """An alerting expression without its threshold: the series the alert watches."""
    return COMPARISON.sub("", expr)


def sentinel(*args: str) -> list[str]:
    return [sys.executable, "-m", "mineral_sentinel.cli", *args]


async def test_every_dashboard_panel_and_rule_returns_data(
    service_env: dict[str, str], kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    risk_port, notifier_port = free_port(), free_port()
    env = {
        **service_env,
        "SENTINEL_API_TOKENS": TOKEN,
        "SENTINEL_RISK_WEB_PORT": str(risk_port),
        "SENTINEL_NOTIFIER_WEB_PORT": str(notifier_port),
        "SENTINEL_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "SENTINEL_WEBHOOK_ALLOW_HTTP": "true",
        "SENTINEL_WEBHOOK_RETRY_SCALE": "0.001",
        "SENTINEL_STORE": "memory://",
    }
    risk = ServiceProcess(sentinel("worker", "risk"), env, tmp_path / "risk.log").start()
    notifier = ServiceProcess(
        sentinel("worker", "notifier"), env, tmp_path / "notifier.log"
    ).start()
    prometheus = PrometheusServer(
        tmp_path / "prometheus",
        free_port(),
        {
            "sentinel-risk": f"127.0.0.1:{risk_port}",
            "sentinel-notifier": f"127.0.0.1:{notifier_port}",
        },
    )
    good = Receiver(printer=lambda _: None)
    runners = []
    try:
        async with httpx.AsyncClient(
            timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as client:

            async def both_ready() -> bool:
                try:
                    for port in (risk_port, notifier_port):
                        response = await client.get(f"http://127.0.0.1:{port}/readyz")
                        if response.status_code != 200:
                            return False
                    return True
                except httpx.HTTPError:
                    assert risk.running and notifier.running, "a worker exited"
                    return False

            await async_wait_until(both_ready, timeout=120, interval=0.25, message="workers ready")
            prometheus.start()

            good_port, gone_port = free_port(), free_port()
            runners.append(await good.serve("127.0.0.1", good_port))
            runners.append(await serve_gone("127.0.0.1", gone_port))
            secrets = []
            for port in (good_port, gone_port):
                created = await client.post(
                    f"http://127.0.0.1:{notifier_port}/v1/subscriptions",
                    json={"url": f"http://127.0.0.1:{port}/webhook", "min_severity": "watch"},
                )
                assert created.status_code == 201, created.text
                secrets.append(created.json()["secret"])
            good.secret = secrets[0]

            # Bad input too, so the dead-letter series exist.
            await produce(
                kafka_bootstrap,
                f"{topic_prefix}minerals.prices.v1",
                [(b"gallium", b"not json"), (b"gallium", b'{"type": "price_observed"}')],
            )
            replay = await asyncio.create_subprocess_exec(
                *sentinel("replay", str(SCENARIO)),
                env={**os.environ, **env},
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            assert await replay.wait() == 0

            async def releases_delivered() -> bool:
                return any(p["type"] == "stockpile.recommendation" for p in good.received)

            await async_wait_until(
                releases_delivered, timeout=120, interval=0.25, message="a recommendation delivered"
            )

        async def targets_up() -> bool:
            return prometheus.targets_up()

        await async_wait_until(targets_up, timeout=30, message="both targets up in prometheus")
        queries = {
            f"{q.dashboard} / {q.panel}": substitute(q.expr, "gallium") for q in panel_queries()
        }
        queries |= {f"rule {name}": signal_of(expr) for name, expr in rule_expressions()}

        def empty() -> list[str]:
            return [name for name, expr in queries.items() if not prometheus.query(expr)]

        async def all_have_data() -> bool:
            return not empty()

        try:
            await async_wait_until(
                all_have_data,
                timeout=90,
                interval=1.0,
                message="every panel and rule expression returns data",
            )
        except AssertionError:
            pytest.fail(f"no data for: {empty()}\nprometheus log:\n{prometheus.log()}")
        unhealthy = [r["name"] for r in prometheus.rules() if r.get("health") != "ok"]
        assert not unhealthy, unhealthy
    finally:
        for runner in runners:
            await runner.cleanup()
        prometheus.stop()
        risk.stop()
        notifier.stop()


async def serve_gone(host: str, port: int) -> web.AppRunner:
    """An endpoint that answers 410 Gone: the notifier must disable its subscription."""

    async def gone(request: web.Request) -> web.Response:
        return web.Response(status=410)

    app = web.Application()
    app.router.add_post("/webhook", gone)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
