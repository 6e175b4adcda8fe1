"""When a waiting delivery may go ahead of its retry schedule: recovery of a failing endpoint.

The schedule (0 s, 5 s, 5 min, 30 min, ...) spares a failing endpoint, but each lane waits for
its own head's next retry, so an endpoint that answers again after a minute would get its
queued deliveries minutes later (head-of-line stall). Instead, while deliveries wait, one of
them per endpoint is tried early once per `interval_s` (a recovery check); once any attempt to
the endpoint succeeds, every waiting head whose last attempt was before that success goes at
once. A delivery is never tried early twice within `interval_s`, so a message the endpoint keeps
refusing while others succeed is not hammered. An early attempt that fails leaves the retry
schedule as it was (see `decisions.decide_early`). Lanes still send their head only, so the
per-material order holds.

Pure: `now` comes from the caller; `Recovery` is plain data the executor keeps per endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal


@dataclass(slots=True)
class Recovery:
    """What one endpoint's lanes know together: its last success and the next recovery check."""

    interval_s: float
    """Seconds between recovery checks, and the least spacing of one delivery's early attempts;
    0 turns early attempts off (the schedule alone)."""
    last_success: datetime | None = None
    not_before: datetime | None = None
    """No recovery check before this (the last failure plus the interval, or its Retry-After)."""
    checking: bool = False
    """A recovery check is in flight: no second one until it ends."""

    def observe(self, now: datetime, succeeded: bool, retry_after_s: float | None = None) -> None:
        """Fold the outcome of any attempt to the endpoint (scheduled, early or a check); the
        lane holding the check clears `checking` itself when its attempt ends, however it ends."""
        if succeeded:
            self.last_success = now
            self.not_before = None
            return
        pause = max(self.interval_s, retry_after_s or 0.0)
        later = now + timedelta(seconds=pause)
        self.not_before = later if self.not_before is None else max(self.not_before, later)


@dataclass(frozen=True, slots=True)
class Turn:
    """What a lane does next with its head delivery."""

    action: Literal["attempt", "early", "check", "wait"]
    """attempt: due on schedule; early: the endpoint succeeded since this delivery's last
    attempt; check: this lane holds the endpoint's recovery check; wait: look again later."""
    wait_s: float = 0.0
    wakeable: bool = False
    """A success on the endpoint may end the wait before `wait_s`."""


def next_turn(
    now: datetime, due_at: datetime, last_attempt_at: datetime | None, recovery: Recovery
) -> Turn:
    """The head's next step. A `check` claims the endpoint's check (sets `recovery.checking`):
    the caller clears it when that attempt ends."""
    due_in = (due_at - now).total_seconds()
    if due_in <= 0:
        return Turn("attempt")
    if recovery.interval_s <= 0:
        return Turn("wait", due_in)
    if last_attempt_at is not None:
        spacing = (last_attempt_at - now).total_seconds() + recovery.interval_s
        if spacing > 0:
            return Turn("wait", min(spacing, due_in))
        if recovery.last_success is not None and recovery.last_success > last_attempt_at:
            return Turn("early")
    if recovery.checking:
        return Turn("wait", min(due_in, recovery.interval_s), wakeable=True)
    if recovery.not_before is None or recovery.not_before <= now:
        recovery.checking = True
        return Turn("check")
    return Turn("wait", min(due_in, (recovery.not_before - now).total_seconds()), wakeable=True)
