"""Event-time helpers: POSIX seconds inside the core, aware UTC datetimes at its edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DAY = 86400.0
HOUR = 3600.0


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def add_working_days(ts: float, working_days: int) -> float:
    """`ts` plus a number of Monday-to-Friday days (public holidays are not modelled)."""
    moment = to_datetime(ts)
    weeks, rest = divmod(working_days, 5)
    moment += timedelta(days=7 * weeks)
    while rest > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            rest -= 1
    return moment.timestamp()
