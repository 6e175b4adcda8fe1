"""`sentinel worker risk|notifier`: run one service's Faust worker in the foreground."""

from __future__ import annotations

import argparse
import importlib
import sys

import faust

from .auth import TokenFileError
from .policyfile import PolicyFileError

SERVICES: dict[str, str] = {
    "risk": "mineral_sentinel.risk_service.app",
    "notifier": "mineral_sentinel.notifier.app",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", choices=sorted(SERVICES))
    parser.add_argument("--loglevel", default="info", help="worker log level (default info)")


def run_worker(app: faust.App, loglevel: str = "info") -> int:
    """Run a Faust app's worker until it is stopped (SIGTERM/SIGINT stop it cleanly)."""
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
    return 0


def run(args: argparse.Namespace) -> int:
    module = importlib.import_module(SERVICES[args.service])
    try:
        app: faust.App = module.create_app()
    except (TokenFileError, PolicyFileError) as error:  # the precise reason, no traceback
        print(f"sentinel worker {args.service}: {error}", file=sys.stderr)
        return 2
    return run_worker(app, args.loglevel)
