"""Compatibility shim: the ingest rules live in `mineral_sentinel.ingest`.

`classify` here keeps its old signature and result (the event itself, or `Rejected`) for the
callers not yet switched; it applies every ingest rule except the wall-clock future bound, which
needs the receipt time that only `ingest.classify` takes. New code calls `ingest.classify`.
"""

from __future__ import annotations

from ..catalog.model import Catalog
from ..contracts.events import InputEvent
from ..ingest import (
    MAX_ERRORS,
    TOPIC_TYPES,
    Accepted,
    Rejected,
    classify_contract,
    dead_letter,
    materials_of,
)

__all__ = [
    "MAX_ERRORS",
    "TOPIC_TYPES",
    "Accepted",
    "Rejected",
    "classify",
    "dead_letter",
    "materials_of",
]


def classify(
    raw: bytes | None, catalog: Catalog, *, max_bytes: int, topic: str | None = None
) -> InputEvent | Rejected:
    """The event, or why it is a dead letter. `topic` (logical name) enforces the event type."""
    result = classify_contract(raw, catalog, max_bytes=max_bytes, topic=topic)
    return result.event if isinstance(result, Accepted) else result
