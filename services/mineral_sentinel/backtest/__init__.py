"""Offline backtest: the same pure core as the stream, folded over a JSON Lines file."""

from .runner import BacktestResult, BadLine, run_backtest

__all__ = ["BacktestResult", "BadLine", "run_backtest"]
