"""`sentinel backtest EVENTS.jsonl --out DIR`: run the risk core offline over a JSONL file."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .report import write_outputs
from .runner import run_backtest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("events", type=Path, help="JSON Lines file of input events")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    parser.add_argument(
        "--policy",
        type=Path,
        default=None,
        help="deployment protocol file, JSON (docs/policy.md; default: SENTINEL_POLICY_FILE, "
        "else the defaults)",
    )


def _lines_with_progress(handle: BinaryIO, total_bytes: int) -> Iterator[bytes]:
    """Lines of the file with a tqdm bar on stderr (disabled when stderr is not a terminal)."""
    from tqdm import tqdm

    with tqdm(
        total=total_bytes,
        unit="B",
        unit_scale=True,
        desc="backtest",
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
    ) as bar:
        for line in handle:
            bar.update(len(line))
            yield line


def run(args: argparse.Namespace) -> int:
    from ..catalog.loader import load_catalog
    from ..config import load_settings
    from ..policyfile import PolicyFileError, load_policy

    source: Path = args.events
    if not source.is_file():
        print(f"sentinel backtest: no such file: {source}", file=sys.stderr)
        return 2
    catalog = load_catalog()
    settings = load_settings()
    try:
        policy = load_policy(args.policy or settings.policy_file, catalog)
    except PolicyFileError as error:
        print(f"sentinel backtest: {error}", file=sys.stderr)
        return 2
    with source.open("rb") as handle:  # bytes: a line that is not UTF-8 is `undecodable`
        result = run_backtest(
            _lines_with_progress(handle, source.stat().st_size),
            catalog,
            policy,
            now=time.time(),
            max_future_s=settings.max_future_s,
            max_event_bytes=settings.risk_max_event_bytes,
        )
    for bad in result.bad_lines:
        print(f"{source}:{bad.line_no}: {bad.reason}: {bad.message}", file=sys.stderr)
    out_dir: Path = args.out
    write_outputs(result, out_dir, source.name)
    charts = []
    if not args.no_charts:
        from .charts import write_charts

        charts = write_charts(result, out_dir, policy)
    print(
        f"{result.events} events, {len(result.bad_lines)} bad lines, {len(result.alerts)} alert "
        f"updates, {len(result.recommendations)} recommendations, {len(charts)} charts -> "
        f"{out_dir} (protocol {result.protocol})"
    )
    return 0
