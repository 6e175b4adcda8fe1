"""SSRF with default settings on a real worker: internal URLs are refused at creation (422) and,
when a subscription record holds one anyway (written before a policy change, or by a looser
worker), at send time -- the attempt records the refusal and nothing is connected to."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mineral_sentinel.contracts.subscriptions import SigningSecret, Subscription
from mineral_sentinel.kafka_admin import ensure_topics
from mineral_sentinel.notifier.signing import secret_from_bytes
from mineral_sentinel.topics import NOTIFIER_TOPICS, OUTPUT_TOPICS, SUBSCRIPTIONS
from tests.helpers.kafka import produce
from tests.helpers.polling import async_wait_until
from tests.helpers.processes import ServiceProcess, free_port
from tests.helpers.receiver import Receiver
from tests.integration.notifier_harness import TOKEN, Notifier, alert, publish

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


def internal_urls(port: int) -> dict[str, str]:
    return {
        "loopback": f"https://127.0.0.1:{port}/hook",
        "private": "https://10.0.0.1/hook",
        "metadata": "https://169.254.169.254/latest/meta-data/",
        "ipv6-loopback": f"https://[::1]:{port}/hook",
        "name-to-private": f"https://localhost:{port}/hook",
    }


async def test_internal_urls_refused_at_creation_and_at_send_time(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    receiver = await Receiver().start()
    await ensure_topics(
        kafka_bootstrap, (*OUTPUT_TOPICS, *NOTIFIER_TOPICS), prefix=topic_prefix, partitions=2
    )
    now = datetime.now(UTC)
    urls = internal_urls(receiver.port)
    planted = {
        name: Subscription(
            id=f"sub_planted{index:04d}",
            url=url,
            created_at=now,
            updated_at=now,
            secrets=[SigningSecret(value=secret_from_bytes(bytes(32)))],
        )
        for index, (name, url) in enumerate(urls.items())
    }
    await produce(
        kafka_bootstrap,
        SUBSCRIPTIONS.full_name(topic_prefix),
        [(s.id.encode(), s.model_dump_json().encode()) for s in planted.values()],
    )
    port = free_port()
    env = {
        **service_env,
        "SENTINEL_API_TOKENS": TOKEN,
        "SENTINEL_NOTIFIER_WEB_PORT": str(port),
        "SENTINEL_TOPIC_PARTITIONS": "2",
        "SENTINEL_WEBHOOK_RETRY_SCALE": "0.001",
    }
    argv = [sys.executable, "-m", "mineral_sentinel.cli", "worker", "notifier"]
    notifier = Notifier(ServiceProcess(argv, env, tmp_path / "notifier.log").start(), port)
    try:
        await notifier.wait_ready()
        async with notifier.client() as client:
            for name, url in urls.items():
                response = await client.post("/v1/subscriptions", json={"url": url})
                assert response.status_code == 422, (name, response.text)
                assert response.json()["errors"][0]["field"] == "url"
            http = await client.post("/v1/subscriptions", json={"url": "http://example.com/"})
            assert http.status_code == 422 and "https" in http.text

        await publish(kafka_bootstrap, topic_prefix, [alert(1)])

        async def refused_everywhere() -> bool:
            async with notifier.client() as client:
                for sub in planted.values():
                    listed = (await client.get(f"/v1/subscriptions/{sub.id}/deliveries")).json()
                    errors = [a["error"] for d in listed for a in d["attempts"]]
                    if not errors or not all(e.startswith("ssrf:") for e in errors):
                        return False
            return True

        await async_wait_until(refused_everywhere, timeout=30, message="send-time refusals")
        assert receiver.requests == [], "nothing ever connected to the internal receiver"
    finally:
        notifier.process.stop()
        await receiver.stop()
