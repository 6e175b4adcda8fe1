"""Session fixtures: a real Kafka broker (started here unless SENTINEL_KAFKA_BOOTSTRAP is set)
and a unique topic prefix per test so tests never see each other's data."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from mineral_sentinel.config import Settings
from mineral_sentinel.localkafka import LocalBroker

REPO_ROOT = Path(__file__).resolve().parents[1]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


signal.signal(signal.SIGTERM, _interrupt)
"""A SIGTERM (a CI timeout, `kill`) ends the run like Ctrl-C: tests' `finally` blocks and the
fixtures' teardown still stop the workers and the broker they started, which run in their own
sessions and would otherwise live on (seen: four orphaned risk workers spinning for an hour)."""
TEST_BROKER_PORT = int(os.environ.get("SENTINEL_TEST_KAFKA_PORT", "29092"))


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a real broker: the configured one, or one started for this session."""
    configured = os.environ.get("SENTINEL_KAFKA_BOOTSTRAP")
    if configured:
        yield configured
        return
    settings = Settings()
    broker = LocalBroker(
        port=TEST_BROKER_PORT,
        controller_port=TEST_BROKER_PORT + 1,
        home=REPO_ROOT / "var" / "test-kafka",
        cache_dir=settings.kafka_cache_dir,
        start_timeout_s=120.0,
    )
    started = broker.start()
    try:
        yield broker.bootstrap
    finally:
        if started:
            broker.stop()


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to this test: topics, consumer groups and app ids never collide."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def service_env(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> dict[str, str]:
    """Environment for a service subprocess bound to this test's broker, prefix and data dir."""
    return {
        "SENTINEL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SENTINEL_TOPIC_PREFIX": topic_prefix,
        "SENTINEL_DATA_DIR": str(tmp_path / "data"),
    }
