"""Subscriptions: a full in-memory view of the compacted topic, and writes to it.

Every worker follows all partitions (a global table in effect), so any worker can match any
alert and answer any API request. Writes go to the topic (acknowledged) and are applied locally
at once, so a client reads its own write; tombstones delete.
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaProducer, ConsumerRecord
from pydantic import ValidationError

from ..contracts.subscriptions import Subscription
from .follower import TopicFollower

log = logging.getLogger(__name__)


class SubscriptionStore:
    def __init__(self, bootstrap: str, topic: str, producer: AIOKafkaProducer) -> None:
        self.topic = topic
        self.producer = producer
        self.items: dict[str, Subscription] = {}
        self.follower = TopicFollower(bootstrap, topic, self._apply_record, producer.partitions_for)

    def _apply_record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.key is None:
            return
        key = record.key.decode()
        if record.value is None:
            self.items.pop(key, None)
            return
        try:
            self.items[key] = Subscription.model_validate_json(record.value)
        except ValidationError as error:
            log.warning("ignoring invalid subscription record %s: %s", key, error.error_count())

    def get(self, subscription_id: str) -> Subscription | None:
        return self.items.get(subscription_id)

    def all(self) -> list[Subscription]:
        return sorted(self.items.values(), key=lambda s: (s.created_at, s.id))

    def count(self, enabled: bool) -> int:
        return sum(1 for s in self.items.values() if s.enabled is enabled)

    async def put(self, sub: Subscription) -> None:
        await self.producer.send_and_wait(
            self.topic, key=sub.id.encode(), value=sub.model_dump_json().encode()
        )
        self.items[sub.id] = sub

    async def delete(self, subscription_id: str) -> None:
        await self.producer.send_and_wait(self.topic, key=subscription_id.encode(), value=None)
        self.items.pop(subscription_id, None)
