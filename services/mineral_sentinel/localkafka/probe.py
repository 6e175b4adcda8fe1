"""Is a Kafka broker answering? A real metadata request through aiokafka, with a deadline."""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaClient


class _DropConnectErrors(logging.Filter):
    """While probing, a refused connection is the expected answer, not an error to print."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Unable connect")


async def _metadata_once(bootstrap: str, timeout_s: float) -> int:
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=int(timeout_s * 1000),
        metadata_max_age_ms=1000,
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
        return len(client.cluster.brokers())
    finally:
        await client.close()


def metadata_answers(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """True when the broker answers a metadata request naming at least one broker."""
    logger = logging.getLogger("aiokafka")
    quiet = _DropConnectErrors()
    logger.addFilter(quiet)
    try:
        return asyncio.run(_metadata_once(bootstrap, timeout_s)) > 0
    except Exception:
        return False
    finally:
        logger.removeFilter(quiet)


def wait_for_metadata(bootstrap: str, deadline_s: float, alive: object = None) -> bool:
    """Poll until the broker answers or the deadline passes; `alive()` can abort early."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if callable(alive) and not alive():
            return False
        if metadata_answers(bootstrap, timeout_s=min(2.0, max(0.1, deadline - time.monotonic()))):
            return True
        time.sleep(0.25)  # poll interval, not synchronisation: the loop checks the real condition
    return False
