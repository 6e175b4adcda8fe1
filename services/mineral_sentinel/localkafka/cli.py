"""`sentinel kafka start|stop|status`: the local broker for machines without Docker."""

from __future__ import annotations

import argparse

from ..config import load_settings
from .broker import BrokerError, broker_from_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--port", type=int, help="client port (default SENTINEL_KAFKA_PORT)")
    parser.add_argument("--controller-port", type=int, help="controller port")
    parser.add_argument("--data-dir", help="broker home (default $SENTINEL_DATA_DIR/kafka)")


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    updates: dict[str, object] = {}
    if args.port:
        updates["kafka_port"] = args.port
    if args.controller_port:
        updates["kafka_controller_port"] = args.controller_port
    settings = settings.model_copy(update=updates)
    from pathlib import Path

    broker = broker_from_settings(settings, home=Path(args.data_dir) if args.data_dir else None)
    try:
        if args.action == "start":
            broker.start()
        elif args.action == "stop":
            broker.stop()
        else:
            print(broker.status())
            return 0 if broker.is_running() else 3
    except BrokerError as error:
        print(f"error: {error}")
        return 1
    return 0
