"""Shared pieces of the risk-service integration tests: workers, replays, backtests, outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path

import httpx
from aiokafka import ConsumerRecord

from mineral_sentinel.backtest.runner import BacktestResult, run_backtest
from mineral_sentinel.catalog.loader import load_catalog
from mineral_sentinel.catalog.model import Catalog
from mineral_sentinel.risk import Policy
from tests.helpers.kafka import read_topic
from tests.helpers.polling import wait_until
from tests.helpers.processes import ServiceProcess, free_port

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OUTPUT_TOPICS = {
    "risk": "minerals.risk.v1",
    "alerts": "minerals.alerts.v1",
    "recommendations": "minerals.stockpile-recommendations.v1",
    "dead": "minerals.dead-letter.v1",
}


@cache
def catalog() -> Catalog:
    return load_catalog()


@cache
def backtest(scenario: str) -> BacktestResult:
    with (SCENARIOS / scenario).open(encoding="utf-8") as handle:
        return run_backtest(handle, catalog(), Policy())


def backtest_lines(lines: Iterable[str]) -> BacktestResult:
    return run_backtest(lines, catalog(), Policy())


class RiskWorker:
    """`sentinel worker risk` as a subprocess on its own port, with readiness polling."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        *,
        store: str = "memory://",
        module: str = "mineral_sentinel.cli",
    ) -> None:
        """`module` runs instead of the CLI (a test's wrapper that injects a fault)."""
        self.port = free_port()
        self.env = {
            "SENTINEL_RISK_WEB_PORT": str(self.port),
            "SENTINEL_API_TOKENS": TOKEN,
            "SENTINEL_STORE": store,
            "SENTINEL_RISK_SESSION_TIMEOUT_S": "8",
            **env,
        }
        self.process = ServiceProcess(
            [sys.executable, "-m", module, "worker", "risk"], self.env, log_path
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process.running

    def start(self, timeout: float = 90.0) -> RiskWorker:
        self.process.start()
        self.wait_ready(timeout)
        return self

    def ready(self) -> bool:
        if not self.process.running:
            raise AssertionError(f"worker exited:\n{self.process.log_text()[-4000:]}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 90.0) -> None:
        wait_until(self.ready, timeout=timeout, interval=0.2, message="worker ready")

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers=AUTH, timeout=10, **kwargs)  # type: ignore[arg-type]

    def metric(self, name: str) -> float:
        """Sum of every sample of a metric on /metrics (0 when absent)."""
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and (line[len(name)] in " {"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def restart(self, timeout: float = 120.0) -> RiskWorker:
        """Start again on the same port and data directory (the same local table files)."""
        assert not self.process.running
        self.process = ServiceProcess(self.process.argv, self.env, self.process.log_path)
        return self.start(timeout)

    def stop(self) -> None:
        self.process.stop()

    def kill(self) -> None:
        self.process.kill()


def replay(env: Mapping[str, str], scenario: Path, *args: str, timeout: float = 120.0) -> str:
    """Run `sentinel replay` to completion; returns its stdout+stderr."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mineral_sentinel.cli",
            "replay",
            str(scenario),
            "--no-progress",
            *args,
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


async def read_outputs(
    bootstrap: str,
    prefix: str,
    kind: str,
    *,
    expected: int,
    timeout: float = 90.0,
    settle: float = 1.5,
    healthy: object = None,
) -> list[ConsumerRecord[bytes, bytes]]:
    return await read_topic(
        bootstrap,
        f"{prefix}{OUTPUT_TOPICS[kind]}",
        expected=expected,
        timeout=timeout,
        settle=settle,
        healthy=healthy,  # type: ignore[arg-type]
    )


def by_material(records: Iterable[ConsumerRecord[bytes, bytes]]) -> dict[str, list[bytes]]:
    grouped: dict[str, list[bytes]] = defaultdict(list)
    for record in records:
        assert record.key is not None and record.value is not None
        grouped[record.key.decode()].append(record.value)
    return dict(grouped)


def expected_by_material(models: Iterable[object]) -> dict[str, list[bytes]]:
    grouped: dict[str, list[bytes]] = defaultdict(list)
    for model in models:
        grouped[model.material].append(model.model_dump_json().encode())  # type: ignore[attr-defined]
    return dict(grouped)


def assert_same_outputs(
    kind: str, records: Iterable[ConsumerRecord[bytes, bytes]], models: Iterable[object]
) -> int:
    """At-least-once equality: every expected output, in the expected order per material once
    duplicates are dropped, and every duplicate byte-identical. Returns the duplicate count."""
    got = by_material(records)
    want = expected_by_material(models)
    for material, values in got.items():
        assert set(values) <= set(want.get(material, [])), (
            f"{kind}: unexpected bytes for {material}"
        )
    assert {m: list(dict.fromkeys(v)) for m, v in got.items()} == want, kind
    return sum(len(v) for v in got.values()) - sum(len(v) for v in want.values())


def final_state_differences(worker: RiskWorker, expected: BacktestResult) -> list[str]:
    """Each material whose live snapshot (from its owning worker) is not the backtest's final
    one, with the status or the differing fields: what a failed wait reports."""
    from mineral_sentinel.risk import snapshot_of

    differences: list[str] = []
    for material, state in expected.states.items():
        want = json.loads(snapshot_of(state, catalog(), Policy()).model_dump_json())
        response = worker.get(f"/v1/materials/{material}")
        if response.status_code != 200:
            differences.append(f"{material}: HTTP {response.status_code} {response.text[:200]}")
            continue
        got = response.json()["snapshot"]
        fields = sorted(key for key in want.keys() | got.keys() if want.get(key) != got.get(key))
        if fields:
            detail = ", ".join(f"{key}={got.get(key)!r} (want {want.get(key)!r})" for key in fields)
            differences.append(f"{material}: {detail}")
    return differences


def final_state_matches(worker: RiskWorker, expected: BacktestResult) -> bool:
    """Every material's live snapshot (from its owning worker) equals the backtest's final one."""
    return not final_state_differences(worker, expected)


def replay_feeder(env: Mapping[str, str], scenario: str, rate: int, log: Path) -> ServiceProcess:
    """`sentinel replay` at a steady rate in the background, so a test can act mid-replay."""
    argv = [
        sys.executable,
        "-m",
        "mineral_sentinel.cli",
        "replay",
        str(SCENARIOS / scenario),
        "--no-progress",
        "--rate",
        str(rate),
    ]
    return ServiceProcess(argv, env, log)


async def assert_outputs_match_backtest(
    bootstrap: str, prefix: str, expected: BacktestResult, healthy: Callable[[], bool]
) -> dict[str, int]:
    """Read alerts, recommendations and risk snapshots until the backtest's counts arrived and
    check them (at-least-once: duplicates must be byte-identical); returns duplicates per kind."""
    wanted: dict[str, Sequence[object]] = {
        "alerts": expected.alerts,
        "recommendations": expected.recommendations,
        "risk": expected.snapshots,
    }
    duplicates: dict[str, int] = {}
    for kind, models in wanted.items():
        records = await read_outputs(
            bootstrap, prefix, kind, expected=len(models), healthy=healthy, settle=1.0
        )
        duplicates[kind] = assert_same_outputs(kind, records, models)
    return duplicates
