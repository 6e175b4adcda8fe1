"""Posting a webhook behind the SSRF guard: resolve, vet, then connect to the vetted IP only.

A `Poster` is the sender's one way out (`make_poster`). Each attempt resolves the host once,
vets the addresses and connects to exactly the chosen one, never resolving again (no DNS
rebinding between check and connect). The Host header, TLS SNI and certificate check all use
the name, and pooled connections are never shared between names that happen to share an IP:
- aiohttp engine (default, `aiohttp_poster.py`): connects to the IP with `server_hostname` =
  name (part of aiohttp's pool key);
- httpcore engine: an httpx client whose `GuardedTransport` hands the vetted IP to a network
  backend that maps the name to it at connect time.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

import httpcore
import httpx

from .ssrf import Decision, Network, Target, check_addresses, parse_target

Resolver = Callable[[str, int], Awaitable[list[str]]]
VETTED_IP = "vetted_ip"
"""Request extension carrying the address the guard vetted; inner transports connect to it."""
_PINNED: ContextVar[tuple[str, str] | None] = ContextVar("pinned_address", default=None)


class SsrfRefused(Exception):
    """The URL or the addresses it resolves to are not allowed."""


class PostFailed(Exception):
    """No HTTP answer: the connection failed or broke. (The sender's deadline, and aiohttp's
    own timeouts, raise TimeoutError instead.)"""


@dataclass(frozen=True, slots=True)
class Posted:
    """What the sender needs of an answer: status, two headers and the first bytes of the body."""

    status: int
    retry_after: str | None
    has_location: bool
    snippet: bytes


class Poster(Protocol):
    async def post(
        self, url: str, body: bytes, headers: dict[str, str], timeout_s: float, limit: int
    ) -> Posted:
        """POST once, reading at most `limit` bytes of the answer; raises SsrfRefused,
        PostFailed or TimeoutError instead of answering."""
        ...

    async def aclose(self) -> None: ...


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class UrlGuard:
    """Shared by the API (at creation/PATCH) and the transport (at send time)."""

    allowed: Sequence[Network]
    allow_http: bool
    resolver: Resolver = system_resolver

    async def vet(self, url: str) -> tuple[Target, Decision]:
        target = _parsed(url, self.allow_http)
        if isinstance(target, str):
            raise SsrfRefused(target)
        addresses = [target.host] if target.host_is_ip else await self.resolver(target.host, 0)
        decision = _checked(tuple(addresses), tuple(self.allowed))
        if not decision.allowed:
            raise SsrfRefused(f"{target.host}: {decision.reason}")
        return target, decision


# The vetting is pure and the same few URLs and addresses come back on every attempt; parsing
# them (ipaddress, urlsplit) was 8 % of the notifier's CPU under load. The name is still
# resolved on every attempt: only the verdict on what it resolved to is remembered.
_parsed = functools.lru_cache(maxsize=4096)(parse_target)
_checked = functools.lru_cache(maxsize=4096)(check_addresses)


class GuardedTransport(httpx.AsyncBaseTransport):
    def __init__(self, guard: UrlGuard, inner: httpx.AsyncBaseTransport) -> None:
        self.guard = guard
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _, decision = await self.guard.vet(str(request.url))
        request.extensions = {**request.extensions, VETTED_IP: decision.addresses[0]}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _quiet_http_loggers() -> None:
    """httpx logs every request at INFO: one line per delivery is noise and measurable CPU."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def make_poster(
    guard: UrlGuard,
    timeout_s: float,
    engine: str = "aiohttp",
    verify: ssl.SSLContext | None = None,
) -> Poster:
    """The one shared poster: pooled, bounded timeouts, no redirects, no proxies from the env.

    `engine` picks the I/O: "aiohttp" (default, fast under concurrency) or "httpcore" (httpx's
    own pool). `verify` replaces the system CA store (private CAs, tests).
    """
    if engine == "aiohttp":
        from .aiohttp_poster import AiohttpPoster

        return AiohttpPoster(guard, timeout_s, verify)
    _quiet_http_loggers()
    client = httpx.AsyncClient(
        transport=GuardedTransport(guard, PinnedHttpcoreTransport(verify)),
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,
    )
    return HttpxPoster(client)


class HttpxPoster:
    """A `Poster` over an httpx client (the httpcore engine; tests pass a MockTransport)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], timeout_s: float, limit: int
    ) -> Posted:
        try:
            async with self.client.stream("POST", url, content=body, headers=headers) as response:
                received = bytearray()
                async for chunk in response.aiter_raw():
                    received += chunk
                    if len(received) >= limit:
                        break  # the rest is never read (the connection is dropped)
                return Posted(
                    response.status_code,
                    response.headers.get("retry-after"),
                    "location" in response.headers,
                    bytes(received[:limit]),
                )
        except httpx.HTTPError as error:
            raise PostFailed(f"{type(error).__name__}: {error}") from error

    async def aclose(self) -> None:
        await self.client.aclose()


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the vetted IP pinned for the current request instead of resolving the name."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        pinned = _PINNED.get()
        if pinned is None or pinned[0] != host:
            raise httpcore.ConnectError(f"no vetted address for {host}")
        return await self.inner.connect_tcp(pinned[1], port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class PinnedHttpcoreTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, with connections pinned to the vetted IP (pool keyed by name)."""

    def __init__(self, verify: ssl.SSLContext | None = None) -> None:
        self.inner = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=512),
            retries=0,
            trust_env=False,
            verify=verify if verify is not None else True,
        )
        # httpx has no public hook for the network backend; its pool exposes it.
        self.inner._pool._network_backend = _PinnedBackend()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        address = request.extensions.get(VETTED_IP)
        if not isinstance(address, str):
            raise SsrfRefused("request did not pass the SSRF guard")
        token = _PINNED.set((request.url.host, address))
        try:
            return await self.inner.handle_async_request(request)
        finally:
            _PINNED.reset(token)

    async def aclose(self) -> None:
        await self.inner.aclose()
