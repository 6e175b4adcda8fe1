"""The private attributes of aiokafka, faust and httpx that two small adapters rely on are still
there and still mean what the adapters assume; an upgrade that changes them fails here, naming
the adapter to re-check, not in production. (faust's other internals: `test_faust_adapter.py`.)

- `risk_service/fetching.py` sets aiokafka's `AIOKafkaConsumer._fetch_max_wait_ms` on the
  consumer faust's consumer thread creates (`_create_worker_consumer`), before `start()` builds
  the Fetcher from it; faust's `Consumer._new_consumer_thread` builds that thread.
- `notifier/transport.py` replaces httpcore's connection-pool `_network_backend` (what opens
  connections) with one that connects to the vetted IP.
"""

from __future__ import annotations

import inspect

import aiokafka
import httpcore
import httpx
import pytest
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer

from mineral_sentinel.risk_service import fetching

pytestmark = pytest.mark.unit

TESTED = {"aiokafka": ("0.14",), "httpx": ("0.28", "0.29"), "httpcore": ("1.0",)}


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("aiokafka", aiokafka.__version__),
        ("httpx", httpx.__version__),
        ("httpcore", httpcore.__version__),
    ],
)
def test_tested_versions(name: str, version: str) -> None:
    adapter = "risk_service/fetching.py" if name == "aiokafka" else "notifier/transport.py"
    assert version.startswith(TESTED[name]), f"{name} {version}: re-check {adapter} against it"


async def test_aiokafka_builds_its_fetcher_from_fetch_max_wait_ms_at_start() -> None:
    consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", fetch_max_wait_ms=777)
    try:
        assert consumer._fetch_max_wait_ms == 777, "AIOKafkaConsumer renamed _fetch_max_wait_ms"
        source = inspect.getsource(aiokafka.AIOKafkaConsumer.start)
        assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in source, (
            "AIOKafkaConsumer.start no longer builds its Fetcher from _fetch_max_wait_ms: "
            "re-check risk_service/fetching.py"
        )
    finally:
        await consumer.stop()


def test_faust_builds_its_aiokafka_consumer_where_fetching_overrides_it() -> None:
    assert callable(getattr(AIOKafkaConsumerThread, "_create_worker_consumer", None)), (
        "faust's AIOKafkaConsumerThread._create_worker_consumer is gone: re-check fetching.py"
    )
    assert callable(getattr(Consumer, "_new_consumer_thread", None)), (
        "faust's aiokafka Consumer._new_consumer_thread is gone: re-check fetching.py"
    )
    built = fetching.low_latency_consumer(250)
    assert issubclass(built, Consumer)


def test_httpx_transport_exposes_httpcore_s_network_backend() -> None:
    transport = httpx.AsyncHTTPTransport()
    pool = transport._pool
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    assert hasattr(pool, "_network_backend"), (
        "httpcore's pool no longer keeps _network_backend: re-check notifier/transport.py"
    )
    source = inspect.getsource(httpcore.AsyncConnectionPool.create_connection)
    assert "network_backend=self._network_backend" in source, (
        "httpcore no longer opens connections through _network_backend: re-check transport.py"
    )
