"""Retry schedule (Svix): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, with jitter.

Pure: the jitter sample (uniform in [0, 1)) and `now` come from the caller, so a test can pin them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

SVIX_SCHEDULE_S: tuple[float, ...] = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
"""Delay before attempt n (1-based) is SVIX_SCHEDULE_S[n - 1]; 8 attempts in all."""
MAX_ATTEMPTS = len(SVIX_SCHEDULE_S)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    scale: float = 1.0
    """Multiplier on the schedule (tests shrink it)."""
    jitter: float = 0.2
    """Relative jitter: a delay d becomes d * (1 +/- jitter)."""
    retry_after_max_s: float = 3600.0
    """Cap on a server's Retry-After, so a hostile value cannot park a delivery for ever."""


def next_delay(
    attempts_made: int,
    policy: RetryPolicy,
    jitter_sample: float,
    retry_after_s: float | None = None,
) -> float | None:
    """Seconds until the next attempt after `attempts_made` failed ones; None when exhausted.

    A Retry-After header can only postpone the scheduled attempt (never hurry it), up to the cap.
    """
    if attempts_made < 1:
        raise ValueError("attempts_made counts the failed attempts so far (>= 1)")
    if attempts_made >= MAX_ATTEMPTS:
        return None
    if not 0.0 <= jitter_sample < 1.0:
        raise ValueError("jitter_sample must be in [0, 1)")
    base = SVIX_SCHEDULE_S[attempts_made] * policy.scale
    delay = base * (1.0 + policy.jitter * (2.0 * jitter_sample - 1.0))
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, min(retry_after_s, policy.retry_after_max_s))
    return max(delay, 0.0)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP-date relative to `now`; None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)
