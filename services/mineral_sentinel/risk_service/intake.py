"""Classify one raw input message: a valid event for known materials, or a dead letter.

Pure: the shell passes the bytes, where they came from and the wall-clock time of receipt. The
reasons are the DeadLetter vocabulary; the first failing field and pydantic's message are kept
for every error so an operator can fix the producer without replaying the message.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from ..catalog.model import Catalog
from ..contracts.events import ExportControl, InputEvent, parse_event
from ..contracts.outputs import DEAD_LETTER_VALUE_LIMIT, DeadLetter, DeadLetterError

MAX_ERRORS = 20

TOPIC_TYPES: dict[str, str] = {
    "minerals.prices.v1": "price_observed",
    "minerals.shipments.v1": "shipment_updated",
    "minerals.export-controls.v1": "export_control",
    "minerals.stockpile-positions.v1": "stockpile_position",
}
"""Which event type belongs on which input topic (logical names)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str
    errors: tuple[DeadLetterError, ...]


def materials_of(event: InputEvent) -> list[str]:
    """Materials an event concerns, each once, in the order named."""
    if isinstance(event, ExportControl):
        return list(dict.fromkeys(event.materials))
    return [event.material]


def _rejected(reason: str, message: str, path: str = "") -> Rejected:
    return Rejected(reason, (DeadLetterError(reason=reason, path=path, message=message[:2000]),))  # type: ignore[arg-type]


def classify(
    raw: bytes | None, catalog: Catalog, *, max_bytes: int, topic: str | None = None
) -> InputEvent | Rejected:
    """The event, or why it is a dead letter. `topic` (logical name) enforces the event type."""
    if not raw:
        return _rejected("empty", "empty message")
    if len(raw) > max_bytes:
        return _rejected("too_large", f"{len(raw)} bytes, over the limit of {max_bytes}")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return _rejected("undecodable", f"not UTF-8: {error}")
    try:
        event = parse_event(raw)
    except ValidationError as error:
        return _from_validation(error)
    expected_type = TOPIC_TYPES.get(topic or "")
    if expected_type is not None and event.type != expected_type:
        return _rejected(
            "schema_violation", f"{event.type} does not belong on {topic}", path="type"
        )
    unknown = [m for m in materials_of(event) if m not in catalog.materials]
    if unknown:
        return _rejected(
            "unknown_material",
            f"not in the catalog: {', '.join(unknown)}",
            path="materials" if isinstance(event, ExportControl) else "material",
        )
    return event


def _from_validation(error: ValidationError) -> Rejected:
    items = error.errors(include_url=False, include_input=False)
    if items and items[0]["type"] == "json_invalid":
        return _rejected("invalid_json", items[0]["msg"])
    errors = tuple(
        DeadLetterError(
            reason="schema_violation",
            path=".".join(str(p) for p in item["loc"]),
            message=str(item["msg"])[:2000],
        )
        for item in items[:MAX_ERRORS]
    )
    return Rejected("schema_violation", errors or _rejected("schema_violation", str(error)).errors)


def dead_letter(
    rejected: Rejected,
    *,
    raw: bytes | None,
    key: bytes | None,
    topic: str,
    partition: int | None,
    offset: int | None,
    received_at: datetime,
) -> bytes:
    """The DeadLetter message (JSON bytes) for a rejected input."""
    value = raw or b""
    letter = DeadLetter(
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        key_b64=None if key is None else base64.b64encode(key[:1024]).decode(),
        value_b64=base64.b64encode(value[:DEAD_LETTER_VALUE_LIMIT]).decode(),
        value_size=len(value),
        errors=list(rejected.errors),
        received_at=received_at,
    )
    return letter.model_dump_json().encode()
