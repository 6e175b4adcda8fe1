"""`sentinel demo`: the whole system end to end on the China gallium/germanium 2023 scenario."""

from .runner import add_arguments, run

__all__ = ["add_arguments", "run"]
