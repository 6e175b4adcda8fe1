"""An httpx transport that does its I/O with aiohttp (the workaround from encode/httpx#3215).

httpx's own pool (httpcore) slows down sharply beyond a few concurrent requests -- measured here:
~1,000 req/s at 8 in flight, ~250 at 64 -- and the notifier keeps one lane per subscription in
flight, so the shared `httpx.AsyncClient` runs on this transport by default. It sits *under*
`GuardedTransport`: it connects to the vetted IP from the request's `vetted_ip` extension, keeps
the Host header, and for https passes the name as `server_hostname` (SNI and certificate check
against the name, never the IP; aiohttp's pool key includes it, so names never share a
connection).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx

from .transport import VETTED_IP, SsrfRefused

CHUNK = 16 * 1024


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(CHUNK):
                yield chunk
        except aiohttp.ClientError as error:
            raise httpx.ReadError(str(error)) from error

    async def aclose(self) -> None:
        # Unread rest of the body: drop the connection rather than drain it.
        if not self._response.content.at_eof():
            self._response.close()
        else:
            self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, timeout_s: float, verify: ssl.SSLContext | None = None) -> None:
        self.timeout_s = timeout_s
        self.verify: ssl.SSLContext | bool = verify if verify is not None else True
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, use_dns_cache=False, ssl=self.verify),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout_s),
                auto_decompress=False,
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Content-Type", "Accept-Encoding"),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        address = request.extensions.get(VETTED_IP)
        if not isinstance(address, str):
            raise SsrfRefused("request did not pass the SSRF guard")
        name = request.url.host
        sni = name if request.url.scheme == "https" and name != address else None
        target = request.url.copy_with(host=address)
        timeouts = request.extensions.get("timeout", {})
        read_timeout = timeouts.get("read") or self.timeout_s
        try:
            response = await self._get_session().request(
                request.method,
                str(target),
                headers=list(request.headers.multi_items()),
                data=await request.aread(),
                allow_redirects=False,
                server_hostname=sni,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.timeout_s, sock_read=read_timeout
                ),
            )
        except TimeoutError as error:
            raise httpx.TimeoutException(f"timed out: {error}", request=request) from error
        except aiohttp.ClientConnectorError as error:
            raise httpx.ConnectError(str(error), request=request) from error
        except aiohttp.ClientError as error:
            raise httpx.NetworkError(str(error), request=request) from error
        return httpx.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_Body(response),
            request=request,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
