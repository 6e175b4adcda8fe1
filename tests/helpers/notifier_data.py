"""Plain notifier values for unit tests: one subscription and alerts to fan out to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mineral_sentinel.contracts.outputs import Alert
from mineral_sentinel.contracts.subscriptions import SigningSecret, Subscription
from mineral_sentinel.notifier.signing import secret_from_bytes


def subscription(at: datetime, **changes: Any) -> Subscription:
    """`sub_aaaaaaaa`, created and updated `at`, signing with an all-zero test secret."""
    return Subscription(
        id="sub_aaaaaaaa",
        url="https://hooks.example.com/x",
        created_at=at,
        updated_at=at,
        secrets=[SigningSecret(value=secret_from_bytes(bytes(32)))],
        **changes,
    )


def warning_alert(
    at: datetime, sequence: int, material: str = "gallium", updated_at: datetime | None = None
) -> Alert:
    """A firing warning-level alert of `material`'s episode 1 started `at`, update `sequence`."""
    return Alert(
        alert_id=f"{material}-1",
        material=material,
        status="firing",
        severity="warning",
        causes=["policy"],
        score=70.0,
        summary="export licensing",
        started_at=at,
        updated_at=updated_at or at,
        sequence=sequence,
        evidence=["ev-1"],
    )
