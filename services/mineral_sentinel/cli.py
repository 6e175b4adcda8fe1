"""The `sentinel` command: one entry point, each subcommand implemented in its own module.

Subcommand modules are imported lazily so that `sentinel kafka start` does not pay for Faust or
matplotlib imports. Each module exposes `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "kafka": ("mineral_sentinel.localkafka.cli", "start, stop or inspect the local Kafka broker"),
    "worker": ("mineral_sentinel.workers", "run a service worker: risk or notifier"),
    "topics": (
        "mineral_sentinel.topics_cli",
        "create every topic of a deployment (idempotent), or list them",
    ),
    "replay": ("mineral_sentinel.feeds.replay", "produce a JSON Lines event file into Kafka"),
    "backtest": ("mineral_sentinel.backtest.cli", "run the risk core offline over a JSONL file"),
    "evaluate": (
        "mineral_sentinel.evaluation.cli",
        "score the backtest on labelled episodes: lead time, misses, false alarms",
    ),
    "policy": (
        "mineral_sentinel.policyfile",
        "check a deployment-protocol file: print its version and every value in effect",
    ),
    "schemas": ("mineral_sentinel.schemagen", "write schemas/ (JSON Schema, AsyncAPI, OpenAPI)"),
    "demo": ("mineral_sentinel.demo", "run the whole system end to end on a sample scenario"),
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sentinel", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:
            module = importlib.import_module(module_name)
            module.add_arguments(sub_parser)
            sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(args_list).parse_args(args_list)
    result: int = args._run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
