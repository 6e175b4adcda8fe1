"""The SSRF guard inside the HTTP client: hand the vetted IP to the connection, keep the name
for Host (and SNI), vet again at every send (DNS rebinding between creation and send is
refused). No network: the inner transport is httpx.MockTransport, the resolver is injected."""

from __future__ import annotations

from ipaddress import ip_network

import httpx
import pytest

from mineral_sentinel.notifier.transport import VETTED_IP, GuardedTransport, SsrfRefused, UrlGuard

pytestmark = pytest.mark.unit


class Resolver:
    """Answers from a script, one answer per call (the last repeats), and counts calls."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]


def client(guard: UrlGuard, seen: list[httpx.Request]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    return httpx.AsyncClient(transport=GuardedTransport(guard, httpx.MockTransport(handler)))


async def test_hands_the_vetted_address_to_the_connection_and_keeps_the_name() -> None:
    seen: list[httpx.Request] = []
    guard = UrlGuard((), allow_http=False, resolver=Resolver(["10.1.1.1", "93.184.215.14"]))
    async with client(guard, seen) as http:
        response = await http.post("https://hooks.example.com:8443/in", content=b"{}")
    assert response.status_code == 204
    (request,) = seen
    assert request.extensions[VETTED_IP] == "93.184.215.14", "the private address was dropped"
    assert request.url.host == "hooks.example.com" and request.url.port == 8443
    assert request.headers["host"] == "hooks.example.com:8443"


async def test_dns_rebinding_after_creation_is_refused_at_send_time() -> None:
    resolver = Resolver(["93.184.215.14"], ["127.0.0.1"])
    guard = UrlGuard((), allow_http=False, resolver=resolver)
    await guard.vet("https://rebind.example.com/")  # creation: public
    seen: list[httpx.Request] = []
    async with client(guard, seen) as http:
        with pytest.raises(SsrfRefused, match="loopback"):
            await http.post("https://rebind.example.com/", content=b"{}")
    assert seen == [] and resolver.calls == 2


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://10.0.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/",
        "https://[fd00:ec2::254]/",
        "https://localhost/",
        "http://hooks.example.com/",
    ],
)
async def test_default_settings_refuse_before_any_connection(url: str) -> None:
    resolver = Resolver(["127.0.0.1", "::1"])
    seen: list[httpx.Request] = []
    async with client(UrlGuard((), allow_http=False, resolver=resolver), seen) as http:
        with pytest.raises(SsrfRefused):
            await http.post(url, content=b"{}")
    assert seen == []


async def test_allow_list_admits_loopback_for_local_demos() -> None:
    seen: list[httpx.Request] = []
    guard = UrlGuard(
        (ip_network("127.0.0.0/8"),), allow_http=True, resolver=Resolver(["127.0.0.1"])
    )
    async with client(guard, seen) as http:
        await http.post("http://localhost:9999/x", content=b"{}")
    assert seen[0].extensions[VETTED_IP] == "127.0.0.1"
    assert seen[0].headers["host"] == "localhost:9999"


async def test_the_httpcore_transport_refuses_requests_that_skipped_the_guard() -> None:
    from mineral_sentinel.notifier.transport import PinnedHttpcoreTransport

    async with httpx.AsyncClient(transport=PinnedHttpcoreTransport()) as http:
        with pytest.raises(SsrfRefused):
            await http.post("http://127.0.0.1:9/", content=b"{}")


@pytest.mark.parametrize("engine", ["aiohttp", "httpcore"])
async def test_every_engine_vets_before_it_connects(engine: str) -> None:
    """A name resolving to a private address is refused by each engine's poster, before any
    connection (the resolver is the only network call)."""
    from mineral_sentinel.notifier.transport import make_poster

    guard = UrlGuard((), allow_http=True, resolver=Resolver(["10.0.0.7"]))
    poster = make_poster(guard, 1.0, engine)
    try:
        with pytest.raises(SsrfRefused, match=r"10\.0\.0\.7"):
            await poster.post("http://hooks.example.com/x", b"{}", {}, 1.0, 1024)
    finally:
        await poster.aclose()
