"""A changelog partition that stops making progress during a recovery is sought again."""

from __future__ import annotations

import pytest

from mineral_sentinel.risk_service.recovery_watch import RecoveryWatch
from tests.helpers.clock import Clock

pytestmark = pytest.mark.unit


def test_a_partition_without_progress_for_the_stall_time_is_due_again_and_again() -> None:
    clock = Clock()
    watch: RecoveryWatch[int] = RecoveryWatch(stall_s=10.0, clock=clock)
    assert watch.stalled(True, {4: -1, 5: -1}, {4: 6, 5: -1}) == {}
    clock.now = 9.9
    assert watch.stalled(True, {4: -1, 5: -1}, {4: 6, 5: -1}) == {}
    clock.now = 10.0
    assert watch.stalled(True, {4: -1, 5: -1}, {4: 6, 5: -1}) == {4: 0}
    clock.now = 15.0
    assert watch.stalled(True, {4: -1}, {4: 6}) == {}, "the stall time starts again"
    clock.now = 20.0
    assert watch.stalled(True, {4: -1}, {4: 6}) == {4: 0}


def test_progress_resets_the_stall_time_and_the_position_is_the_last_applied() -> None:
    clock = Clock()
    watch: RecoveryWatch[int] = RecoveryWatch(stall_s=10.0, clock=clock)
    watch.stalled(True, {4: 2}, {4: 6})
    clock.now = 8.0
    assert watch.stalled(True, {4: 3}, {4: 6}) == {}
    clock.now = 17.0
    assert watch.stalled(True, {4: 3}, {4: 6}) == {}
    clock.now = 18.0
    assert watch.stalled(True, {4: 3}, {4: 6}) == {4: 3}


def test_caught_up_partitions_and_the_end_of_recovery_clear_the_watch() -> None:
    clock = Clock()
    watch: RecoveryWatch[int] = RecoveryWatch(stall_s=10.0, clock=clock)
    watch.stalled(True, {4: -1}, {4: 6})
    clock.now = 10.0
    assert watch.stalled(True, {4: 6}, {4: 6}) == {}, "caught up: not behind"
    assert watch.stalled(False, {4: -1}, {4: 6}) == {}
    clock.now = 25.0
    assert watch.stalled(True, {4: -1}, {4: 6}) == {}, "a new recovery starts its own clock"
    clock.now = 35.0
    assert watch.stalled(True, {4: -1}, {4: 6}) == {4: 0}
