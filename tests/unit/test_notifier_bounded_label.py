"""The tenant label of the webhook metrics stays bounded whatever tenants come."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mineral_sentinel.notifier.metrics import BoundedLabel

pytestmark = pytest.mark.unit


def test_the_first_values_keep_their_names_and_later_ones_are_other() -> None:
    label = BoundedLabel(cap=2)
    assert [label.value(v) for v in ("acme", "ops", "acme", "third", "ops")] == [
        "acme",
        "ops",
        "acme",
        "other",
        "ops",
    ]
    assert label.value("other") == "other" and label.kept == {"acme", "ops"}


def test_a_tenant_named_other_does_not_take_a_place() -> None:
    label = BoundedLabel(cap=1)
    assert label.value("other") == "other"
    assert label.value("acme") == "acme"


@given(st.lists(st.text(min_size=1, max_size=8), max_size=200), st.integers(0, 10))
def test_at_most_cap_names_plus_other_and_a_kept_name_never_changes(
    values: list[str], cap: int
) -> None:
    label = BoundedLabel(cap)
    first_answer: dict[str, str] = {}
    for raw in values:
        answer = label.value(raw)
        assert answer in (raw, BoundedLabel.OTHER)
        assert first_answer.setdefault(raw, answer) == answer  # stable per value
    assert len(set(first_answer.values()) - {BoundedLabel.OTHER}) <= cap
    distinct = list(dict.fromkeys(v for v in values if v != BoundedLabel.OTHER))
    assert set(distinct[:cap]) == label.kept
