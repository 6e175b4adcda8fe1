"""The smallest real Faust app: one agent that copies keyed messages, tagged, to an output topic.

Run as a subprocess by test_roundtrip.py: `python -m tests.integration.roundtrip_app`.
"""

from __future__ import annotations

import os

from mineral_sentinel.config import Settings
from mineral_sentinel.faustkit import make_app
from mineral_sentinel.workers import run_worker

settings = Settings()
app = make_app(
    "roundtrip",
    settings,
    web_port=int(os.environ["ROUNDTRIP_WEB_PORT"]),
    store="memory://",
    topic_partitions=4,
)
source = app.topic(f"{settings.topic_prefix}roundtrip.in", partitions=4)
sink = app.topic(f"{settings.topic_prefix}roundtrip.out", partitions=4)


@app.agent(source, concurrency=1)
async def copy(stream):  # type: ignore[no-untyped-def]
    async for event in stream.events():
        await sink.send(key=event.key, value=event.value + b"|copied")


if __name__ == "__main__":
    run_worker(app)
