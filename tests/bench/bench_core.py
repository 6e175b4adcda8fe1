"""Throughput and memory of the pure risk core on a synthetic stream across 50 materials.

Run: `.venv/bin/pytest -m bench tests/bench/bench_core.py -s` (BENCH_EVENTS=200000 to iterate
faster). Prints events/s with parsing excluded and included, next to baselines measured in the
same run (JSON decoding alone, pydantic parsing alone), and memory: peak RSS, tracemalloc peak
during a traced pass, and the serialised state size per material at two points of the stream
(it must not grow with the event count).
"""

from __future__ import annotations

import json
import os
import resource
import time
import tracemalloc
from dataclasses import replace
from itertools import islice
from types import MappingProxyType
from typing import Any

import pytest

from mineral_sentinel.catalog.loader import load_catalog
from mineral_sentinel.catalog.model import Catalog
from mineral_sentinel.contracts.events import ExportControl, parse_event
from mineral_sentinel.feeds.synthetic import synthetic_stream
from mineral_sentinel.risk import (
    MaterialState,
    Policy,
    apply_event,
    dump_state,
    initial_state,
)

pytestmark = pytest.mark.bench

N_EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))
N_MATERIALS = 50
CHUNK = 50_000


def bench_catalog() -> Catalog:
    """The real catalog, cycled under suffixed codes until there are 50 materials."""
    base = load_catalog()
    profiles = list(base.materials.values())
    materials = dict(base.materials)
    n = 0
    while len(materials) < N_MATERIALS:
        source = profiles[n % len(profiles)]
        code = f"{source.code}_x{n // len(profiles) + 2}"
        materials[code] = replace(source, code=code)
        n += 1
    return replace(base, materials=MappingProxyType(materials))


def lines(catalog: Catalog) -> Any:
    codes = sorted(catalog.materials)[:N_MATERIALS]
    for event in synthetic_stream(N_EVENTS, codes, seed=11):
        yield json.dumps(event, separators=(",", ":"))


def fold_chunk(
    events: list[Any], states: dict[str, MaterialState], catalog: Catalog, policy: Policy
) -> int:
    emitted = 0
    for event in events:
        targets = event.materials if isinstance(event, ExportControl) else (event.material,)
        for material in targets:
            state = states.get(material)
            if state is None:
                state = states[material] = initial_state(material)
            _, out = apply_event(state, event, catalog, policy)
            if out:
                emitted += 1
    return emitted


def test_core_throughput_and_memory() -> None:
    catalog = bench_catalog()
    policy = Policy()
    states: dict[str, MaterialState] = {}
    stream = lines(catalog)
    t_json = t_parse = t_core = 0.0
    events = emitted = 0
    sizes_at: dict[str, float] = {}
    while True:
        chunk = list(islice(stream, CHUNK))
        if not chunk:
            break
        t = time.perf_counter()
        for line in chunk:
            json.loads(line)
        t_json += time.perf_counter() - t
        t = time.perf_counter()
        parsed = [parse_event(line) for line in chunk]
        t_parse += time.perf_counter() - t
        t = time.perf_counter()
        emitted += fold_chunk(parsed, states, catalog, policy)
        t_core += time.perf_counter() - t
        events += len(chunk)
        if events in (CHUNK * 4, N_EVENTS) or not sizes_at:
            sizes_at[f"after {events:,} events"] = sum(
                len(dump_state(s)) for s in states.values()
            ) / max(1, len(states))
    sizes = "; ".join(f"{k}: {v / 1024:.1f} KiB" for k, v in sizes_at.items())
    print(
        f"\n[bench_core] {events:,} events across {len(states)} materials, {emitted:,} with outputs"
    )
    print(f"  baseline  json.loads only        : {events / t_json:>12,.0f} events/s")
    print(f"  baseline  pydantic parse only    : {events / t_parse:>12,.0f} events/s")
    print(f"  core, parsing excluded           : {events / t_core:>12,.0f} events/s")
    print(f"  core, parsing included           : {events / (t_parse + t_core):>12,.0f} events/s")
    print(f"  mean serialised state per material: {sizes}")

    # a traced pass over a fresh slice: peak Python heap of the core with bounded state
    traced_states: dict[str, MaterialState] = {}
    sample = [parse_event(line) for line in islice(lines(catalog), 100_000)]
    tracemalloc.start()
    fold_chunk(sample, traced_states, catalog, policy)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  tracemalloc over 100,000 events  : current {current / 2**20:.1f} MiB, "
        f"peak {peak / 2**20:.1f} MiB"
    )
    print(f"  peak RSS of the process          : {rss_mib:.0f} MiB")

    assert events == N_EVENTS
    assert all(len(s.seen) <= policy.seen_ids for s in states.values())
    assert all(len(s.series) <= policy.max_series for s in states.values())
    values = list(sizes_at.values())
    assert values[-1] <= values[0] * 3 + 16_384  # bounded, not growing with events
