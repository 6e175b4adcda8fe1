"""Deterministic output ids: a replay or a retry of the same cause gives the same id."""

from __future__ import annotations

from hashlib import blake2b


def _digest(*parts: str) -> str:
    return blake2b("\x1f".join(parts).encode(), digest_size=10).hexdigest()


def alert_id(material: str, opening_event_id: str) -> str:
    """One alert per material episode, named after the event that opened it."""
    return f"alr_{material}_{_digest('alert', material, opening_event_id)}"


def recommendation_id(
    material: str, alert_id: str | None, action: str, key: str, event_id: str
) -> str:
    """A recommendation is named by its material, alert, action, decision and triggering event."""
    return f"rec_{material}_{_digest('rec', material, alert_id or '', action, key, event_id)}"
