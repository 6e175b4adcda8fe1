"""The risk service's topics on the broker: inputs, outputs, and its internal re-key topic."""

from __future__ import annotations

from aiokafka.partitioner import murmur2

from ..config import Settings
from ..kafka_admin import ensure_topics_before_start
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


MATERIAL_STATE_CHANGELOG = TopicSpec(
    f"{APP_NAME}-{TABLE_NAME}-changelog",
    "material",
    "compact",
    "MaterialSlot bytes",
    "The material-state table's changelog (faust's name for it): created here, before faust "
    "starts, so that faust never sees it half-created.",
)
RISK_TOPICS = (*INPUT_TOPICS, *OUTPUT_TOPICS, BY_MATERIAL, MATERIAL_STATE_CHANGELOG)
CO_PARTITIONED = (BY_MATERIAL, MATERIAL_STATE_CHANGELOG)
"""The fold's source and its table's changelog: partition p of one holds the state of the
materials routed to partition p of the other, by the configured partition count."""


def intake_group_id(prefix: str) -> str:
    """The intake's consumer group (input topics); the fold's is faust's, the app id."""
    return f"{prefix}{APP_NAME}-intake"


def ensure_risk_topics(settings: Settings) -> None:
    """Every topic the service reads or writes exists and is led before faust subscribes."""
    ensure_topics_before_start(settings, RISK_TOPICS, exact=CO_PARTITIONED)


def partition_for(material: str, partitions: int) -> int:
    """The by-material partition of a material: Kafka's default (murmur2) key partitioner,
    the one faust's router uses to find a table key's owner."""
    hashed: int = murmur2(material.encode())
    return (hashed & 0x7FFFFFFF) % partitions
