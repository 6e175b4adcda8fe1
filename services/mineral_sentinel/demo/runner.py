"""Orchestrates the demo: broker, both workers, a verifying receiver, a subscription, the replay,
then a summary; everything it started is stopped at the end, so a second run works too.

Each run uses its own topic prefix and data directory: replaying the same events into topics that
already saw them would (correctly) be ignored as duplicates and show nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..config import Settings, load_settings
from ..localkafka import BrokerError, broker_from_settings
from ..localkafka.probe import metadata_answers
from .receiver import Receiver

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SCENARIO = REPO_ROOT / "scenarios" / "china_gallium_germanium_2023.jsonl"
FOCUS = ("gallium", "germanium")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    parser.add_argument(
        "--use-running",
        action="store_true",
        help="use an already running Kafka and services (docker compose)",
    )
    parser.add_argument("--risk-url", default=None, help="risk service base URL")
    parser.add_argument("--notifier-url", default=None, help="notifier service base URL")
    parser.add_argument("--receiver-bind", default="127.0.0.1:0", help="HOST:PORT to listen on")
    parser.add_argument(
        "--receiver-url",
        default=None,
        help="URL the notifier should call (default: from --receiver-bind)",
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for results")
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="leave everything running until Ctrl-C (to explore API and metrics)",
    )


class Step:
    """Numbered progress lines, so a newcomer sees what happens and how long it takes."""

    def __init__(self, total: int) -> None:
        self.total, self.number, self.started = total, 0, time.monotonic()

    def __call__(self, text: str) -> None:
        self.number += 1
        elapsed = time.monotonic() - self.started
        print(f"[{self.number}/{self.total}] {text}  (+{elapsed:.1f} s)", flush=True)


@dataclass
class Worker:
    name: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        if not self.alive():
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@dataclass
class DemoRun:
    settings: Settings
    args: argparse.Namespace
    token: str
    run_dir: Path
    env: dict[str, str]
    workers: list[Worker] = field(default_factory=list)
    receiver: Receiver = field(default_factory=Receiver)

    def start_worker(self, service: str) -> Worker:
        log_path = self.run_dir / f"{service}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "mineral_sentinel.cli", "worker", service],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        worker = Worker(service, log_path, process)
        self.workers.append(worker)
        return worker

    def stop_workers(self) -> None:
        for worker in reversed(self.workers):
            worker.stop()


async def poll(
    check: Callable[[], Awaitable[bool]],
    timeout: float,
    what: str,
    healthy: Callable[[], bool] = lambda: True,
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if not healthy():
            raise RuntimeError(f"{what}: a process it depends on exited")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f} s")
        await asyncio.sleep(0.25)  # poll interval; the loop re-checks the real condition


async def ready(client: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await client.get(f"{url}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


def run_cli(*argv: str, env: dict[str, str]) -> None:
    """Run a `sentinel` subcommand in a child process (its progress bar goes to the terminal)."""
    subprocess.run([sys.executable, "-m", "mineral_sentinel.cli", *argv], env=env, check=True)


async def demo(run: DemoRun, step: Step) -> dict[str, Any]:
    args, settings = run.args, run.settings
    risk_url = args.risk_url or f"http://127.0.0.1:{settings.risk_web_port}"
    notifier_url = args.notifier_url or f"http://127.0.0.1:{settings.notifier_web_port}"
    auth = {"Authorization": f"Bearer {run.token}"}
    async with httpx.AsyncClient(timeout=15.0, headers=auth) as client:
        if not args.use_running:
            step("starting the risk and notifier workers")
            risk, notifier = run.start_worker("risk"), run.start_worker("notifier")
            alive = lambda: risk.alive() and notifier.alive()  # noqa: E731
        else:
            step("using the running services")
            alive = lambda: True  # noqa: E731
        await poll(lambda: ready(client, risk_url), 120, "risk service ready", alive)
        await poll(lambda: ready(client, notifier_url), 120, "notifier service ready", alive)

        host, _, port = args.receiver_bind.rpartition(":")
        runner = await run.receiver.serve(host, int(port))
        bound_port = runner.addresses[0][1]
        receiver_url = args.receiver_url or f"http://127.0.0.1:{bound_port}/webhook"
        step(f"webhook receiver listening on {receiver_url}; registering a subscription")
        created = await client.post(
            f"{notifier_url}/v1/subscriptions",
            json={
                "url": receiver_url,
                "description": "sentinel demo receiver",
                "min_severity": "watch",
            },
        )
        if created.status_code != 201:
            raise RuntimeError(f"subscription refused: {created.status_code} {created.text}")
        subscription = created.json()
        run.receiver.secret = subscription["secret"]
        subscription_id = subscription["id"]

        step(f"replaying {args.scenario.name} into Kafka")
        run_cli("replay", str(args.scenario), env=run.env)

        step("waiting for verified webhook deliveries of alerts and recommendations")

        async def delivered() -> bool:
            alerts = [
                p
                for p in run.receiver.received
                if p["type"].startswith("alert.") and p["data"].get("material") in FOCUS
            ]
            releases = [
                p
                for p in run.receiver.received
                if p["type"] == "stockpile.recommendation" and p["data"].get("action") == "release"
            ]
            return bool(alerts and releases)

        await poll(delivered, args.timeout, "a gallium/germanium alert and a release", alive)
        await settle(run.receiver, quiet_s=3.0, limit_s=60.0)
        alerts = (await client.get(f"{risk_url}/v1/alerts")).json()
        recommendations = (await client.get(f"{risk_url}/v1/recommendations")).json()
        deliveries = (
            await client.get(f"{notifier_url}/v1/subscriptions/{subscription_id}/deliveries")
        ).json()
        await runner.cleanup()
    return {
        "alerts": alerts,
        "recommendations": recommendations,
        "deliveries": deliveries,
        "risk_url": risk_url,
        "notifier_url": notifier_url,
    }


async def settle(receiver: Receiver, quiet_s: float, limit_s: float) -> None:
    """Wait until no new webhook arrived for `quiet_s` (bounded by `limit_s`)."""
    deadline = time.monotonic() + limit_s
    last_count, last_change = len(receiver.received), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last_change < quiet_s:
        await asyncio.sleep(0.25)  # poll interval
        if len(receiver.received) != last_count:
            last_count, last_change = len(receiver.received), time.monotonic()


def items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        for key in ("items", "alerts", "recommendations", "deliveries", "data"):
            if isinstance(body.get(key), list):
                return list(body[key])
        return []
    return list(body) if isinstance(body, list) else []


def print_summary(result: dict[str, Any], run: DemoRun, backtest_dir: Path) -> None:
    alerts, recs = items(result["alerts"]), items(result["recommendations"])
    deliveries = items(result["deliveries"])
    receiver = run.receiver
    print("\n================ Mineral Sentinel demo: summary ================")
    print(f"alert episodes:             {len(alerts)} (each updated in place, see receiver lines)")
    for alert in alerts[:10]:
        print(
            f"  {alert.get('material', '?'):14} {alert.get('status', '?'):9} "
            f"{alert.get('severity', '?'):9} score {alert.get('score', 0):5.1f}"
        )
    print(f"recommendations published:  {len(recs)}")
    for rec in recs[:10]:
        print(
            f"  {rec.get('material', '?'):14} {rec.get('action', '?'):9} "
            f"{rec.get('quantity_t', 0):10,.1f} t"
        )
    print(f"webhook deliveries:         {len(deliveries)} recorded by the notifier")
    print(
        f"verified at the receiver:   {len(receiver.received)} "
        f"({receiver.count('alert.')} alerts, {receiver.count('stockpile.')} recommendations; "
        f"{receiver.rejected} rejected, {receiver.duplicates} duplicates ignored)"
    )
    print(f"backtest charts:            {backtest_dir}")
    print(f"risk API:                   {result['risk_url']}/v1/materials (bearer token)")
    print(f"notifier API:               {result['notifier_url']}/v1/subscriptions")
    print(
        f"metrics:                    {result['risk_url']}/metrics, "
        f"{result['notifier_url']}/metrics"
    )
    print(f"worker logs:                {run.run_dir}")


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    run_id = time.strftime("%Y%m%d-%H%M%S")
    token = settings.api_tokens[0] if settings.api_tokens else secrets.token_urlsafe(24)
    prefix = settings.topic_prefix if args.use_running else f"demo-{run_id}."
    run_dir = settings.data_dir / "demo" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "SENTINEL_TOPIC_PREFIX": prefix,
        "SENTINEL_API_TOKENS": token,
        "SENTINEL_DATA_DIR": str(run_dir / "data"),
        "SENTINEL_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SENTINEL_WEBHOOK_ALLOW_NETWORKS": os.environ.get(
            "SENTINEL_WEBHOOK_ALLOW_NETWORKS", "127.0.0.0/8"
        ),
        "SENTINEL_WEBHOOK_ALLOW_HTTP": "true",
        "SENTINEL_WEBHOOK_RETRY_SCALE": os.environ.get("SENTINEL_WEBHOOK_RETRY_SCALE", "0.01"),
        "PYTHONUNBUFFERED": "1",
    }
    demo_run = DemoRun(settings, args, token, run_dir, env)
    step = Step(total=7 if not args.use_running else 6)
    broker = broker_from_settings(settings)
    started_broker = False
    try:
        if not args.use_running:
            if metadata_answers(settings.kafka_bootstrap):
                step(f"using the Kafka broker already answering at {settings.kafka_bootstrap}")
            else:
                step("starting Kafka (KRaft, local jars)")
                started_broker = broker.start()
        result = asyncio.run(demo(demo_run, step))
        backtest_dir = run_dir / "backtest"
        step("running the same scenario through the offline backtest (charts)")
        run_cli("backtest", str(args.scenario), "--out", str(backtest_dir), env=env)
        print_summary(result, demo_run, backtest_dir)
        if args.keep_running:
            print("\nEverything keeps running; press Ctrl-C to stop.", flush=True)
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    except (BrokerError, RuntimeError, TimeoutError, subprocess.CalledProcessError) as error:
        print(f"\ndemo failed: {error}", file=sys.stderr)
        for worker in demo_run.workers:
            print(f"--- {worker.name} log (last lines)\n{worker.log_tail()}", file=sys.stderr)
        return 1
    finally:
        print("stopping workers" + (" and Kafka" if started_broker else ""), flush=True)
        demo_run.stop_workers()
        if started_broker:
            broker.stop(log=False)
        shutil.rmtree(run_dir / "data", ignore_errors=True)
