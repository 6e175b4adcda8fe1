"""Run service workers as real OS processes, so tests can stop, kill -9 and restart them."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .polling import wait_until

LISTEN_PORTS = range(20_000, 29_000)
"""Below Linux's ephemeral range (32768-60999): a port the OS hands out at random can be taken
as the source port of any outgoing connection (a Kafka client's) between the test choosing it
and the worker binding it; one from here cannot. The test broker uses 29092-29093 and the
outage test 29392."""


def free_port() -> int:
    """A port nobody listens on now, outside the ephemeral range."""
    for _ in range(200):
        port = random.choice(LISTEN_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {LISTEN_PORTS}")


@dataclass
class ServiceProcess:
    """A worker subprocess with its own log file; `env` is added to the test's environment."""

    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> ServiceProcess:
        environment = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            list(self.argv),
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, needle: str, timeout: float = 60.0) -> None:
        def seen() -> bool:
            if not self.running:
                raise AssertionError(f"process exited early:\n{self.log_text()[-4000:]}")
            return needle in self.log_text()

        wait_until(seen, timeout=timeout, interval=0.1, message=f"log line {needle!r}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not stop in time."""
        if self.process is None or self.process.poll() is not None:
            return self.process.poll() if self.process else None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self) -> int | None:
        """kill -9 the whole process group: a crash, not a shutdown."""
        if self.process is None or self.process.poll() is not None:
            return self.process.poll() if self.process else None
        os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.wait(timeout=30)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
