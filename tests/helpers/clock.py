"""A monotonic clock a test moves by hand (for bookkeeping that takes an injected clock)."""

from __future__ import annotations


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
