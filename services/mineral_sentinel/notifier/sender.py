"""One HTTP attempt: sign the exact bytes, POST them, read at most 64 KiB, classify the result."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx

from .decisions import AttemptResult
from .retry import parse_retry_after
from .signing import webhook_headers
from .transport import SsrfRefused

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "mineral-sentinel-webhooks/1"


async def read_capped(response: httpx.Response, limit: int = MAX_RESPONSE_BYTES) -> bytes:
    """The first `limit` bytes of the body; the rest is never read (the connection is dropped)."""
    received = bytearray()
    async for chunk in response.aiter_raw():
        received += chunk
        if len(received) >= limit:
            break
    return bytes(received[:limit])


async def attempt(
    client: httpx.AsyncClient,
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
        async with (
            asyncio.timeout(timeout_s),
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            snippet = await read_capped(response)
            code = response.status_code
            retry_after = parse_retry_after(response.headers.get("retry-after"), now)
            error = "" if 200 <= code < 300 else _describe(code, response, snippet)
            return AttemptResult(code, error, elapsed_ms(), retry_after)
    except SsrfRefused as refused:
        return AttemptResult(None, f"ssrf: {refused}", elapsed_ms())
    except TimeoutError:
        return AttemptResult(None, f"timeout after {timeout_s:g} s", elapsed_ms())
    except httpx.HTTPError as error:
        return AttemptResult(None, f"{type(error).__name__}: {error}"[:500], elapsed_ms())


def _describe(code: int, response: httpx.Response, snippet: bytes) -> str:
    text = f"HTTP {code}"
    if 300 <= code < 400 and "location" in response.headers:
        text += " redirect not followed"
    preview = snippet[:200].decode("utf-8", "replace").strip()
    return f"{text}: {preview}" if preview else text
