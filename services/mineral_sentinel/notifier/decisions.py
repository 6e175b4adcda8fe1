"""What happens after an attempt, and the fold of the delivery log into delivery states.

Pure: attempt results, `now` and the jitter sample come from the shell. The same fold rebuilds
the executor's queue after a kill -9 and answers the deliveries API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from ..contracts.webhooks import (
    TERMINAL_STATUSES,
    AttemptOut,
    DeliveryAttempt,
    DeliveryOut,
    DeliveryStatus,
    DeliveryTask,
)
from .retry import RetryPolicy, next_delay

Outcome = Literal["success", "retry", "early_retry", "failed", "disabled"]


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What the sender observed: a status code, or an error (timeout, refused, SSRF...)."""

    status_code: int | None
    error: str
    duration_ms: float
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    record: DeliveryAttempt
    outcome: Outcome
    disable_reason: str | None
    """Set when the endpoint must be disabled (410 Gone, or failing for too long)."""


def decide(
    task: DeliveryTask,
    attempt: int,
    result: AttemptResult,
    now: datetime,
    policy: RetryPolicy,
    jitter_sample: float,
    failing_since: datetime | None,
    disable_after_s: float,
    scheduled: int | None = None,
) -> Verdict:
    """2xx succeeds; 410 disables; anything else retries on the schedule until exhausted, or
    disables the endpoint once it has failed continuously for `disable_after_s`.

    `attempt` numbers the HTTP attempt; `scheduled` is its place in the retry schedule (the
    same unless failed early attempts came before it, which the schedule does not count)."""
    final = _final(task, attempt, result, now, failing_since, disable_after_s)
    if final is not None:
        return final
    since = failing_since or now
    delay = next_delay(
        attempt if scheduled is None else scheduled, policy, jitter_sample, result.retry_after_s
    )
    if delay is None:
        return Verdict(_record(task, attempt, result, now, "failed", None, since), "failed", None)
    next_at = now + timedelta(seconds=delay)
    return Verdict(_record(task, attempt, result, now, "retrying", next_at, since), "retry", None)


def decide_early(
    task: DeliveryTask,
    attempt: int,
    result: AttemptResult,
    now: datetime,
    scheduled_at: datetime | None,
    failing_since: datetime | None,
    disable_after_s: float,
) -> Verdict:
    """An attempt made ahead of the schedule (recovery.py): success, 410 and the auto-disable
    count as on schedule; any other failure keeps the scheduled retry (`scheduled_at`)."""
    final = _final(task, attempt, result, now, failing_since, disable_after_s, early=True)
    if final is not None:
        return final
    since = failing_since or now
    record = _record(task, attempt, result, now, "retrying", scheduled_at, since, early=True)
    return Verdict(record, "early_retry", None)


def _final(
    task: DeliveryTask,
    attempt: int,
    result: AttemptResult,
    now: datetime,
    failing_since: datetime | None,
    disable_after_s: float,
    early: bool = False,
) -> Verdict | None:
    code = result.status_code
    if code is not None and 200 <= code < 300:
        record = _record(task, attempt, result, now, "succeeded", None, None, early)
        return Verdict(record, "success", None)
    since = failing_since or now
    if code == 410:
        record = _record(task, attempt, result, now, "disabled", None, since, early)
        return Verdict(record, "disabled", "endpoint answered 410 Gone")
    if (now - since).total_seconds() >= disable_after_s:
        reason = f"endpoint failing continuously since {since.isoformat()}"
        record = _record(task, attempt, result, now, "disabled", None, since, early)
        return Verdict(record, "disabled", reason)
    return None


def _record(
    task: DeliveryTask,
    attempt: int,
    result: AttemptResult,
    now: datetime,
    status: DeliveryStatus,
    next_at: datetime | None,
    since: datetime | None,
    early: bool = False,
) -> DeliveryAttempt:
    return DeliveryAttempt(
        delivery_id=task.delivery_id,
        subscription_id=task.subscription_id,
        attempt=attempt,
        at=now,
        duration_ms=round(result.duration_ms, 3),
        status_code=result.status_code,
        error=result.error[:500],
        status=status,
        next_attempt_at=next_at,
        failing_since=since,
        early=early,
    )


def not_attempted(
    task: DeliveryTask,
    attempts_made: int,
    now: datetime,
    status: DeliveryStatus,
    reason: str,
    failing_since: datetime | None,
) -> DeliveryAttempt:
    """A terminal record without an HTTP attempt (endpoint disabled or subscription deleted)."""
    return DeliveryAttempt(
        delivery_id=task.delivery_id,
        subscription_id=task.subscription_id,
        attempt=0,
        at=now,
        duration_ms=0.0,
        error=reason[:500],
        status=status,
        failing_since=failing_since,
    )


@dataclass(slots=True)
class DeliveryState:
    task: DeliveryTask
    status: DeliveryStatus = "pending"
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    next_attempt_at: datetime | None = None
    offset: int | None = None
    """Offset of the task record on its partition (the executor commits below the oldest open)."""

    @property
    def attempts_made(self) -> int:
        """HTTP attempts so far, early ones included (they number the next attempt)."""
        return sum(1 for a in self.attempts if a.attempt > 0)

    @property
    def scheduled_attempts(self) -> int:
        """HTTP attempts the retry schedule counts: all but the failed early ones."""
        return sum(1 for a in self.attempts if a.attempt > 0 and not a.early)

    @property
    def last_attempt_at(self) -> datetime | None:
        return next((a.at for a in reversed(self.attempts) if a.attempt > 0), None)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def due_at(self) -> datetime:
        return self.next_attempt_at or self.task.created_at

    def to_out(self) -> DeliveryOut:
        return DeliveryOut(
            delivery_id=self.task.delivery_id,
            webhook_id=self.task.webhook_id,
            event_type=self.task.event_type,
            status=self.status,
            created_at=self.task.created_at,
            next_attempt_at=self.next_attempt_at,
            replay_of=self.task.replay_of,
            silenced_by=self.task.silenced_by,
            attempts=[
                AttemptOut(
                    attempt=a.attempt,
                    at=a.at,
                    duration_ms=a.duration_ms,
                    status_code=a.status_code,
                    error=a.error,
                    early=a.early,
                )
                for a in self.attempts
            ],
        )


@dataclass(slots=True)
class DeliveryBook:
    """Delivery states folded from the log, per subscription, in log order.

    Idempotent: a task seen twice (re-consumed after a crash) and an attempt seen twice are
    applied once, so replaying the log from any earlier offset gives the same states.
    """

    by_subscription: dict[str, dict[str, DeliveryState]] = field(default_factory=dict)
    failing_since: dict[str, datetime | None] = field(default_factory=dict)

    def get(self, subscription_id: str, delivery_id: str) -> DeliveryState | None:
        return self.by_subscription.get(subscription_id, {}).get(delivery_id)

    def apply(
        self, record: DeliveryTask | DeliveryAttempt, offset: int | None = None
    ) -> DeliveryState | None:
        """Fold one record; returns the state it touched (None: attempt of an unknown task)."""
        deliveries = self.by_subscription.setdefault(record.subscription_id, {})
        if isinstance(record, DeliveryTask):
            existing = deliveries.get(record.delivery_id)
            if existing is not None:
                return existing
            state = DeliveryState(task=record, offset=offset)
            if record.silenced_by is not None:
                state.status = "silenced"  # muted when fanned out: final, never attempted
            deliveries[record.delivery_id] = state
            return state
        self.failing_since[record.subscription_id] = record.failing_since
        current = deliveries.get(record.delivery_id)
        if current is None or current.terminal:
            return current
        if any(a.attempt == record.attempt and a.attempt > 0 for a in current.attempts):
            return current
        current.attempts.append(record)
        current.status = record.status
        current.next_attempt_at = record.next_attempt_at
        return current

    def forget(self, subscription_id: str) -> None:
        self.by_subscription.pop(subscription_id, None)
        self.failing_since.pop(subscription_id, None)

    def trim(self, subscription_id: str, keep: int) -> None:
        """Bound memory: drop the oldest terminal deliveries beyond `keep` per subscription."""
        deliveries = self.by_subscription.get(subscription_id)
        if deliveries is None or len(deliveries) <= keep:
            return
        excess = len(deliveries) - keep
        for delivery_id in [d for d, s in deliveries.items() if s.terminal][:excess]:
            del deliveries[delivery_id]
