"""A real local webhook receiver (aiohttp on 127.0.0.1), programmable per test.

Each request takes the next scripted behaviour (status, delay, hang, Retry-After, redirect, huge
or endless body), falling back to the default; every request is recorded with its headers, the
exact body bytes and what was answered, so tests can verify signatures and ordering.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Behaviour:
    status: int = 200
    delay: float = 0.0
    """Seconds to wait before answering (a slow endpoint)."""
    hang: bool = False
    """Never answer (until the client gives up or the receiver stops)."""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_size: int = 0
    """Send this many filler bytes as the body (a huge response)."""
    endless: bool = False
    """Stream filler bytes until the client goes away."""


OK = Behaviour()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    answered: int | None = None
    """Status answered; None while pending or when the receiver never answered."""
    bytes_sent: int = 0


class Receiver:
    def __init__(self, default: Behaviour = OK) -> None:
        self.default = default
        self.script: deque[Behaviour] = deque()
        self.requests: list[Received] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._never = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def then(self, *behaviours: Behaviour) -> Receiver:
        self.script.extend(behaviours)
        return self

    def answered(self, status_range: range = range(200, 300)) -> list[Received]:
        return [r for r in self.requests if r.answered in status_range]

    async def start(self) -> Receiver:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True)
        await self._runner.setup()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        self._never.set()
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        record = Received(request.path, dict(request.headers.items()), body, time.monotonic())
        record.headers = {k.lower(): v for k, v in record.headers.items()}
        self.requests.append(record)
        behaviour = self.script.popleft() if self.script else self.default
        if behaviour.hang:
            await self._never.wait()
            raise web.HTTPServiceUnavailable()
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)  # simulated slow endpoint
        if behaviour.body_size or behaviour.endless:
            response = web.StreamResponse(status=behaviour.status, headers=behaviour.headers)
            await response.prepare(request)
            record.answered = behaviour.status
            filler = b"x" * CHUNK
            try:
                while behaviour.endless or record.bytes_sent < behaviour.body_size:
                    await response.write(filler)
                    record.bytes_sent += len(filler)
            except (ConnectionResetError, RuntimeError, asyncio.CancelledError):
                return response
            await response.write_eof()
            return response
        record.answered = behaviour.status
        return web.Response(status=behaviour.status, headers=behaviour.headers, body=behaviour.body)


# --------------------------------------------------------------------------- fast receiver process
# `python -m tests.helpers.receiver PORT`: answers 204 as fast as it can, counts requests and, for
# bodies carrying `"summary":"t=<unix seconds>"`, records arrival minus that time (benchmarks).

_STAMP = re.compile(rb'"summary":"t=([0-9.]+)"')


def run_fast_receiver(port: int) -> None:
    stats: dict[str, Any] = {"count": 0, "latencies": [], "first": None, "last": None}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        stats["count"] += 1
        stats["first"] = stats["first"] or now
        stats["last"] = now
        found = _STAMP.search(body)
        if found:
            stats["latencies"].append(now - float(found.group(1)))
        return web.Response(status=204)

    async def get_stats(request: web.Request) -> web.Response:
        return web.json_response(stats)

    async def reset(request: web.Request) -> web.Response:
        stats.update(count=0, latencies=[], first=None, last=None)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_get("/stats", get_stats)
    app.router.add_post("/reset", reset)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, backlog=4096)


if __name__ == "__main__":
    run_fast_receiver(int(sys.argv[1]))
