"""The README's first command: `sentinel demo` ends with verified webhook deliveries of a
gallium/germanium alert and a release recommendation -- and a second run works too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.processes import free_port

pytestmark = pytest.mark.e2e


def run_demo(env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "mineral_sentinel.cli", "demo", "--timeout", "120"],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return result.stdout


def test_demo_delivers_verified_alerts_and_a_release_twice(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "SENTINEL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SENTINEL_DATA_DIR": str(tmp_path),
        "SENTINEL_RISK_WEB_PORT": str(free_port()),
        "SENTINEL_NOTIFIER_WEB_PORT": str(free_port()),
    }
    for _ in range(2):
        out = run_demo(env)
        verified = [line for line in out.splitlines() if "receiver: verified" in line]
        assert any(
            "ALERT FIRING" in line and ("gallium" in line or "germanium" in line)
            for line in verified
        ), out
        assert any("STOCKPILE RELEASE" in line and "gallium" in line for line in verified), out
        assert "REJECTED" not in out
        assert "summary" in out and "stopping workers" in out
