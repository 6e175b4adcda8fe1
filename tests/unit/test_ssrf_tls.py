"""https through the SSRF guard, on both I/O engines: the connection goes to the vetted IP while
TLS uses the URL's host name for SNI and the certificate check (a certificate for another name
is refused). Local TLS server on 127.0.0.1, certificates made with the openssl CLI."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from ipaddress import ip_network
from pathlib import Path

import pytest
from aiohttp import web

from mineral_sentinel.notifier.sender import attempt
from mineral_sentinel.notifier.signing import secret_from_bytes
from mineral_sentinel.notifier.transport import UrlGuard, make_poster

pytestmark = [pytest.mark.unit, pytest.mark.asyncio(loop_scope="session")]
SECRET = secret_from_bytes(bytes(32))


def make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    subprocess.run(
        [
            shutil.which("openssl") or "openssl",
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert),
            "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    directory = tmp_path_factory.mktemp("tls")
    return {name: make_cert(directory, name) for name in ("hooks.test", "other.test")}


async def tls_server(key: Path, cert: Path) -> tuple[web.AppRunner, int, list[str]]:
    hosts: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        hosts.append(request.headers["Host"])
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port: int = runner.addresses[0][1]
    return runner, port, hosts


@pytest.fixture
async def server(
    certs: dict[str, tuple[Path, Path]],
) -> AsyncIterator[tuple[int, list[str], ssl.SSLContext]]:
    runner, port, hosts = await tls_server(*certs["hooks.test"])
    trust = ssl.create_default_context(cafile=str(certs["hooks.test"][1]))
    trust.load_verify_locations(cafile=str(certs["other.test"][1]))
    try:
        yield port, hosts, trust
    finally:
        await runner.cleanup()


async def resolve_to_loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


@pytest.mark.parametrize("engine", ["aiohttp", "httpcore"])
async def test_tls_uses_the_name_for_sni_and_certificate_while_connecting_to_the_ip(
    server: tuple[int, list[str], ssl.SSLContext], engine: str
) -> None:
    port, hosts, trust = server
    guard = UrlGuard((ip_network("127.0.0.0/8"),), False, resolve_to_loopback)
    poster = make_poster(guard, 5.0, engine, verify=trust)
    try:
        ok = await attempt(
            poster, f"https://hooks.test:{port}/hook", "msg_tls12345", b"{}", [SECRET], 5.0
        )
        wrong = await attempt(
            poster, f"https://other.test:{port}/hook", "msg_tls12345", b"{}", [SECRET], 5.0
        )
    finally:
        await poster.aclose()
    assert ok.status_code == 204, ok.error
    assert hosts == [f"hooks.test:{port}"], "Host header keeps the name"
    assert wrong.status_code is None and "certificate" in wrong.error.lower(), wrong.error
