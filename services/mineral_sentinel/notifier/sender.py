"""One HTTP attempt: sign the exact bytes, POST them, read at most 64 KiB, classify the result."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from .decisions import AttemptResult
from .retry import parse_retry_after
from .signing import webhook_headers
from .transport import Posted, Poster, PostFailed, SsrfRefused

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "mineral-sentinel-webhooks/1"


async def attempt(
    poster: Poster,
    url: str,
    webhook_id: str,
    body: bytes,
    secrets: Sequence[str],
    timeout_s: float,
) -> AttemptResult:
    """POST once; never raises for network, timeout, SSRF or HTTP errors (they are results)."""
    now = datetime.now(UTC)
    headers = webhook_headers(webhook_id, int(now.timestamp()), body, secrets)
    headers["user-agent"] = USER_AGENT
    started = time.monotonic()

    def elapsed_ms() -> float:
        return (time.monotonic() - started) * 1000.0

    try:
        async with asyncio.timeout(timeout_s):
            posted = await poster.post(url, body, headers, timeout_s, MAX_RESPONSE_BYTES)
    except SsrfRefused as refused:
        return AttemptResult(None, f"ssrf: {refused}", elapsed_ms())
    except TimeoutError:
        return AttemptResult(None, f"timeout after {timeout_s:g} s", elapsed_ms())
    except PostFailed as failed:
        return AttemptResult(None, str(failed)[:500], elapsed_ms())
    code = posted.status
    retry_after = parse_retry_after(posted.retry_after, now)
    error = "" if 200 <= code < 300 else _describe(posted)
    return AttemptResult(code, error, elapsed_ms(), retry_after)


def _describe(posted: Posted) -> str:
    text = f"HTTP {posted.status}"
    if 300 <= posted.status < 400 and posted.has_location:
        text += " redirect not followed"
    preview = posted.snippet[:200].decode("utf-8", "replace").strip()
    return f"{text}: {preview}" if preview else text
