"""Sample a running worker with py-spy and print where its time goes (`BENCH_PROFILE=1`).

py-spy attaches to the worker process from outside (no change to the worker, no tracing
overhead in it) and writes collapsed stacks; this module sums them per function: *self* time
(samples whose innermost frame is the function) and *total* time (samples with the function
anywhere on the stack, counted once per sample). Idle samples (`--idle` is off) are not taken,
so the shares are of the time the worker's threads were on a CPU.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

ENABLED = os.environ.get("BENCH_PROFILE", "") not in ("", "0")


class Profile:
    """`py-spy record` of one process while the `with` block runs; `top()` summarises it."""

    def __init__(self, pid: int, out: Path, rate: int = 100) -> None:
        self.pid = pid
        self.out = out
        self.rate = rate
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profile:
        spy = shutil.which("py-spy") or shutil.which(
            "py-spy", path=str(Path(sys.executable).parent)
        )
        if spy is None:
            raise RuntimeError("py-spy is not installed (it is in the dev extras)")
        self._process = subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(self.pid),
                "--rate",
                str(self.rate),
                "--format",
                "raw",
                "--output",
                str(self.out),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        self._process.wait(timeout=60)

    def top(self, count: int = 15) -> str:
        return summarise(self.out.read_text(), count)


def summarise(collapsed: str, count: int = 15) -> str:
    """Top functions by self and by total share of the samples, from py-spy's raw format
    (`frame;frame;...;frame N` per line, outermost first)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        n = int(number)
        samples += n
        frames = [_short(frame) for frame in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    if not samples:
        return "profile: no samples"
    lines = [f"profile: {samples:,} samples"]
    for title, counter in (("self", own), ("total", total)):
        lines.append(f"  top {count} by {title} time:")
        for frame, n in counter.most_common(count):
            lines.append(f"    {100 * n / samples:5.1f} %  {frame}")
    return "\n".join(lines)


def _short(frame: str) -> str:
    """`function (path/to/module.py:123)` -> `function (module.py)`: lines split one function
    into many entries."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    return f"{name} ({'/'.join(parts[-2:])})" if parts else name
