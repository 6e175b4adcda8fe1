"""A broker outage during a replay: the broker is stopped for 30 s mid-replay and started again on
the same data. The replay rides it out (every planned message on its topic at least once, in file
order within each partition, exit 0) and so does the risk worker reading meanwhile: it keeps
running and its outputs equal the backtest's (at least once: repeats are byte-identical).

The broker here is private to this module (its own ports and home): stopping the session broker
would break every other test sharing it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from mineral_sentinel.catalog.loader import load_catalog
from mineral_sentinel.config import Settings
from mineral_sentinel.feeds.replay import Planned, plan
from mineral_sentinel.localkafka import LocalBroker
from tests.helpers.kafka import read_topic
from tests.helpers.polling import wait_until
from tests.helpers.processes import ServiceProcess
from tests.integration.risk_harness import (
    RiskWorker,
    assert_outputs_match_backtest,
    backtest,
    final_state_matches,
)

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIO = REPO_ROOT / "scenarios" / "drc_cobalt_2025.jsonl"
PRIVATE_PORT = 29392
"""Below the ephemeral port range (32768-60999 on Linux): clients retrying a connection to a
stopped broker on an ephemeral port can connect to themselves and hold the port."""
RATE = 35  # events per second: the replay runs about 20 s
OUTAGE_S = 30.0


@pytest.fixture(scope="module")
def private_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    broker = LocalBroker(
        port=PRIVATE_PORT,
        controller_port=PRIVATE_PORT + 1,
        home=tmp_path_factory.mktemp("outage-broker"),
        cache_dir=Settings().kafka_cache_dir,
        start_timeout_s=120.0,
        partitions=4,
    )
    broker.start(log=False)
    try:
        yield broker
    finally:
        broker.stop(log=False)


def planned_messages() -> list[Planned]:
    with SCENARIO.open(encoding="utf-8") as handle:
        return [item for item in plan(iter(handle), load_catalog()) if isinstance(item, Planned)]


async def delivered_total(bootstrap: str, topics: list[str]) -> int:
    """Messages on the topics so far (sum of end offsets); 0 for topics not there yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    tps = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
    if not tps:
        return 0
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


def test_replay_and_worker_survive_a_30_s_broker_outage(
    private_broker: LocalBroker, topic_prefix: str, tmp_path: Path
) -> None:
    messages = planned_messages()
    assert len({m.value for m in messages}) == len(messages), "scenario lines must be unique"
    topics = sorted({m.topic for m in messages})
    env = {
        "SENTINEL_KAFKA_BOOTSTRAP": private_broker.bootstrap,
        "SENTINEL_TOPIC_PREFIX": topic_prefix,
        "SENTINEL_TOPIC_PARTITIONS": "4",
        "SENTINEL_DATA_DIR": str(tmp_path / "data"),
    }
    argv = [sys.executable, "-m", "mineral_sentinel.cli", "replay", str(SCENARIO)]
    worker = RiskWorker(env, tmp_path / "worker.log").start()
    feeder = ServiceProcess(
        [*argv, "--no-progress", "--rate", str(RATE)], env, tmp_path / "replay.log"
    ).start()
    try:
        full_topics = [f"{topic_prefix}{t}" for t in topics]

        def some_delivered() -> bool:
            assert feeder.running, f"replay exited before the outage:\n{feeder.log_text()}"
            return asyncio.run(delivered_total(private_broker.bootstrap, full_topics)) >= 60

        wait_until(some_delivered, timeout=30, interval=0.25, message="first deliveries")

        private_broker.stop(log=False)
        outage_ends = time.monotonic() + OUTAGE_S
        while time.monotonic() < outage_ends:  # the outage itself is the scenario
            assert feeder.running, f"replay died during the outage:\n{feeder.log_text()}"
            assert worker.running, f"worker died during the outage:\n{worker.process.log_text()}"
            assert not private_broker.is_running()
            time.sleep(0.5)
        private_broker.start(log=False)

        wait_until(lambda: not feeder.running, timeout=60, interval=0.2, message="replay exits")
        log = feeder.log_text()
        assert feeder.process is not None and feeder.process.returncode == 0, log
        assert f"replayed {len(messages)} events from {SCENARIO}, 0 bad lines skipped" in log
        expected = backtest(SCENARIO.name)
        wait_until(
            lambda: final_state_matches(worker, expected),
            timeout=90,
            interval=0.5,
            message="the worker's final state equals the backtest's",
        )
        duplicates = asyncio.run(
            assert_outputs_match_backtest(
                private_broker.bootstrap, topic_prefix, expected, healthy=lambda: worker.running
            )
        )
        print(f"byte-identical re-emissions after the outage: {duplicates}")
    finally:
        feeder.stop()
        worker.stop()

    want: dict[str, list[Planned]] = defaultdict(list)
    for message in messages:
        want[message.topic].append(message)
    for topic in topics:
        records = asyncio.run(
            read_topic(
                private_broker.bootstrap,
                f"{topic_prefix}{topic}",
                expected=len(want[topic]),
                timeout=30,
                settle=1.0,
            )
        )
        got = Counter((r.key, r.value) for r in records)
        wanted = Counter((m.key, m.value) for m in want[topic])
        assert set(got) == set(wanted), f"{topic}: a message is missing or foreign"
        repeated = sum(got.values()) - sum(wanted.values())
        print(f"{topic}: {repeated} messages written twice by retries")
        assert all(not r.headers for r in records), f"{topic}: replay headers are gone"
        file_order = {m.value: index for index, m in enumerate(want[topic])}
        by_partition: dict[int, list[int]] = defaultdict(list)
        for r in sorted(records, key=lambda r: (r.partition, r.offset)):
            assert r.value is not None
            if file_order[r.value] not in by_partition[r.partition]:  # first writes only
                by_partition[r.partition].append(file_order[r.value])
        for partition, indices in by_partition.items():
            assert indices == sorted(indices), f"{topic}[{partition}] out of file order"
