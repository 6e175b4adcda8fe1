"""A real single-node Apache Kafka (KRaft) from Maven Central jars, for machines without Docker."""

from .broker import BrokerError, LocalBroker, broker_from_settings
from .probe import wait_for_metadata

__all__ = ["BrokerError", "LocalBroker", "broker_from_settings", "wait_for_metadata"]
