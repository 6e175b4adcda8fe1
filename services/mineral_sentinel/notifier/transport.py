"""The SSRF guard in the connection path: resolve, vet, then connect to the vetted IP only.

An httpx transport wraps the real one, so no request of the shared client can bypass the guard.
The URL's host is replaced by the vetted address; the Host header keeps the original name and,
for https, the TLS SNI and certificate check use it too (httpcore's `sni_hostname`). The name is
resolved once per attempt and never again by the connection, so DNS rebinding cannot redirect it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from .ssrf import Decision, Network, Target, check_addresses, parse_target

Resolver = Callable[[str, int], Awaitable[list[str]]]


class SsrfRefused(Exception):
    """The URL or the addresses it resolves to are not allowed."""


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
        target = parse_target(url, self.allow_http)
        if isinstance(target, str):
            raise SsrfRefused(target)
        addresses = [target.host] if target.host_is_ip else await self.resolver(target.host, 0)
        decision = check_addresses(addresses, self.allowed)
        if not decision.allowed:
            raise SsrfRefused(f"{target.host}: {decision.reason}")
        return target, decision


class GuardedTransport(httpx.AsyncBaseTransport):
    def __init__(self, guard: UrlGuard, inner: httpx.AsyncBaseTransport) -> None:
        self.guard = guard
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target, decision = await self.guard.vet(str(request.url))
        request.url = request.url.copy_with(host=decision.addresses[0])
        if target.scheme == "https" and not target.host_is_ip:
            request.extensions = {**request.extensions, "sni_hostname": target.host}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def make_client(guard: UrlGuard, timeout_s: float) -> httpx.AsyncClient:
    """The one shared client: pooled, bounded timeouts, no redirects, no proxies from the env."""
    inner = httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=512),
        retries=0,
        trust_env=False,
    )
    return httpx.AsyncClient(
        transport=GuardedTransport(guard, inner),
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,
    )
