"""Turn alerts and recommendations into delivery tasks: stable ids, exact body bytes, order keys.

Pure. The webhook-id is derived from (subscription, cause), so a message consumed twice after a
crash yields the same id and receivers can dedupe on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..contracts.outputs import Alert, StockpileRecommendation
from ..contracts.silences import Silence
from ..contracts.subscriptions import EventType, Subscription
from ..contracts.webhooks import DeliveryTask, WebhookPayload
from .matching import event_type_of, matches
from .silencing import Candidate, silenced_by

TEST_ORDERING_KEY = "subscription.test"


def webhook_id_for(subscription_id: str, cause: str) -> str:
    digest = hashlib.sha256(f"{subscription_id}|{cause}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def cause_of(message: Alert | StockpileRecommendation) -> str:
    if isinstance(message, Alert):
        return f"alert:{message.alert_id}:{message.sequence}:{message.status}"
    return f"recommendation:{message.recommendation_id}"


def event_time_of(message: Alert | StockpileRecommendation) -> datetime:
    return message.updated_at if isinstance(message, Alert) else message.issued_at


def body_of(event_type: EventType, timestamp: datetime, data: dict[str, Any]) -> str:
    return WebhookPayload(type=event_type, timestamp=timestamp, data=data).model_dump_json()


def tasks_for(
    message: Alert | StockpileRecommendation,
    subscriptions: Iterable[Subscription],
    now: datetime,
    produced_at: datetime | None,
    silences: Iterable[Silence] = (),
) -> list[DeliveryTask]:
    """One task per matching subscription, all with the same body bytes; a task a silence
    mutes (at the message's produce time, else `now`) names it in `silenced_by`."""
    event_type = event_type_of(message)
    severity = message.severity if isinstance(message, Alert) else None
    wanted = [s for s in subscriptions if matches(s, event_type, message.material, severity)]
    if not wanted:
        return []
    body = body_of(event_type, event_time_of(message), message.model_dump(mode="json"))
    cause = cause_of(message)
    tasks = []
    at = produced_at or now
    # Only the silences active at `at` can match; grouped by tenant once per message.
    by_tenant: dict[str, list[Silence]] = {}
    for silence in silences:
        if silence.starts_at <= at < silence.ends_at:
            by_tenant.setdefault(silence.tenant, []).append(silence)
    for sub in wanted:
        webhook_id = webhook_id_for(sub.id, cause)
        candidates = by_tenant.get(sub.tenant)
        muted = (
            silenced_by(
                candidates,
                Candidate(sub.tenant, sub.id, event_type, message.material, severity, at),
            )
            if candidates
            else None
        )
        tasks.append(
            DeliveryTask(
                webhook_id=webhook_id,
                delivery_id=webhook_id,
                subscription_id=sub.id,
                event_type=event_type,
                ordering_key=message.material,
                body=body,
                created_at=now,
                source_produced_at=produced_at,
                silenced_by=muted,
            )
        )
    return tasks


def probe_task(sub: Subscription, now: datetime, nonce: str) -> DeliveryTask:
    """A `subscription.test` delivery; `nonce` (from the shell) makes each test a new message."""
    webhook_id = webhook_id_for(sub.id, f"test:{nonce}")
    body = body_of(
        "subscription.test",
        now,
        {"subscription_id": sub.id, "message": "Mineral Sentinel test delivery"},
    )
    return DeliveryTask(
        webhook_id=webhook_id,
        delivery_id=webhook_id,
        subscription_id=sub.id,
        event_type="subscription.test",
        ordering_key=TEST_ORDERING_KEY,
        body=body,
        created_at=now,
    )


def replay_task(original: DeliveryTask, now: datetime) -> DeliveryTask:
    """The same message (webhook-id and body) as a new delivery, for POST .../replay."""
    stamp = int(now.timestamp() * 1000)
    return original.model_copy(
        update={
            "delivery_id": f"{original.webhook_id}.replay{stamp}",
            "created_at": now,
            "source_produced_at": None,
            "replay_of": original.delivery_id,
            "silenced_by": None,  # a replay is an explicit request: it is sent
        }
    )
