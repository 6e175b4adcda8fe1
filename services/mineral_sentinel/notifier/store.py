"""Subscriptions and silences: full in-memory views of compacted topics, and writes to them.

Every worker follows all partitions (a global table in effect), so any worker can match any
alert and answer any API request. Writes go to the topic (acknowledged) and are applied locally
at once, so a client reads its own write; tombstones delete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from aiokafka import AIOKafkaProducer, ConsumerRecord
from pydantic import BaseModel, ValidationError

from ..contracts.silences import Silence
from ..contracts.subscriptions import Subscription
from .follower import TopicFollower

log = logging.getLogger(__name__)
Record = TypeVar("Record", bound=BaseModel)


class CompactedStore(Generic[Record]):
    """A keyed view of a compacted topic whose values are `model` records with an `id`."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        producer: AIOKafkaProducer,
        model: type[Record],
        key_of: Callable[[Record], str],
    ) -> None:
        self.topic = topic
        self.producer = producer
        self.model = model
        self.key_of = key_of
        self.items: dict[str, Record] = {}
        self.follower = TopicFollower(bootstrap, topic, self._apply_record, producer.partitions_for)

    def _apply_record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.key is None:
            return
        key = record.key.decode()
        if record.value is None:
            self.items.pop(key, None)
            return
        try:
            self.items[key] = self.model.model_validate_json(record.value)
        except ValidationError as error:
            log.warning(
                "ignoring invalid %s record %s: %s", self.model.__name__, key, error.error_count()
            )

    def get(self, key: str) -> Record | None:
        return self.items.get(key)

    async def put(self, item: Record) -> None:
        key = self.key_of(item)
        await self.producer.send_and_wait(
            self.topic, key=key.encode(), value=item.model_dump_json().encode()
        )
        self.items[key] = item

    async def delete(self, key: str) -> None:
        await self.producer.send_and_wait(self.topic, key=key.encode(), value=None)
        self.items.pop(key, None)


class SubscriptionStore(CompactedStore[Subscription]):
    def __init__(self, bootstrap: str, topic: str, producer: AIOKafkaProducer) -> None:
        super().__init__(bootstrap, topic, producer, Subscription, lambda s: s.id)

    def all(self) -> list[Subscription]:
        return sorted(self.items.values(), key=lambda s: (s.created_at, s.id))

    def count(self, enabled: bool) -> int:
        return sum(1 for s in self.items.values() if s.enabled is enabled)


class SilenceStore(CompactedStore[Silence]):
    """Every tenant's silences (sentinel.silences.v1), expired ones included."""

    def __init__(self, bootstrap: str, topic: str, producer: AIOKafkaProducer) -> None:
        super().__init__(bootstrap, topic, producer, Silence, lambda s: s.id)

    def all(self) -> list[Silence]:
        return sorted(self.items.values(), key=lambda s: (s.created_at, s.id))
