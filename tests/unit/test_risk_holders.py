"""Several holders of one material's stock: positions, cover, allocation, old stored state."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mineral_sentinel.risk import days_of_cover, dump_state, load_state, snapshot_of
from mineral_sentinel.risk.holders import allocate, floors_and_targets
from mineral_sentinel.risk.state import HoldingState
from mineral_sentinel.risk_service.slot import decode_slot, encode_slot

from .risk_fixtures import CATALOG, POLICY, Events, calm_prices, day, fold
from .test_risk_properties import event_lists

pytestmark = pytest.mark.unit
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# gallium in the test catalog: 0.1 t/day of net imports, target 90 d (9 t), floor 30 d (3 t)


def _holdings(**stocks: float) -> dict[str, HoldingState]:
    return {k: HoldingState(k, v, 0.0, f"k-{k}") for k, v in stocks.items()}


# ---- positions per (material, holder) --------------------------------------------------------


def test_cover_is_the_sum_over_holders_over_daily_net_imports():
    ev = Events()
    state, outs = fold(
        [ev.position(day(1), 6.0, holder="fr"), ev.position(day(2), 3.0, holder="de")]
    )
    assert state.stock_t == 9.0
    assert days_of_cover(state, CATALOG) == pytest.approx(90.0)
    assert outs[0].snapshot is not None and outs[0].snapshot.days_of_cover == pytest.approx(60.0)
    snap = snapshot_of(state, CATALOG, POLICY)
    assert snap.days_of_cover == pytest.approx(90.0)
    assert [(h.holder, h.stock_t) for h in snap.holdings] == [("fr", 6.0), ("de", 3.0)]
    assert [h.days_of_cover for h in snap.holdings] == pytest.approx([60.0, 30.0])
    # pro-rata shares of the material's 3 t floor and 9 t target
    assert [h.floor_t for h in snap.holdings] == pytest.approx([2.0, 1.0])
    assert [h.target_t for h in snap.holdings] == pytest.approx([6.0, 3.0])


def test_a_holders_later_report_replaces_only_its_own_and_an_older_one_is_ignored():
    ev = Events()
    state, _ = fold(
        [
            ev.position(day(1), 6.0, holder="fr"),
            ev.position(day(2), 3.0, holder="de"),
            ev.position(day(3), 4.0, holder="fr"),
            ev.position(day(0.5), 100.0, holder="de"),  # older than de's report: ignored
            ev.position(day(4), 1.0),  # no holder named: one more holder, the unnamed one
        ]
    )
    assert {k: h.stock_t for k, h in state.holdings.items()} == {"fr": 4.0, "de": 3.0, "": 1.0}
    assert state.stock_t == 8.0
    snap = snapshot_of(state, CATALOG, POLICY)
    assert [h.holder for h in snap.holdings] == ["fr", "de", None]


def test_holders_beyond_the_cap_forget_the_oldest_report():
    from dataclasses import replace

    policy = replace(POLICY, max_holders=2)
    ev = Events()
    state, _ = fold(
        [
            ev.position(day(1), 1.0, holder="a"),
            ev.position(day(2), 2.0, holder="b"),
            ev.position(day(3), 4.0, holder="c"),
        ],
        policy=policy,
    )
    assert list(state.holdings) == ["b", "c"] and state.stock_t == 6.0


@SETTINGS
@given(
    event_lists(max_size=25),
    st.floats(0, 1e4),
    st.lists(
        st.tuples(st.sampled_from(["de", "it", None]), st.floats(0, 1e4), st.floats(0, 500)),
        min_size=1,
        max_size=6,
    ),
)
def test_a_second_holders_report_never_changes_the_first_holders_stock(events, stock, others):
    ev = Events()
    first = ev.position(day(450), stock, holder="first", event_id="first")
    state, _ = fold([*events, first])
    assert state.holdings["first"].stock_t == stock
    later = [
        ev.position(day(t), q, holder=holder, event_id=f"other-{i}")
        for i, (holder, q, t) in enumerate(others)
    ]
    state, _ = fold(later, state=state)
    assert state.holdings["first"].stock_t == stock
    assert state.stock_t == pytest.approx(sum(h.stock_t for h in state.holdings.values()))


# ---- allocation ------------------------------------------------------------------------------


def test_release_is_taken_from_holders_above_their_floor_in_proportion_to_their_excess():
    holdings = _holdings(fr=6.0, de=3.0, it=1.0)
    holdings["fr"].floor_t = 2.0  # excess 4
    holdings["de"].floor_t = 1.0  # excess 2
    holdings["it"].floor_t = 1.5  # below its floor: gives nothing
    rows = allocate(holdings, "release", 3.0, 0.1, 30.0, 90.0)
    assert rows == [("fr", 2.0, 6.0, 4.0), ("de", 1.0, 3.0, 2.0)]


def test_replenishment_goes_to_holders_below_target_in_proportion_to_their_shortfall():
    holdings = _holdings(fr=6.0, de=1.0)
    holdings["fr"].target_t = 6.0  # at target: receives nothing
    holdings["de"].target_t = 5.0  # shortfall 4
    assert allocate(holdings, "replenish", 2.0, 0.1, 30.0, 90.0) == [("de", 2.0, 1.0, 3.0)]


def test_without_declared_limits_the_split_follows_the_stocks_and_nobody_passes_its_floor():
    holdings = _holdings(fr=6.0, de=3.0)
    limits = floors_and_targets(holdings, 0.1, 30.0, 90.0)
    assert list(limits) == ["fr", "de"]
    assert [*limits["fr"], *limits["de"]] == pytest.approx([2.0, 6.0, 1.0, 3.0])
    rows = allocate(holdings, "release", 5.751, 0.1, 30.0, 90.0)
    assert sum(r[1] for r in rows) == pytest.approx(5.751, abs=1e-9)
    assert [r[0] for r in rows] == ["fr", "de"]
    assert rows[0][1] == pytest.approx(2 * rows[1][1], abs=0.002)
    # more than the room above the floors: each holder gives all of it, the rest unallocated
    rows = allocate(holdings, "release", 100.0, 0.1, 30.0, 90.0)
    assert [r[0] for r in rows] == ["fr", "de"]
    assert [r[1] for r in rows] == pytest.approx([4.0, 2.0])


def test_a_hold_allocates_nothing_and_empty_holders_share_a_replenishment_equally():
    assert allocate(_holdings(fr=6.0), "hold", 0.0, 0.1, 30.0, 90.0) == []
    rows = allocate(_holdings(fr=0.0, de=0.0), "replenish", 9.0, 0.1, 30.0, 90.0)
    assert rows == [("fr", 4.5, 0.0, 4.5), ("de", 4.5, 0.0, 4.5)]


@SETTINGS
@given(
    st.lists(
        st.tuples(st.floats(0, 1e4), st.one_of(st.none(), st.floats(0, 1e4))),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(["release", "replenish"]),
    st.floats(0, 2e4),
)
def test_allocations_never_exceed_a_holders_room_and_add_up_when_there_is_room(
    rows, action, quantity
):
    holdings = _holdings(**{f"h{i}": stock for i, (stock, _) in enumerate(rows)})
    for i, (_, limit) in enumerate(rows):
        if action == "release":
            holdings[f"h{i}"].floor_t = limit
        else:
            holdings[f"h{i}"].target_t = limit
    limits = floors_and_targets(holdings, 1.0, 30.0, 90.0)
    out = allocate(holdings, action, quantity, 1.0, 30.0, 90.0)
    room = {
        key: max(
            0.0, h.stock_t - limits[key][0] if action == "release" else limits[key][1] - h.stock_t
        )
        for key, h in holdings.items()
    }
    for holder, tonnes, before, after in out:
        assert 0.0 < tonnes <= room[holder] + 1e-9
        assert before == holdings[holder].stock_t
        assert after == pytest.approx(before - tonnes if action == "release" else before + tonnes)
    total = sum(t for _, t, _, _ in out)
    assert total <= quantity + 1e-9
    if sum(room.values()) >= quantity + 0.01 * len(rows):
        assert total == pytest.approx(quantity, abs=0.001)


def test_an_emergency_release_carries_a_split_over_the_holders():
    ev = Events()
    licensing = ev.control(status="effective", announced_at=day(0), effective_at=day(30))
    events = [
        *calm_prices(ev, 0, 30),
        ev.position(day(0), 6.0, holder="fr"),
        ev.position(day(0), 3.0, holder="de"),
        licensing,
    ]
    _, outs = fold(events)
    release = [r for o in outs for r in o.recommendations if r.action == "release"][-1]
    assert [a.holder for a in release.allocations] == ["fr", "de"]
    assert sum(a.quantity_t for a in release.allocations) == pytest.approx(release.quantity_t)
    for allocation, floor in zip(release.allocations, (2.0, 1.0), strict=True):
        assert allocation.stock_after_t >= floor - 1e-9
        assert allocation.stock_after_t == pytest.approx(
            allocation.stock_before_t - allocation.quantity_t
        )
    assert "by holder: fr" in release.rationale


def test_a_single_holder_takes_the_whole_quantity_and_the_rationale_is_unchanged():
    ev = Events()
    _, outs = fold([*calm_prices(ev, 0, 30), ev.position(day(0), 6.0, holder="fr")])
    rec = [r for o in outs for r in o.recommendations][-1]
    assert rec.action == "replenish"
    assert [(a.holder, a.quantity_t) for a in rec.allocations] == [("fr", rec.quantity_t)]
    assert "by holder" not in rec.rationale


# ---- stored state of the previous format -----------------------------------------------------

# `dump_state` of format 1 (before holders), written by the previous code after reports from
# "fr" (6 t, day 1) then "de" (3 t, day 2): it kept only the last report
FORMAT_1 = (
    b'[1,"gallium",1685836800.0,["p1","k1","k2","p2"],[["fastmarkets\\u001frotterdam\\u001f'
    b'\\u001fUSD\\u001fkg","fastmarkets","rotterdam","","USD","kg",1685836800.0,301.0,"p2",'
    b'0.00038675175902995544,1,[300.0,301.0],0.0,1685836800.0,"p2",0.0]],[],[],[],[],'
    b'[3.0,1685750400.0,"k2"],[0.0,0,1685577600.0,0.0,0],null,["replenish",'
    b'"rec_gallium_0201b0d3902069367318","replenish",3.0,60.0,90.0,90,"calm market, cover 60'
    b' d below target 90 d: buy 3.0 t back to target",null,1685664000.0,1688256000.0],'
    b"1685858400.0]"
)


def test_a_format_1_state_is_read_and_its_position_replaced_by_the_next_report():
    state = load_state(FORMAT_1)
    assert state.stock_t == 3.0 and state.holdings_legacy
    assert days_of_cover(state, CATALOG) == pytest.approx(30.0)
    assert state.recommendation is not None and state.recommendation.allocations == []
    assert load_state(dump_state(state)).holdings_legacy  # survives a format-2 round trip
    ev = Events()
    older, _ = fold(
        [ev.position(day(1.5), 50.0, holder="it", event_id="it")], state=load_state(FORMAT_1)
    )
    assert older.stock_t == 3.0  # older than the migrated report: ignored, as before
    state, _ = fold([ev.position(day(3), 6.0, holder="fr", event_id="fr")], state=state)
    assert {k: h.stock_t for k, h in state.holdings.items()} == {"fr": 6.0}
    state, _ = fold([ev.position(day(4), 3.0, holder="de", event_id="de")], state=state)
    assert state.stock_t == 9.0 and not state.holdings_legacy


def test_a_slot_stored_with_a_format_1_core_is_decoded():
    meta = b'{"last":null,"ring":[],"alerts":[],"recs":0}'
    stored = (
        b"MS3" + len(meta).to_bytes(4, "big") + meta + len(FORMAT_1).to_bytes(4, "big") + FORMAT_1
    )
    slot = decode_slot(stored)
    assert slot.state.stock_t == 3.0
    again = decode_slot(encode_slot(slot))
    assert dump_state(again.state) == dump_state(slot.state)


def test_dump_and_load_keep_holders_in_order_with_their_limits():
    ev = Events()
    state, _ = fold(
        [
            ev.position(day(1), 6.0, holder="fr", floor_t=1.0, target_t=7.0),
            ev.position(day(2), 3.0, holder="de"),
        ]
    )
    restored = load_state(dump_state(state))
    assert restored.holdings == state.holdings and restored.stock_t == 9.0
