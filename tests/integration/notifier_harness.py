"""Shared pieces of the notifier integration tests: a worker subprocess, an API client, messages.

Not a test module: imported by tests/integration/test_notifier*.py.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka.partitioner import murmur2
from standardwebhooks.webhooks import Webhook

from mineral_sentinel.contracts.outputs import Alert, StockpileRecommendation
from mineral_sentinel.topics import ALERTS, RECOMMENDATIONS
from tests.helpers.kafka import produce
from tests.helpers.notifier_data import warning_alert
from tests.helpers.polling import async_wait_until
from tests.helpers.processes import ServiceProcess, free_port
from tests.helpers.receiver import Received, Receiver

TOKEN = "notifier-test-token"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

FAST = {
    "SENTINEL_API_TOKENS": TOKEN,
    "SENTINEL_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
    "SENTINEL_WEBHOOK_ALLOW_HTTP": "true",
    "SENTINEL_WEBHOOK_TIMEOUT_S": "1.0",
    "SENTINEL_WEBHOOK_RETRY_SCALE": "0.001",
    "SENTINEL_WEBHOOK_RETRY_JITTER": "0",
    "SENTINEL_TOPIC_PARTITIONS": "2",
}


@dataclass
class Notifier:
    process: ServiceProcess
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, token: str | None = TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base, headers=headers, timeout=10.0)

    async def metric(self, line_start: str) -> float:
        """The value of the first /metrics sample line that starts with `line_start`."""
        async with self.client() as client:
            text = (await client.get("/metrics")).text
        for line in text.splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"{line_start} not in /metrics")

    async def wait_ready(self, timeout: float = 60.0) -> None:
        async def ready() -> bool:
            if not self.process.running:
                raise AssertionError(f"notifier exited:\n{self.process.log_text()[-4000:]}")
            try:
                async with self.client() as client:
                    return (await client.get("/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        await async_wait_until(ready, timeout=timeout, interval=0.2, message="notifier ready")


def start_notifier(
    service_env: Mapping[str, str],
    log: Path,
    port: int | None = None,
    extra: Mapping[str, str] | None = None,
) -> Notifier:
    port = port or free_port()
    env = {**service_env, **FAST, "SENTINEL_NOTIFIER_WEB_PORT": str(port), **(extra or {})}
    argv = [sys.executable, "-m", "mineral_sentinel.cli", "worker", "notifier"]
    return Notifier(ServiceProcess(argv, env, log).start(), port)


async def subscribe(notifier: Notifier, url: str, **fields: Any) -> tuple[str, str]:
    """Create a subscription as a well-behaved client does: a 503 (the worker is starting, or
    its delivery group rebalances because another worker joined) is asked again after its
    Retry-After, within a deadline."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        async with notifier.client() as client:
            response = await client.post("/v1/subscriptions", json={"url": url, **fields})
        if response.status_code != 503 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(min(1.0, float(response.headers.get("retry-after", "1"))))
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], body["secret"]


def partition_of(subscription_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a delivery keyed by this subscription."""
    return int(murmur2(subscription_id.encode()) & 0x7FFFFFFF) % partitions


async def subscribe_on_every_partition(
    notifier: Notifier, receiver_url: str, partitions: int
) -> tuple[dict[str, str], str]:
    """Subscribe `receiver_url/s0`, `/s1`, ... until the deliveries of the subscriptions cover
    every partition, so every worker owns some whatever the assignment. Returns each receiver
    path's signing secret and the last subscription id."""
    secrets: dict[str, str] = {}
    covered: set[int] = set()
    sub_id = ""
    while covered != set(range(partitions)):
        assert len(secrets) < 64, "subscription ids never covered every partition"
        path = f"/hook/s{len(secrets)}"
        sub_id, secret = await subscribe(notifier, receiver_url + path[5:], min_severity="watch")
        secrets[path] = secret
        covered.add(partition_of(sub_id, partitions))
    return secrets, sub_id


def alert(sequence: int, material: str = "gallium", **changes: Any) -> Alert:
    """A critical alert (score 80): above every subscription's default minimum severity."""
    base = warning_alert(T0, sequence, material, updated_at=T0 + timedelta(minutes=sequence))
    critical = {
        "alert_id": f"{material}-episode-1",
        "severity": "critical",
        "score": 80.0,
        "summary": "export licensing bites",
    }
    return base.model_copy(update={**critical, **changes})


def recommendation(material: str = "germanium") -> StockpileRecommendation:
    return StockpileRecommendation(
        recommendation_id=f"rec-{material}-1",
        material=material,
        action="release",
        quantity_t=10.0,
        days_of_cover_before=40.0,
        days_of_cover_after=30.0,
        horizon_days=30,
        rationale="shortfall above trigger",
        alert_id=None,
        issued_at=T0,
        valid_until=T0 + timedelta(days=30),
    )


async def publish(
    bootstrap: str, prefix: str, messages: list[Alert | StockpileRecommendation]
) -> None:
    alerts = [
        (m.material.encode(), m.model_dump_json().encode())
        for m in messages
        if isinstance(m, Alert)
    ]
    recs = [
        (m.material.encode(), m.model_dump_json().encode())
        for m in messages
        if isinstance(m, StockpileRecommendation)
    ]
    if alerts:
        await produce(bootstrap, ALERTS.full_name(prefix), alerts)
    if recs:
        await produce(bootstrap, RECOMMENDATIONS.full_name(prefix), recs)


def verify(secret: str, request: Received) -> dict[str, Any]:
    """Verify a received webhook with the reference library; returns the parsed body."""
    payload: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return payload


@asynccontextmanager
async def running_notifier(kafka_bootstrap: str, prefix: str, tmp: Path) -> AsyncIterator[Notifier]:
    """One notifier worker for a test module: started, ready, stopped at the end."""
    env = {
        "SENTINEL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SENTINEL_TOPIC_PREFIX": prefix,
        "SENTINEL_DATA_DIR": str(tmp / "data"),
    }
    worker = start_notifier(env, tmp / "notifier.log")
    try:
        await worker.wait_ready()
        yield worker
    finally:
        worker.process.stop()


@asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    receiver = await Receiver().start()
    try:
        yield receiver
    finally:
        await receiver.stop()
