"""A small webhook receiver for the demo: verifies Standard Webhooks signatures, prints each
alert and recommendation in readable form, and dedupes on `webhook-id` as a subscriber should.

It is the example a subscriber can copy: verify the signature over the exact body bytes, check
the timestamp against a tolerance, then dedupe, then act.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..notifier.signing import sign

TOLERANCE_S = 300


class SignatureError(ValueError):
    pass


def verify(secret: str, headers: dict[str, str], body: bytes, now: float) -> None:
    """Raise SignatureError unless one `v1,` signature matches and the timestamp is fresh."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "").split()
    if not (msg_id and stamp and signatures):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError as error:
        raise SignatureError("webhook-timestamp is not an integer") from error
    if abs(now - timestamp) > TOLERANCE_S:
        raise SignatureError("webhook-timestamp outside the 5 minute tolerance")
    expected = sign(secret, msg_id, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("no signature matches")


def describe(payload: dict[str, Any]) -> str:
    """One readable line for a webhook body."""
    kind, data = payload.get("type", "?"), payload.get("data", {})
    if kind.startswith("alert."):
        return (
            f"ALERT {data.get('status', '?').upper():8} {data.get('severity', '?'):8} "
            f"{data.get('material', '?'):18} score {data.get('score', 0):5.1f}  "
            f"{data.get('summary', '')}"
        )
    if kind == "stockpile.recommendation":
        quantity = data.get("quantity_t", 0)
        return (
            f"STOCKPILE {data.get('action', '?').upper():8} {data.get('material', '?'):18} "
            f"{quantity:8,.1f} t  cover {_days(data.get('days_of_cover_before'))} -> "
            f"{_days(data.get('days_of_cover_after'))} d  {data.get('rationale', '')}"
        )
    return f"{kind}: {json.dumps(data)[:120]}"


def _days(value: object) -> str:
    return f"{value:.0f}" if isinstance(value, int | float) else "n/a"


@dataclass
class Receiver:
    secret: str = ""
    printer: Callable[[str], None] = print
    received: list[dict[str, Any]] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)
    rejected: int = 0
    duplicates: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            verify(self.secret, headers, body, time.time())
        except SignatureError as error:
            self.rejected += 1
            self.printer(f"  receiver: REJECTED ({error})")
            return web.json_response({"error": str(error)}, status=401)
        msg_id = headers["webhook-id"]
        if msg_id in self.seen_ids:
            self.duplicates += 1
            return web.json_response({"duplicate": True})
        self.seen_ids.add(msg_id)
        payload = json.loads(body)
        self.received.append(payload)
        self.printer(f"  receiver: verified  {describe(payload)}")
        return web.json_response({"ok": True})

    def count(self, prefix: str) -> int:
        return sum(1 for item in self.received if str(item.get("type", "")).startswith(prefix))

    async def serve(self, host: str, port: int) -> web.AppRunner:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/webhook", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        return runner
