"""Start, stop and inspect one local Kafka broker process (KRaft, broker+controller, 127.0.0.1).

The same code path serves `sentinel kafka start|stop|status`, the Makefile, the demo and the
pytest session fixture, so what the tests run against is what a developer runs.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from .jars import DEPLOY_DIR, ensure_jars
from .probe import metadata_answers, wait_for_metadata


class BrokerError(RuntimeError):
    pass


def _kafka_uuid() -> str:
    """A cluster id in Kafka's format: URL-safe base64 of 16 random bytes, unpadded."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists"; read its state so a dead broker is not reported alive.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


@dataclass(frozen=True)
class LocalBroker:
    port: int
    controller_port: int
    home: Path
    """Data, config, logs and pid file of this broker instance."""
    cache_dir: Path
    heap: str = "512m"
    start_timeout_s: float = 90.0
    partitions: int = 8

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def answers(self) -> bool:
        return metadata_answers(self.bootstrap)

    def status(self) -> str:
        pid = self.pid()
        if pid is None:
            if self.answers():
                return f"a broker not started by us answers on {self.bootstrap}"
            return f"stopped (home {self.home})"
        state = "answering" if self.answers() else "not answering"
        return f"running, pid {pid}, {state} on {self.bootstrap} (home {self.home})"

    def _render_config(self) -> None:
        template = (DEPLOY_DIR / "server.properties.template").read_text()
        self.config_file.write_text(
            template.format(
                port=self.port,
                controller_port=self.controller_port,
                log_dirs=self.data_dir,
                partitions=self.partitions,
            )
        )

    def _java(self, libs: Path, main_class: str, *args: str) -> list[str]:
        return [
            "java",
            f"-Xmx{self.heap}",
            f"-Xms{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={DEPLOY_DIR / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.log_dir}",
            "-cp",
            f"{libs}/*",
            main_class,
            *args,
        ]

    def _format_storage(self, libs: Path) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        result = subprocess.run(
            self._java(
                libs,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                _kafka_uuid(),
                "-c",
                str(self.config_file),
                "--standalone",
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerError(f"formatting storage failed:\n{result.stdout}{result.stderr}")

    def log_tail(self, lines: int = 40) -> str:
        texts: list[str] = []
        for name in ("server.log", "stdout.log"):
            path = self.log_dir / name
            if path.exists():
                content = path.read_text(errors="replace").splitlines()[-lines:]
                texts.append(f"--- {path} (last {len(content)} lines)\n" + "\n".join(content))
        return "\n".join(texts) or "(no broker log yet)"

    def start(self, log: bool = True) -> bool:
        """Start the broker and return once it answers metadata; False if it already ran."""
        if self.is_running():
            if log:
                print(f"Kafka already running: {self.status()}", flush=True)
            if not wait_for_metadata(self.bootstrap, self.start_timeout_s, alive=self.is_running):
                raise BrokerError(f"broker process runs but does not answer\n{self.log_tail()}")
            return False
        if self.answers():
            raise BrokerError(f"port {self.port} already serves a Kafka broker not started here")
        libs = ensure_jars(self.cache_dir, log=log)
        for directory in (self.home, self.log_dir, self.data_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self._render_config()
        self._format_storage(libs)
        stdout = (self.log_dir / "stdout.log").open("ab")
        process = subprocess.Popen(
            self._java(libs, "kafka.Kafka", str(self.config_file)),
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.home,
        )
        stdout.close()
        self.pid_file.write_text(f"{process.pid}\n")
        started = time.monotonic()
        alive = lambda: process.poll() is None  # noqa: E731
        if not wait_for_metadata(self.bootstrap, self.start_timeout_s, alive=alive):
            reason = (
                f"exited with code {process.poll()}"
                if process.poll() is not None
                else f"did not answer within {self.start_timeout_s:.0f} s"
            )
            self.stop(log=False)
            raise BrokerError(f"Kafka broker {reason}\n{self.log_tail()}")
        if log:
            print(
                f"Kafka started on {self.bootstrap} in {time.monotonic() - started:.1f} s "
                f"(pid {process.pid}, logs {self.log_dir})",
                flush=True,
            )
        return True

    def stop(self, log: bool = True, timeout_s: float = 60.0) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL after the timeout); False if none ran."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            if log:
                print("Kafka is not running", flush=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _pid_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.1)  # poll interval for process exit
        if _pid_alive(pid):
            os.killpg(pid, signal.SIGKILL)
            while _pid_alive(pid):
                _reap(pid)
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        if log:
            print(f"Kafka stopped (pid {pid})", flush=True)
        return True


def _reap(pid: int) -> None:
    """Collect the exit status if the broker is our child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def broker_from_settings(settings: Settings, home: Path | None = None) -> LocalBroker:
    return LocalBroker(
        port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        home=home or settings.data_dir / "kafka",
        cache_dir=settings.kafka_cache_dir,
        start_timeout_s=settings.kafka_start_timeout_s,
        partitions=settings.topic_partitions,
    )
