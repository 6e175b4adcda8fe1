"""Property-based tests of the risk core (hypothesis)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mineral_sentinel.risk import MaterialState, apply_event, dump_state, load_state
from mineral_sentinel.risk.core import read

from .risk_fixtures import CATALOG, POLICY, Events, calm_prices, day, fold

pytestmark = pytest.mark.unit
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KINDS = ("other", "export_tax", "licensing", "quota", "ban")
STATUSES = ("announced", "effective", "amended", "suspended", "lifted")


@st.composite
def event_lists(draw, max_size: int = 40):
    """Valid gallium events in any order, including duplicates and out-of-order times."""
    ev = Events()
    n = draw(st.integers(min_value=1, max_value=max_size))
    events: list[Any] = []
    for _ in range(n):
        t = day(draw(st.floats(min_value=0, max_value=400, allow_nan=False)))
        kind = draw(st.sampled_from(["price", "price", "price", "ship", "ctrl", "stock", "dup"]))
        if kind == "price":
            events.append(
                ev.price(
                    t,
                    draw(st.floats(min_value=1e-3, max_value=1e6)),
                    market=draw(st.sampled_from(["rotterdam", "china", None])),
                )
            )
        elif kind == "ship":
            events.append(
                ev.shipment(
                    t,
                    draw(st.sampled_from(["a", "b", "c"])),
                    draw(st.sampled_from(["booked", "delayed", "held", "arrived", "cancelled"])),
                    draw(st.floats(min_value=0.001, max_value=1e5)),
                )
            )
        elif kind == "ctrl":
            effective = day(draw(st.floats(min_value=0, max_value=400)))
            expires = draw(st.one_of(st.none(), st.floats(min_value=0, max_value=300)))
            events.append(
                ev.control(
                    status=draw(st.sampled_from(STATUSES)),
                    announced_at=t,
                    effective_at=effective,
                    measure=draw(st.sampled_from(KINDS)),
                    measure_id=draw(st.sampled_from(["m1", "m2"])),
                    coverage=draw(st.floats(min_value=0, max_value=1)),
                    expires_at=None if expires is None else effective + (day(expires) - day(0)),
                    destinations=draw(st.one_of(st.none(), st.just(["US"]), st.just(["DE"]))),
                )
            )
        elif kind == "stock":
            events.append(
                ev.position(
                    t,
                    draw(st.floats(min_value=0, max_value=1e4)),
                    holder=draw(st.sampled_from([None, "fr", "de"])),
                )
            )
        elif events:
            events.append(events[draw(st.integers(0, len(events) - 1))])
    if not events:
        events.append(ev.price(day(0), 1.0))
    return events


@SETTINGS
@given(event_lists())
def test_scores_are_finite_and_within_0_100(events):
    state, outs = fold(events)
    for out in outs:
        if out.snapshot is not None:
            assert 0.0 <= out.snapshot.score <= 100.0
            assert all(0.0 <= c.value <= 100.0 for c in out.snapshot.components)
        for alert in out.alerts:
            assert 0.0 <= alert.score <= 100.0
    assert state.now is not None
    reading = read(state, CATALOG.material("gallium"), CATALOG, POLICY, state.now)
    assert all(math.isfinite(v) for v in reading.values) and math.isfinite(reading.score)


@SETTINGS
@given(event_lists())
def test_the_same_event_twice_changes_nothing(events):
    state, _ = fold(events)
    before = dump_state(state)
    _, out = apply_event(state, events[-1], CATALOG, POLICY)
    assert not out
    assert dump_state(state) == before


@SETTINGS
@given(event_lists(), st.data())
def test_dump_load_at_any_point_gives_identical_outputs(events, data):
    split = data.draw(st.integers(min_value=0, max_value=len(events)))
    _, straight = fold(events)
    state, first = fold(events[:split])
    restored = load_state(dump_state(state))
    assert dump_state(restored) == dump_state(state)
    _, rest = fold(events[split:], state=restored)
    as_json = [
        (
            o.snapshot and o.snapshot.model_dump_json(),
            [a.model_dump_json() for a in o.alerts],
            [r.model_dump_json() for r in o.recommendations],
        )
        for o in straight
    ]
    assert as_json == [
        (
            o.snapshot and o.snapshot.model_dump_json(),
            [a.model_dump_json() for a in o.alerts],
            [r.model_dump_json() for r in o.recommendations],
        )
        for o in first + rest
    ]


def _score(state: MaterialState) -> float:
    assert state.now is not None
    return read(state, CATALOG.material(state.material), CATALOG, POLICY, state.now).score


@SETTINGS
@given(
    event_lists(max_size=15),
    st.integers(0, 4),
    st.integers(0, 4),
    st.floats(0, 1),
    st.floats(0, 1),
    st.sampled_from(["announced", "effective"]),
)
def test_a_harsher_measure_never_lowers_risk(events, k1, k2, c1, c2, status):
    """Harsher = later in ban > quota > licensing > export tax > other, or wider coverage.
    Compared after the licensing lag: during the lag licensing is deliberately near-prohibitive
    (gallium 2023: exports near zero for two months), i.e. harsher than a quota."""
    (k_lo, k_hi), (c_lo, c_hi) = sorted((k1, k2)), sorted((c1, c2))
    scores = []
    for kind, coverage in ((KINDS[k_lo], c_lo), (KINDS[k_hi], c_hi)):
        ev = Events()
        measure = ev.control(
            status=status,
            measure=kind,
            coverage=coverage,
            announced_at=day(450),
            effective_at=day(455),
            measure_id="probe",
            event_id="probe",
        )
        later = ev.position(day(540) if status == "effective" else day(451), 5.0, event_id="later")
        state, _ = fold([*events, measure, later])
        scores.append(_score(state))
    assert scores[1] >= scores[0] - 1e-9


@SETTINGS
@given(
    event_lists(max_size=15),
    st.floats(0.001, 1e4),
    st.floats(0.001, 1e4),
    st.sampled_from(["delayed", "held", "cancelled"]),
)
def test_a_larger_delayed_tonnage_never_lowers_risk(events, q1, q2, status):
    scores = []
    for quantity in sorted((q1, q2)):
        probe = Events().shipment(day(450), "probe", status, quantity, event_id="probe")
        state, _ = fold([*events, probe])
        scores.append(_score(state))
    assert scores[1] >= scores[0] - 1e-9


@SETTINGS
@given(st.integers(5, 40), st.floats(-0.5, 3.0), st.floats(-0.5, 3.0), st.floats(0.0, 60.0))
def test_a_larger_price_jump_never_lowers_risk(history, j1, j2, later_days):
    scores = []
    for jump in sorted((j1, j2)):
        ev = Events()
        events = [
            *calm_prices(ev, 0, history),
            ev.price(day(history), 300.0 * (1 + jump)),
            ev.position(day(history + later_days), 5.0),
        ]
        state, _ = fold(events)
        scores.append(_score(state))
    assert scores[1] >= scores[0] - 1e-9
