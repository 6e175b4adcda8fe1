"""Appending to the delivery log (`sentinel.deliveries.v1`): the executor's and the fan-out's
one way to write it, behind a small interface so the executor can be tested without a broker.

A record counts as written once the broker acknowledged it: a task before its first attempt, an
attempt outcome before the lane moves on (so a crash re-sends at worst, never forgets).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer

from ..contracts.webhooks import DeliveryAttempt, DeliveryTask


class DeliveryLog(Protocol):
    async def append(self, records: Sequence[DeliveryTask | DeliveryAttempt]) -> None:
        """Write `records` (keyed by subscription) and return once every one is acknowledged."""
        ...


class KafkaDeliveryLog:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    async def append(self, records: Sequence[DeliveryTask | DeliveryAttempt]) -> None:
        futures = [
            await self.producer.send(
                self.topic,
                key=record.subscription_id.encode(),
                value=record.model_dump_json().encode(),
            )
            for record in records
        ]
        if futures:
            await asyncio.gather(*futures)
