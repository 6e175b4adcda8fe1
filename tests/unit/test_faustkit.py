"""The URL a worker publishes to its group: never a wildcard bind address."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from yarl import URL

from mineral_sentinel.config import Settings
from mineral_sentinel.faustkit import make_app

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("bind", "advertised", "expected_host"),
    [
        ("127.0.0.1", None, "127.0.0.1"),
        ("0.0.0.0", None, socket.gethostname()),
        ("::", None, socket.gethostname()),
        ("0.0.0.0", "10.1.2.3", "10.1.2.3"),
        ("0.0.0.0", "sentinel-risk-0.sentinel-risk-pods", "sentinel-risk-0.sentinel-risk-pods"),
    ],
)
def test_workers_reach_each_other_at_the_advertised_host_and_bind_the_interface(
    tmp_path: Path, bind: str, advertised: str | None, expected_host: str
) -> None:
    settings = Settings(data_dir=tmp_path, web_host=bind, web_advertised_host=advertised)
    app = make_app("sentinel-test", settings, web_port=6123)
    assert URL(str(app.conf.canonical_url)).host == expected_host
    assert URL(str(app.conf.canonical_url)).port == 6123
    assert app.conf.web_bind == bind
