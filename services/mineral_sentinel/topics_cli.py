"""`sentinel topics create|list`: every topic of a deployment, created before its workers start.

Why a command: each worker creates the topics it uses when it starts, but a cluster wants them
made once, by a Job, before several workers (and the lag autoscaler, which reads their groups'
offsets) race for them; and compose and Kubernetes should create exactly the topics the code
names, with its partition counts and cleanup policies, not a copied list.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from .config import Settings, load_settings
from .kafka_admin import ensure_configured_topics
from .risk_service.topology import CO_PARTITIONED, RISK_TOPICS
from .topics import NOTIFIER_SERVICE_TOPICS, TopicSpec


def deployment_topics() -> tuple[TopicSpec, ...]:
    """Every topic the risk and notifier services read or write, each once, in a fixed order."""
    return tuple(dict.fromkeys((*RISK_TOPICS, *NOTIFIER_SERVICE_TOPICS)))


def topic_rows(settings: Settings) -> list[dict[str, object]]:
    """What `create` makes of each topic with these settings (`list --json` prints it)."""
    return [
        {
            "name": spec.full_name(settings.topic_prefix),
            "partitions": settings.topic_partitions,
            "replication": settings.topic_replication,
            "cleanup": spec.cleanup,
            "exact_partitions": spec in CO_PARTITIONED,
        }
        for spec in deployment_topics()
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("create", "list"))
    parser.add_argument("--json", action="store_true", help="list: one JSON object per line")


def run(args: argparse.Namespace) -> int:
    """create: make the missing topics and wait until each partition has a leader (idempotent;
    exit 2 if a co-partitioned topic exists with another partition count); list: print them."""
    settings = load_settings()
    if args.action == "list":
        for row in topic_rows(settings):
            if args.json:
                print(json.dumps(row))
            else:
                print(f"{row['name']}\t{row['partitions']}\t{row['cleanup']}")
        return 0
    try:
        names = asyncio.run(
            ensure_configured_topics(settings, deployment_topics(), exact=CO_PARTITIONED)
        )
    except ValueError as error:
        print(f"sentinel topics: {error}", file=sys.stderr)
        return 2
    print(f"sentinel topics: {len(names)} topics ready on {settings.kafka_bootstrap}")
    return 0
