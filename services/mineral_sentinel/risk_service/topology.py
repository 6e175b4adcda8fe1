"""The risk service's topics on the broker: inputs, outputs, and its internal re-key topic."""

from __future__ import annotations

import asyncio
import threading

from aiokafka.partitioner import murmur2

from ..config import Settings
from ..kafka_admin import ensure_configured_topics
from ..topics import INPUT_TOPICS, OUTPUT_TOPICS, TopicSpec

APP_NAME = "sentinel-risk"
TABLE_NAME = "material-state"
BY_MATERIAL = TopicSpec(
    "sentinel-risk.by-material.v1",
    "material",
    "delete",
    "Keyed envelope",
    "Internal repartition topic: every valid input event re-keyed per material it concerns.",
)


def ensure_risk_topics(settings: Settings, timeout: float = 60.0) -> None:
    """Create the service's topics with their cleanup policies before Faust subscribes.

    Runs in a short-lived thread with its own event loop, so the Faust worker's loop (created
    later, in the main thread) is never touched.
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(
                ensure_configured_topics(settings, (*INPUT_TOPICS, *OUTPUT_TOPICS, BY_MATERIAL))
            )
        except BaseException as error:  # surfaced in the caller's thread
            failure.append(error)

    thread = threading.Thread(target=run, name="ensure-topics", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"creating topics on {settings.kafka_bootstrap} took over {timeout} s")
    if failure:
        raise failure[0]


def partition_for(material: str, partitions: int) -> int:
    """The by-material partition of a material: Kafka's default (murmur2) key partitioner,
    the one faust's router uses to find a table key's owner."""
    hashed: int = murmur2(material.encode())
    return (hashed & 0x7FFFFFFF) % partitions
