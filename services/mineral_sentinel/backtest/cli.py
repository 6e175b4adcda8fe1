"""`sentinel backtest EVENTS.jsonl --out DIR`: run the risk core offline over a JSONL file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from ..risk import Policy
from .report import write_outputs
from .runner import run_backtest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("events", type=Path, help="JSON Lines file of input events")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--no-charts", action="store_true", help="skip the PNG charts")


def _lines_with_progress(handle: TextIO, total_bytes: int) -> Iterator[str]:
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
            bar.update(len(line.encode("utf-8")))
            yield line


def run(args: argparse.Namespace) -> int:
    from ..catalog.loader import load_catalog

    source: Path = args.events
    if not source.is_file():
        print(f"sentinel backtest: no such file: {source}", file=sys.stderr)
        return 2
    catalog = load_catalog()
    policy = Policy()
    with source.open(encoding="utf-8", errors="replace") as handle:
        result = run_backtest(_lines_with_progress(handle, source.stat().st_size), catalog, policy)
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
        f"{out_dir}"
    )
    return 0
