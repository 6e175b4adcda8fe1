"""A failing endpoint that comes back gets its queue within seconds, not at the next retry.

Real broker, a real notifier worker on the real retry schedule (0 s, 5 s, 5 min, ...) and a real
HTTP receiver that answers 500 until it recovers. Before recovery checks, every lane waited for
its head's third step (5 minutes); now the queue must flow within a check interval or two
(`SENTINEL_WEBHOOK_RECOVERY_CHECK_S`, default 5 s), keeping each material's order.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mineral_sentinel.contracts.outputs import Alert, StockpileRecommendation
from tests.helpers.polling import async_wait_until
from tests.helpers.receiver import OK, Behaviour
from tests.integration.notifier_harness import (
    alert,
    publish,
    running_receiver,
    start_notifier,
    subscribe,
    verify,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

MATERIALS = ("gallium", "germanium", "antimony", "tungsten", "graphite")
PER_MATERIAL = 3
OUTAGE_S = 12.0
"""Long enough for every head's scheduled attempts at 0 s and 5 s to fail, and for a check."""
RECOVERY_DEADLINE_S = 30.0
"""Well under the 5-minute third step that the heads would otherwise wait for."""


async def test_queued_deliveries_flow_within_seconds_of_the_endpoint_recovering(
    kafka_bootstrap: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    env = {
        "SENTINEL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SENTINEL_TOPIC_PREFIX": prefix,
        "SENTINEL_DATA_DIR": str(tmp_path / "data"),
    }
    real_schedule = {"SENTINEL_WEBHOOK_RETRY_SCALE": "1.0", "SENTINEL_WEBHOOK_TIMEOUT_S": "2.0"}
    worker = start_notifier(env, tmp_path / "notifier.log", extra=real_schedule)
    try:
        await worker.wait_ready()
        async with running_receiver() as receiver:
            receiver.default = Behaviour(status=500)
            sub_id, secret = await subscribe(
                worker, receiver.url, materials=list(MATERIALS), min_severity="watch"
            )
            messages: list[Alert | StockpileRecommendation] = [
                alert(sequence, material=material)
                for sequence in range(1, PER_MATERIAL + 1)
                for material in MATERIALS
            ]
            outage_from = time.monotonic()
            await publish(kafka_bootstrap, prefix, messages)

            async def heads_failed_on_schedule_twice() -> bool:
                refused = [r for r in receiver.requests if r.answered == 500]
                return len(refused) >= 2 * len(MATERIALS)

            await async_wait_until(
                heads_failed_on_schedule_twice, timeout=30, message="both scheduled failures"
            )
            # The outage's length is the scenario, not synchronisation.
            await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage_from)))
            receiver.default = OK
            recovered = time.monotonic()

            async def all_delivered() -> bool:
                return len(receiver.answered()) >= len(messages)

            await async_wait_until(
                all_delivered, timeout=RECOVERY_DEADLINE_S, message="queue after recovery"
            )
            delivered = receiver.answered()
            delay = max(r.at for r in delivered) - recovered
            first = min(r.at for r in delivered) - recovered
            record_property("recovery_to_first_delivery_s", round(first, 2))
            record_property("recovery_to_last_delivery_s", round(delay, 2))
            print(
                f"\nendpoint down {recovered - outage_from:.1f} s; recovery -> first delivery "
                f"{first:.2f} s, -> last of {len(delivered)} {delay:.2f} s"
            )

            ids = [r.headers["webhook-id"] for r in delivered]
            assert len(ids) == len(set(ids)) == len(messages), "each message delivered once"
            bodies = [verify(secret, r)["data"] for r in delivered]
            for material in MATERIALS:
                sequences = [b["sequence"] for b in bodies if b["material"] == material]
                assert sequences == list(range(1, PER_MATERIAL + 1)), f"{material} in order"
            refused_during_outage = [r for r in receiver.requests if r.answered == 500]
            assert len(refused_during_outage) <= 2 * len(MATERIALS) + OUTAGE_S / 5 + 2, (
                "one recovery check per interval, not one per lane"
            )

            async def all_recorded() -> list[dict[str, Any]]:
                async with worker.client() as client:
                    response = await client.get(f"/v1/subscriptions/{sub_id}/deliveries")
                assert response.status_code == 200, response.text
                found: list[dict[str, Any]] = response.json()
                done = [d["status"] for d in found] == ["succeeded"] * len(messages)
                return found if done else []

            states = await async_wait_until(all_recorded, timeout=15, message="log folded")
            attempts = [a for d in states for a in d["attempts"]]
            assert any(a["early"] and a["status_code"] == 200 for a in attempts), (
                "the queue went ahead of its schedule"
            )
            for delivery in states:
                on_schedule = [a for a in delivery["attempts"] if not a["early"]]
                refused = [a for a in on_schedule if a["status_code"] == 500]
                assert len(refused) <= 2, "no delivery waited for its 3rd scheduled step"
            failed_early = sum(1 for a in attempts if a["early"] and a["status_code"] == 500)
            counted = await worker.metric(
                'sentinel_webhook_deliveries_total{outcome="early_retry"}'
            )
            assert counted == failed_early, "failed early attempts are counted as early_retry"
    finally:
        worker.process.stop()
