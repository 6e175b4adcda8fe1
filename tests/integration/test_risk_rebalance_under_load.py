"""Rebalances under load: three risk workers on 8 partitions while a scenario streams in through
librdkafka; a fourth joins, one is killed -9 (and not restarted), another stopped gracefully.

Outputs must equal the backtest's (at least once: re-emissions byte-identical), the last record
of each material on the compacted risk topic must be its newest snapshot (a reader of that topic
never ends on an older state), and the time from the kill to every partition of both groups
being owned by a live worker again is measured and printed.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from confluent_kafka import ConsumerGroupState, TopicPartition
from confluent_kafka.admin import AdminClient

from mineral_sentinel.risk_service.topology import APP_NAME, BY_MATERIAL, intake_group_id
from mineral_sentinel.topics import INPUT_TOPICS
from tests.helpers import confluent
from tests.helpers.polling import wait_until
from tests.integration.risk_harness import (
    SCENARIOS,
    RiskWorker,
    assert_outputs_match_backtest,
    backtest,
    by_material,
    expected_by_material,
    final_state_differences,
    read_outputs,
)

pytestmark = pytest.mark.integration

SCENARIO = "calm_year.jsonl"  # ten materials over the eight by-material partitions
FEED_SECONDS = 36.0
PARTITIONS = 8
SESSION_TIMEOUT_S = 8.0  # the harness's; a dead static member holds its partitions this long


def owned(admin: AdminClient, group: str, dead: str) -> set[TopicPartition] | None:
    """The partitions the group's members own, or None while it rebalances or still counts the
    dead instance as a member."""
    description = admin.describe_consumer_groups([group])[group].result(timeout=10)
    if description.state != ConsumerGroupState.STABLE:
        return None
    if any(member.group_instance_id == dead for member in description.members):
        return None
    return {tp for member in description.members for tp in member.assignment.topic_partitions}


def served(admin: AdminClient, prefix: str, dead: str) -> bool:
    """Every by-material partition (the fold) and every input partition (the intake) owned."""
    fold = owned(admin, f"{prefix}{APP_NAME}", dead)
    intake = owned(admin, intake_group_id(prefix), dead)
    if fold is None or intake is None:
        return False
    fold_topic = BY_MATERIAL.full_name(prefix)
    inputs = {spec.full_name(prefix) for spec in INPUT_TOPICS}
    fold_parts = {tp.partition for tp in fold if tp.topic == fold_topic}
    intake_parts = {(tp.topic, tp.partition) for tp in intake if tp.topic in inputs}
    return fold_parts == set(range(PARTITIONS)) and len(intake_parts) == PARTITIONS * len(inputs)


async def test_join_kill_9_and_graceful_stop_while_a_scenario_streams_in(
    kafka_bootstrap: str, topic_prefix: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    expected = backtest(SCENARIO)
    env = {**service_env, "SENTINEL_RISK_SESSION_TIMEOUT_S": str(SESSION_TIMEOUT_S)}
    workers = [
        RiskWorker({**env, "SENTINEL_GROUP_INSTANCE_ID": f"risk-{i}"}, tmp_path / f"w{i}.log")
        for i in range(4)
    ]
    batch = confluent.messages(SCENARIOS / SCENARIO, topic_prefix, order="file", keying="contract")
    feeder = confluent.ConfluentFeeder(kafka_bootstrap, batch, rate=len(batch) / FEED_SECONDS)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    first, killed, stopped, joining = workers

    try:
        for worker in (first, killed, stopped):
            worker.start()
        feeder.start()
        # Each step once this share of the scenario is produced (not consumed: the dead worker's
        # partitions wait for its session to expire, and the stream must go on meanwhile).
        for share, step in ((1 / 4, "join"), (1 / 3, "kill"), (2 / 3, "stop")):
            wait_until(
                lambda share=share: feeder.produced >= len(batch) * share,  # type: ignore[misc]
                timeout=90,
                interval=0.05,
                message=f"{share:.0%} of the scenario produced before the {step}",
            )
            assert feeder.running, f"the {step} must happen while the scenario streams in"
            if step == "join":
                joining.start()
            elif step == "kill":
                killed.kill()
                killed_at = time.monotonic()
                wait_until(
                    lambda: served(admin, topic_prefix, "risk-1"),
                    timeout=90,
                    interval=0.2,
                    message="every partition owned by a live worker after the kill",
                )
                takeover = time.monotonic() - killed_at
            else:
                stopping = time.monotonic()
                stopped.stop()
                graceful_stop = time.monotonic() - stopping
        await asyncio.to_thread(feeder.join)
        survivors = (first, joining)
        wait_until(
            lambda: not final_state_differences(first, expected),
            timeout=90,
            interval=0.5,
            message="every material's final state, asked through either survivor",
        )
        assert not final_state_differences(joining, expected)
        duplicates = await assert_outputs_match_backtest(
            kafka_bootstrap,
            topic_prefix,
            expected,
            healthy=lambda: all(w.running for w in survivors),
        )
        records = await read_outputs(
            kafka_bootstrap, topic_prefix, "risk", expected=len(expected.snapshots), settle=0.5
        )
        # The backtest's last snapshot of each material is what a compacted-topic reader must
        # end on: a re-emission after it would roll that reader back to an older state.
        newest = {m: values[-1] for m, values in expected_by_material(expected.snapshots).items()}
        regressed = {
            material: [json.loads(v)["as_of"] for v in values[-4:]]
            for material, values in by_material(records).items()
            if values[-1] != newest[material]
        }
        assert not regressed, f"last records older than the newest snapshot: {regressed}"
    finally:
        for worker in workers:
            if worker.running:
                worker.stop()
    print(
        f"{SCENARIO}: partitions owned again {takeover:.1f} s after kill -9 (session timeout "
        f"{SESSION_TIMEOUT_S:.0f} s, not restarted); graceful stop under load took "
        f"{graceful_stop:.1f} s; byte-identical re-emissions: {duplicates}"
    )
