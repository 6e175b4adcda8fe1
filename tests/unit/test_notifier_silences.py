"""Silences: the pure matching decision (exhaustively and as hypothesis properties), the window
rules of the contract, and what a silenced task becomes in the payloads and the log fold."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import product
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from mineral_sentinel.contracts.outputs import LEVEL_ORDER, Severity
from mineral_sentinel.contracts.silences import (
    MAX_SILENCE,
    SILENCED_EVENT_TYPES,
    Silence,
    SilenceCreate,
    SilenceMatchers,
    SilenceOut,
    window_problem,
)
from mineral_sentinel.contracts.subscriptions import EVENT_TYPES, EventType
from mineral_sentinel.notifier.decisions import DeliveryBook
from mineral_sentinel.notifier.payloads import probe_task, replay_task, tasks_for
from mineral_sentinel.notifier.silencing import (
    Candidate,
    count_by_state,
    silence_matches,
    silenced_by,
)
from tests.unit.test_notifier_core import alert, recommendation, sub

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)


def silence(silence_id: str = "sil_aaaaaaaa", tenant: str = "alpha", **matchers: object) -> Silence:
    return Silence(
        id=silence_id,
        tenant=tenant,
        matchers=SilenceMatchers.model_validate(matchers),
        starts_at=T0,
        ends_at=T0 + timedelta(hours=1),
        comment="maintenance",
        created_by="ops",
        created_at=T0,
        updated_at=T0,
    )


def candidate(**changes: object) -> Candidate:
    base: dict[str, object] = {
        "tenant": "alpha",
        "subscription_id": "sub_aaaaaaaa",
        "event_type": "alert.firing",
        "material": "gallium",
        "severity": "warning",
        "at": T0 + timedelta(minutes=5),
    }
    return Candidate(**{**base, **changes})  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- the decision


def test_an_empty_silence_matches_everything_of_its_tenant_in_its_window() -> None:
    s = silence()
    assert silence_matches(s, candidate())
    assert silence_matches(s, candidate(event_type="stockpile.recommendation", severity=None))
    assert silence_matches(s, candidate(at=T0)), "starts_at is inside"
    assert not silence_matches(s, candidate(at=T0 + timedelta(hours=1))), "ends_at is outside"
    assert not silence_matches(s, candidate(at=T0 - timedelta(microseconds=1)))
    assert not silence_matches(s, candidate(tenant="beta"))
    assert not silence_matches(s, candidate(event_type="subscription.test", severity=None))


def test_each_matcher_alone() -> None:
    assert silence_matches(silence(materials=["gallium"]), candidate())
    assert not silence_matches(silence(materials=["cobalt"]), candidate())
    assert silence_matches(silence(event_types=["alert.firing"]), candidate())
    assert not silence_matches(silence(event_types=["alert.resolved"]), candidate())
    assert silence_matches(silence(subscription_ids=["sub_aaaaaaaa"]), candidate())
    assert not silence_matches(silence(subscription_ids=["sub_bbbbbbbb"]), candidate())
    recommendation_candidate = candidate(event_type="stockpile.recommendation", severity=None)
    assert not silence_matches(silence(min_severity="watch"), recommendation_candidate)
    assert not silence_matches(silence(max_severity="critical"), recommendation_candidate)


def test_severity_bounds_exhaustively() -> None:
    for low, high, level in product((None, *SEVERITIES), (None, *SEVERITIES), SEVERITIES):
        if low is not None and high is not None and LEVEL_ORDER[low] > LEVEL_ORDER[high]:
            with pytest.raises(ValidationError, match="min_severity"):
                SilenceMatchers(min_severity=low, max_severity=high)
            continue
        s = silence(min_severity=low, max_severity=high)
        expected = (low is None or LEVEL_ORDER[level] >= LEVEL_ORDER[low]) and (
            high is None or LEVEL_ORDER[level] <= LEVEL_ORDER[high]
        )
        assert silence_matches(s, candidate(severity=level)) is expected, (low, high, level)


def test_every_combination_of_matchers_is_the_conjunction_of_each() -> None:
    materials: tuple[list[str], ...] = ([], ["gallium"], ["cobalt"])
    event_types: tuple[list[str], ...] = ([], ["alert.firing"], ["stockpile.recommendation"])
    subs: tuple[list[str], ...] = ([], ["sub_aaaaaaaa"], ["sub_bbbbbbbb"])
    for m, e, i in product(materials, event_types, subs):
        together = silence_matches(
            silence(materials=m, event_types=e, subscription_ids=i), candidate()
        )
        each = all(
            silence_matches(silence(**{name: value}), candidate())  # type: ignore[arg-type]
            for name, value in (("materials", m), ("event_types", e), ("subscription_ids", i))
        )
        assert together is each, (m, e, i)


def test_silenced_by_names_the_earliest_starting_matching_silence() -> None:
    later = silence("sil_bbbbbbbb").model_copy(update={"starts_at": T0 + timedelta(minutes=1)})
    other = silence("sil_00000000", tenant="beta")
    assert silenced_by([later, silence("sil_cccccccc"), other], candidate()) == "sil_cccccccc"
    assert silenced_by([silence("sil_cccccccc"), silence("sil_bbbbbbbb")], candidate()) == (
        "sil_bbbbbbbb"
    )
    assert silenced_by([other], candidate()) is None
    assert silenced_by([], candidate()) is None


moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)
tenants = st.sampled_from(["alpha", "beta", "default"])
severities = st.sampled_from((None, *SEVERITIES))
matcher_sets = st.builds(
    SilenceMatchers,
    materials=st.lists(st.sampled_from(["gallium", "cobalt", "germanium"]), max_size=2),
    event_types=st.lists(st.sampled_from(SILENCED_EVENT_TYPES), max_size=3),
    subscription_ids=st.lists(st.sampled_from(["sub_aaaaaaaa", "sub_bbbbbbbb"]), max_size=2),
)


@st.composite
def silences(draw: st.DrawFn) -> Silence:
    starts = draw(moments)
    length = draw(st.timedeltas(min_value=timedelta(seconds=1), max_value=MAX_SILENCE))
    return silence(tenant=draw(tenants)).model_copy(
        update={"starts_at": starts, "ends_at": starts + length, "matchers": draw(matcher_sets)}
    )


candidates = st.builds(
    Candidate,
    tenant=tenants,
    subscription_id=st.sampled_from(["sub_aaaaaaaa", "sub_bbbbbbbb"]),
    event_type=st.sampled_from(EVENT_TYPES),
    material=st.sampled_from(["gallium", "cobalt", "germanium"]),
    severity=severities,
    at=moments,
)


@given(silences(), candidates)
def test_a_silence_never_matches_outside_its_window_or_of_another_tenant(
    s: Silence, c: Candidate
) -> None:
    if silence_matches(s, c):
        assert s.starts_at <= c.at < s.ends_at
        assert s.tenant == c.tenant
        assert c.event_type != "subscription.test"
        assert s.state_at(c.at) == "active"


@given(silences(), candidates)
def test_inside_its_window_an_empty_silence_matches_every_message_of_its_tenant(
    s: Silence, c: Candidate
) -> None:
    empty = s.model_copy(update={"matchers": SilenceMatchers(), "tenant": c.tenant})
    inside = empty.starts_at <= c.at < empty.ends_at
    assert silence_matches(empty, c) is (inside and c.event_type != "subscription.test")


@given(st.lists(silences(), max_size=4), candidates)
def test_silenced_by_is_some_matching_silence_and_does_not_depend_on_order(
    found: list[Silence], c: Candidate
) -> None:
    chosen = silenced_by(found, c)
    assert chosen == silenced_by(list(reversed(found)), c)
    matching = {s.id for s in found if silence_matches(s, c)}
    assert (chosen is None) is (not matching)
    assert chosen is None or chosen in matching


# ----------------------------------------------------------------------------- the contract


def test_window_rules() -> None:
    now = T0
    assert window_problem(now, now + timedelta(hours=1), now) is None
    assert window_problem(now, now, now) == "ends_at must be after starts_at"
    assert "at most 30 days" in (window_problem(now, now + MAX_SILENCE * 2, now) or "")
    assert window_problem(now, now + MAX_SILENCE, now) is None
    past = now - timedelta(hours=2)
    assert window_problem(past, past + timedelta(hours=1), now) == "ends_at must be in the future"
    ahead = now + timedelta(days=40)
    assert "ahead" in (window_problem(ahead, ahead + timedelta(hours=1), now) or "")


def test_the_create_body_is_strict_and_bounded() -> None:
    ok = {"ends_at": "2026-11-01T13:00:00Z", "comment": "c", "created_by": "me"}
    assert SilenceCreate.model_validate_json(json.dumps(ok)).starts_at is None
    for bad in (
        {**ok, "comment": ""},
        {**ok, "created_by": ""},
        {**ok, "ends_at": 1764000000},
        {**ok, "matchers": {"event_types": ["subscription.test"]}},
        {**ok, "matchers": {"materials": ["Gallium"]}},
        {**ok, "matchers": {"min_severity": "critical", "max_severity": "watch"}},
        {**ok, "tenant": "Not A Tenant"},
        {**ok, "unknown": 1},
        {key: value for key, value in ok.items() if key != "ends_at"},
    ):
        with pytest.raises(ValidationError):
            SilenceCreate.model_validate_json(json.dumps(bad))


def test_state_over_time() -> None:
    s = silence()
    assert [s.state_at(T0 + timedelta(minutes=m)) for m in (-1, 0, 59, 60)] == [
        "pending",
        "active",
        "active",
        "expired",
    ]
    assert SilenceOut.of(s, T0).state == "active"


# ----------------------------------------------------------------------------- tasks and the log


def test_a_silenced_task_is_written_final_and_replay_sends_it() -> None:
    alpha = sub("sub_aaaaaaaa", tenant="alpha", min_severity="watch")
    beta = sub("sub_bbbbbbbb", tenant="beta", min_severity="watch")
    produced = T0 + timedelta(minutes=5)
    tasks = tasks_for(alert(), [alpha, beta], T0 + timedelta(hours=3), produced, [silence()])
    assert [(t.subscription_id, t.silenced_by) for t in tasks] == [
        ("sub_aaaaaaaa", "sil_aaaaaaaa"),
        ("sub_bbbbbbbb", None),
    ]
    late = tasks_for(alert(), [alpha], T0, T0 + timedelta(hours=2), [silence()])
    assert late[0].silenced_by is None, "decided at the message's produce time, not the worker's"
    no_produce_time = tasks_for(alert(), [alpha], produced, None, [silence()])
    assert no_produce_time[0].silenced_by == "sil_aaaaaaaa", "falls back to the fan-out time"
    book = DeliveryBook()
    state = book.apply(tasks[0], offset=7)
    assert state is not None and state.status == "silenced" and state.terminal
    assert state.to_out().silenced_by == "sil_aaaaaaaa" and state.to_out().attempts == []
    again = book.apply(tasks[0], offset=9)
    assert again is state, "a re-written copy is folded once"
    replayed = replay_task(tasks[0], T0 + timedelta(hours=4))
    assert replayed.silenced_by is None and replayed.replay_of == tasks[0].delivery_id
    assert book.apply(replayed) is not None
    replay_state = book.get("sub_aaaaaaaa", replayed.delivery_id)
    assert replay_state is not None and replay_state.status == "pending"


def test_probes_and_recommendations() -> None:
    alpha = sub("sub_aaaaaaaa", tenant="alpha")
    assert probe_task(alpha, T0 + timedelta(minutes=1), "n").silenced_by is None
    only_alerts = silence(event_types=["alert.firing", "alert.resolved"])
    rec = tasks_for(recommendation(), [alpha], T0, T0 + timedelta(minutes=1), [only_alerts])
    assert rec[0].silenced_by is None
    event: EventType = "stockpile.recommendation"
    muted = tasks_for(recommendation(), [alpha], T0, T0 + timedelta(minutes=1), [silence()])
    assert (muted[0].event_type, muted[0].silenced_by) == (event, "sil_aaaaaaaa")


@given(st.lists(silences(), max_size=4), tenants, moments, severities)
def test_tasks_for_mutes_exactly_as_the_decision_says(
    found: list[Silence], tenant: str, produced: datetime, severity: Severity | None
) -> None:
    subscriber = sub("sub_aaaaaaaa", tenant=tenant, min_severity="watch")
    message = alert(severity=severity or "watch")
    [task] = tasks_for(message, [subscriber], T0, produced, found)
    expected = silenced_by(
        found,
        Candidate(tenant, "sub_aaaaaaaa", "alert.firing", "gallium", severity or "watch", produced),
    )
    assert task.silenced_by == expected


def test_silences_are_counted_by_their_state_at_the_moment_asked() -> None:
    """The `sentinel_silences{state}` gauge: every state present, each silence counted once, by
    its window at that moment (the window is half-open: at ends_at it has expired)."""
    later = silence("sil_bbbbbbbb").model_copy(
        update={"starts_at": T0 + timedelta(hours=2), "ends_at": T0 + timedelta(hours=3)}
    )
    both = [silence(), later]
    assert count_by_state([], T0) == {"pending": 0, "active": 0, "expired": 0}
    assert count_by_state(both, T0 - timedelta(seconds=1)) == {
        "pending": 2,
        "active": 0,
        "expired": 0,
    }
    assert count_by_state(both, T0) == {"pending": 1, "active": 1, "expired": 0}
    assert count_by_state(both, T0 + timedelta(hours=1)) == {
        "pending": 1,
        "active": 0,
        "expired": 1,
    }
    assert count_by_state(both, T0 + timedelta(hours=3)) == {
        "pending": 0,
        "active": 0,
        "expired": 2,
    }
