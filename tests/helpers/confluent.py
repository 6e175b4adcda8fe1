"""An independent producer for the input contract: librdkafka (confluent-kafka), as other teams
would use it, with its own partitioners and no project code on the write path."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from confluent_kafka import Producer

TOPIC_OF_TYPE = {
    "price_observed": "minerals.prices.v1",
    "shipment_updated": "minerals.shipments.v1",
    "export_control": "minerals.export-controls.v1",
    "stockpile_position": "minerals.stockpile-positions.v1",
}
"""Written out here on purpose: the other side's view of the contract (README's topic table)."""

COMPACTED = {"minerals.stockpile-positions.v1"}
"""A compacted topic takes keyed records only (Kafka answers INVALID_RECORD otherwise)."""

Order = Literal["file", "topic"]
Keying = Literal["contract", "none"]


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    key: bytes | None
    value: bytes


def messages(scenario: Path, prefix: str, *, order: Order, keying: Keying) -> list[Message]:
    """The scenario's lines as messages: file order, or topic by topic (each in file order)."""
    out: list[Message] = []
    for line in scenario.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        document = json.loads(line)
        topic = TOPIC_OF_TYPE[document["type"]]
        key_field = "measure_id" if document["type"] == "export_control" else "material"
        keyed = keying == "contract" or topic in COMPACTED  # the broker refuses keyless there
        key = str(document[key_field]).encode() if keyed else None
        out.append(Message(prefix + topic, key, line.encode()))
    if order == "topic":
        rank = {prefix + t: i for i, t in enumerate(TOPIC_OF_TYPE.values())}
        out.sort(key=lambda m: rank[m.topic])  # stable: file order within each topic
    return out


@dataclass
class ConfluentFeeder:
    """Produces messages from a background thread, optionally at a steady rate."""

    bootstrap: str
    batch: Sequence[Message]
    partitioner: str = "consistent_random"
    """librdkafka's default; "murmur2_random" is Java's (and aiokafka's) default."""
    rate: float | None = None
    produced: int = 0
    errors: list[str] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def start(self) -> ConfluentFeeder:
        self._thread = threading.Thread(target=self._run, name="confluent-feeder", daemon=True)
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float = 120.0) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "feeder did not finish in time"
        assert not self.errors, self.errors[:5]
        assert self.produced == len(self.batch)

    def _warm_up(self, producer: Producer, timeout_s: float = 60.0) -> None:
        """Learn every topic's leaders before the first record, as a long-running producer has.

        The risk service's contract is that a record reaches the broker within the idle time
        (`SENTINEL_RISK_IDLE_MS`) of its timestamp. A cold librdkafka producer stamps its first
        record of a topic, then fetches that topic's metadata and connects to the leader; on this
        loaded 2-core machine that took longer than the idle time, and the record came in late
        (seen: the first stockpile position of each partition, by both workers at once)."""
        deadline = time.monotonic() + timeout_s
        for topic in sorted({message.topic for message in self.batch}):
            while True:
                metadata = producer.list_topics(topic, timeout=5).topics.get(topic)
                partitions = metadata.partitions.values() if metadata is not None else ()
                led = metadata is not None and metadata.error is None and partitions
                if led and all(partition.leader >= 0 for partition in partitions):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{topic} has no leader for every partition")
                time.sleep(0.1)  # polling the broker's metadata with a deadline

    def _run(self) -> None:
        producer = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "partitioner": self.partitioner,
                "acks": "all",
                "linger.ms": 5,
            }
        )

        def delivered(error: object, _message: object) -> None:
            if error is not None:
                self.errors.append(str(error))
            else:
                self.produced += 1

        try:
            self._warm_up(producer)
        except TimeoutError as error:
            self.errors.append(str(error))
            return
        started = time.monotonic()
        for index, message in enumerate(self.batch):
            if self.rate:
                wait = started + index / self.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)  # pacing the feed, not synchronisation
            while True:
                try:
                    producer.produce(
                        message.topic, message.value, message.key, on_delivery=delivered
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
        remaining = producer.flush(60)
        if remaining:
            self.errors.append(f"{remaining} messages not delivered")
