"""Run the backtest over labelled episodes and score each one (no clock, no network)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..backtest import BacktestResult, run_backtest
from ..catalog.model import Catalog
from ..risk import Policy, as_of
from .labels import LabelError, LoadedEpisode
from .metrics import EpisodeScore, score_episode


@dataclass(frozen=True, slots=True)
class EpisodeRun:
    loaded: LoadedEpisode
    result: BacktestResult
    score: EpisodeScore
    end_of_data: datetime


def end_of_data(result: BacktestResult, fallback: datetime) -> datetime:
    """The latest event time any material reached (alerts still firing are held to it)."""
    moments = [as_of(state) for state in result.states.values()]
    return max((datetime.fromisoformat(m) for m in moments if m is not None), default=fallback)


def run_episode(loaded: LoadedEpisode, catalog: Catalog, policy: Policy) -> EpisodeRun:
    """Backtest one episode's events as recorded history (`now=None`: no future bound) and
    score it; an events line the intake would reject makes the episode unusable."""
    lines = loaded.events_file.read_bytes().splitlines()
    result = run_backtest(lines, catalog, policy)
    if result.bad_lines:
        raise LabelError(
            loaded.events_file,
            [f"line {b.line_no}: {b.reason}: {b.message}" for b in result.bad_lines[:20]],
        )
    signal = loaded.episode.first_public_signal
    fallback = signal.at if signal is not None else datetime.fromtimestamp(0).astimezone()
    end = end_of_data(result, fallback)
    score = score_episode(loaded.name, loaded.episode, result.alerts, result.recommendations, end)
    return EpisodeRun(loaded, result, score, end)


def run_episodes(
    episodes: Sequence[LoadedEpisode], catalog: Catalog, policy: Policy
) -> list[EpisodeRun]:
    return [run_episode(loaded, catalog, policy) for loaded in episodes]
