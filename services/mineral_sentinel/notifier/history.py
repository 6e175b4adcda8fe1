"""The delivery history the API serves: every partition of the delivery log, folded.

Separate from the executor (which owns only its partitions and starts at its committed offset),
so any worker can answer `GET .../deliveries` and `replay` for any subscription.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from ..contracts.webhooks import DeliveryRecord
from .decisions import DeliveryBook, DeliveryState
from .follower import TopicFollower

KEEP_PER_SUBSCRIPTION = 5000


class DeliveryHistory:
    def __init__(
        self, bootstrap: str, topic: str, partitions_for: Callable[[str], Awaitable[set[int]]]
    ) -> None:
        self.book = DeliveryBook()
        self.follower = TopicFollower(bootstrap, topic, self._apply, partitions_for)

    def _apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.value is None:
            return
        try:
            parsed = DeliveryRecord.model_validate_json(record.value).root
        except ValidationError:
            return
        self.book.apply(parsed, record.offset)
        deliveries = self.book.by_subscription.get(parsed.subscription_id, {})
        if len(deliveries) > KEEP_PER_SUBSCRIPTION + 100:
            self.book.trim(parsed.subscription_id, KEEP_PER_SUBSCRIPTION)

    async def outcome_of(self, state: DeliveryState, partition: int) -> DeliveryState | None:
        """The history's state of `state`'s delivery once the log is read up to its task record.

        A task record can be written twice (the fan-out is at-least-once); when the copy lies
        past a consumer group's committed offset, the original and its outcome lie below it,
        and only this full view still knows the delivery was already made.
        """
        if state.offset is None:
            return None
        await self.follower.wait_past(partition, state.offset)
        return self.book.get(state.task.subscription_id, state.task.delivery_id)

    def of(self, subscription_id: str) -> list[DeliveryState]:
        return list(self.book.by_subscription.get(subscription_id, {}).values())
