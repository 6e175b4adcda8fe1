"""The ingest rules, in one place: which input messages are events and which are dead letters.

The risk service's stream intake, its HTTP intake (`POST /v1/events`), the backtest and the
notifier's fan-out call these functions, so they accept and reject exactly the same inputs, for
the same reasons (the DeadLetter vocabulary). Pure: no Kafka, no clock reads (`now` is passed in).

The rules, in the order they are applied to one message:

1. `empty` -- no bytes, or only ASCII whitespace.
2. `too_large` -- over `max_bytes`, or JSON nested deeper than MAX_JSON_DEPTH (checked before
   parsing, so no parser ever recurses on hostile input; the input events need depth 3).
3. `undecodable` -- not UTF-8.
4. `invalid_json` / `schema_violation` / `past_timestamp` / `future_timestamp` -- the strict
   contract (`contracts/events.py`, the same rules as the published JSON Schemas): a timestamp or
   date whose year is before 1900 is past_timestamp, after 2999 future_timestamp.
5. `schema_violation` on `type` -- an event type that does not belong on the input topic.
6. `unknown_material` -- a material not in the catalog (beyond the JSON Schema).
7. `future_timestamp` -- the event time (`occurred_at`) is more than `max_future_s` seconds
   ahead of the wall clock `now` (beyond the JSON Schema; Kafka's KIP-937 timestamp validation
   uses 3600 s, the default of SENTINEL_MAX_FUTURE_S). The lower bound is the contract's:
   year 1900 as written.

Every error names the failing field (dotted path; the input union prefixes contract errors with
the event type, e.g. `price_observed.price`) and keeps pydantic's message, so an operator can fix
the producer without replaying the message.
"""

from __future__ import annotations

import base64
import re
import traceback
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from .catalog.model import Catalog
from .contracts.events import ExportControl, InputEvent, input_event_adapter
from .contracts.outputs import (
    DEAD_LETTER_VALUE_LIMIT,
    DeadLetter,
    DeadLetterError,
    DeadLetterReason,
)
from .topics import INPUT_TOPICS

M = TypeVar("M", bound=BaseModel)

MAX_ERRORS = 20
"""Errors kept per rejected message (a DeadLetter holds at most 20)."""
MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays/objects accepted in one message (the input events need 3)."""
MAX_MESSAGE_CHARS = 2000
ASCII_WHITESPACE = b" \t\r\n"

TOPIC_TYPES: dict[str, str] = {
    spec.name: spec.event_type for spec in INPUT_TOPICS if spec.event_type is not None
}
"""Which event type belongs on which input topic (logical names), from `topics.py`."""

_CONTRACT_REASONS: dict[str, DeadLetterReason] = {
    "past_timestamp": "past_timestamp",
    "future_timestamp": "future_timestamp",
}
"""pydantic error types (the contract's custom errors) that are dead-letter reasons of their own."""
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]', re.DOTALL)
"""JSON strings (skipped whole, so brackets inside them do not count) and structural bytes."""


@dataclass(frozen=True, slots=True)
class Accepted:
    event: InputEvent
    """The parsed contract model (parsed exactly once)."""
    raw: bytes
    """The message bytes with surrounding ASCII whitespace stripped."""
    materials: tuple[str, ...]
    """Materials it concerns, each once, in the order named (export controls name several)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str
    """DeadLetter reason vocabulary (`contracts.outputs.DeadLetterReason`)."""
    errors: tuple[DeadLetterError, ...]


def reject(reason: DeadLetterReason, message: str, path: str = "") -> Rejected:
    """A rejection with one error."""
    error = DeadLetterError(reason=reason, path=path, message=message[:MAX_MESSAGE_CHARS])
    return Rejected(reason, (error,))


def materials_of(event: InputEvent) -> tuple[str, ...]:
    """Materials an event concerns, each once, in the order named."""
    if isinstance(event, ExportControl):
        return tuple(dict.fromkeys(event.materials))
    return (event.material,)


def occurred_at_field(event: InputEvent) -> str:
    """The field `event.occurred_at` is taken from (see each model's docstring)."""
    if isinstance(event, ExportControl):
        if event.status == "announced" or event.announced_at >= event.effective_at:
            return "announced_at"
        return "effective_at"
    if event.type == "price_observed":
        return "observed_at"
    if event.type == "stockpile_position":
        return "as_of"
    return "occurred_at"


def too_deep(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text nests arrays/objects deeper than `max_depth`.

    Cheap: the scan only runs when the text has more than `max_depth` opening brackets at all,
    and stops at the first bracket too deep. Brackets inside strings do not count.
    """
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return False
    depth = 0
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def split_json_array(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> list[bytes] | Rejected:
    """The element texts of a JSON array (or `[body]` for anything else), without parsing them.

    Used by the HTTP intake to validate each event once from its own bytes and to produce exactly
    those bytes. Only the array's own syntax is checked here (brackets balanced, commas between
    elements, nothing after it, at most `max_depth` levels inside it); each element is checked
    by `classify`, so a body is accepted only if it is valid JSON.
    """
    text = body.strip(ASCII_WHITESPACE)
    if not text.startswith(b"["):
        return [text]
    if too_deep(text, max_depth + 1):
        return reject("too_large", f"JSON nested deeper than {max_depth} levels")
    elements: list[bytes] = []
    depth = 0
    start = 1
    end = -1
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
        elif token in (b"]", b"}"):
            depth -= 1
            if depth == 0:
                if token != b"]":
                    return reject("invalid_json", "unbalanced brackets in the array")
                end = match.start()
                break
        elif token == b"," and depth == 1:
            elements.append(text[start : match.start()])
            start = match.end()
    if end < 0:
        return reject("invalid_json", "the array is not closed")
    if text[end + 1 :].strip(ASCII_WHITESPACE):
        return reject("invalid_json", "trailing characters after the array")
    last = text[start:end]
    if elements or last.strip(ASCII_WHITESPACE):
        elements.append(last)
    return elements


def rejected_from_validation(error: ValidationError) -> Rejected:
    """The one mapping of a pydantic ValidationError to dead-letter reasons and errors.

    `json_invalid` is `invalid_json`; the contract's custom `past_timestamp` / `future_timestamp`
    errors keep their names; everything else is `schema_violation`. The first error's reason is
    the message's reason.
    """
    items = error.errors(include_url=False, include_input=False)
    if items and items[0]["type"] == "json_invalid":
        return reject("invalid_json", str(items[0]["msg"]))
    errors = tuple(
        DeadLetterError(
            reason=_CONTRACT_REASONS.get(item["type"], "schema_violation"),
            path=".".join(str(part) for part in item["loc"]),
            message=str(item["msg"])[:MAX_MESSAGE_CHARS],
        )
        for item in items[:MAX_ERRORS]
    )
    if not errors:
        return reject("schema_violation", str(error))
    return Rejected(errors[0].reason, errors)


def framed(raw: bytes | None, *, max_bytes: int) -> bytes | Rejected:
    """Rules 1-3, before any parser runs: the message without surrounding whitespace, or why it
    is a dead letter."""
    if not raw:
        return reject("empty", "empty message")
    if len(raw) > max_bytes:
        return reject("too_large", f"{len(raw)} bytes, over the limit of {max_bytes}")
    stripped = raw.strip(ASCII_WHITESPACE)
    if not stripped:
        return reject("empty", "only whitespace")
    if too_deep(stripped):
        return reject("too_large", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        stripped.decode("utf-8")
    except UnicodeDecodeError as error:
        return reject("undecodable", f"not UTF-8: {error}")
    return stripped


def classify_output(raw: bytes | None, model: type[M], *, max_bytes: int) -> M | Rejected:
    """An output message of the risk service (an alert, a recommendation) as the notifier's
    fan-out reads it: rules 1-3, then the strict contract of `model`."""
    stripped = framed(raw, max_bytes=max_bytes)
    if isinstance(stripped, Rejected):
        return stripped
    try:
        return model.model_validate_json(stripped)
    except ValidationError as error:
        return rejected_from_validation(error)


def classify_contract(
    raw: bytes | None, catalog: Catalog, *, max_bytes: int, topic: str | None = None
) -> Accepted | Rejected:
    """Rules 1-6 (everything but the wall-clock bound): for replays of history, where the
    wall clock is not the reference (the backtest with `now=None`)."""
    stripped = framed(raw, max_bytes=max_bytes)
    if isinstance(stripped, Rejected):
        return stripped
    try:
        event = input_event_adapter.validate_json(stripped)
    except ValidationError as error:
        return rejected_from_validation(error)
    expected_type = TOPIC_TYPES.get(topic or "")
    if expected_type is not None and event.type != expected_type:
        return reject("schema_violation", f"{event.type} does not belong on {topic}", path="type")
    materials = materials_of(event)
    unknown = [m for m in materials if m not in catalog.materials]
    if unknown:
        return reject(
            "unknown_material",
            f"not in the catalog: {', '.join(unknown)}",
            path="materials" if isinstance(event, ExportControl) else "material",
        )
    return Accepted(event, stripped, materials)


def future_rejection(event: InputEvent, *, now: float, max_future_s: float) -> Rejected | None:
    """Rule 7: `future_timestamp` when the event time is over `max_future_s` after `now`."""
    ahead = event.occurred_at.timestamp() - now
    if ahead > max_future_s:
        return reject(
            "future_timestamp",
            f"event time {event.occurred_at.isoformat()} is {ahead:.0f} s ahead of the wall "
            f"clock, over the limit of {max_future_s:.0f} s",
            path=occurred_at_field(event),
        )
    return None


def classify(
    raw: bytes | None,
    catalog: Catalog,
    *,
    max_bytes: int,
    now: float,
    max_future_s: float,
    topic: str | None = None,
) -> Accepted | Rejected:
    """The event, or why it is a dead letter (rules 1-7 above).

    `now` is the wall-clock time of receipt (seconds since the epoch); `topic` (logical name)
    enforces the event type of an input topic.
    """
    result = classify_contract(raw, catalog, max_bytes=max_bytes, topic=topic)
    if isinstance(result, Rejected):
        return result
    return future_rejection(result.event, now=now, max_future_s=max_future_s) or result


def failure_line(error: BaseException) -> str:
    """The traceback's last line (`ZeroDivisionError: float division by zero`): the reason a
    dead-letter record gives for an event the core could not apply."""
    return traceback.format_exception_only(error)[-1].strip()


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


__all__ = [
    "MAX_JSON_DEPTH",
    "TOPIC_TYPES",
    "Accepted",
    "Rejected",
    "classify",
    "classify_contract",
    "dead_letter",
    "future_rejection",
    "materials_of",
    "occurred_at_field",
    "reject",
    "rejected_from_validation",
    "split_json_array",
    "too_deep",
]
