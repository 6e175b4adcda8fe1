"""The pure risk core: signals -> score -> level -> alerts and stockpile advice.

No I/O, no clock, no randomness: `apply_event(state, event, catalog, policy)` folds one input
event into a material's bounded state and returns what it caused. The Kafka risk service and the
offline backtest both call exactly this.
"""

from ..contracts.events import InputEvent
from .codec import dump_state, load_state
from .core import (
    Outputs,
    UnknownMaterialError,
    active_measures,
    apply_event,
    as_of,
    daily_need_t,
    days_of_cover,
    last_alert,
    last_recommendation,
    level_name,
    open_alert,
    snapshot_of,
)
from .policy import DEFAULT_POLICY, LEVELS, Policy
from .state import MaterialState, MeasureState, initial_state

__all__ = [
    "DEFAULT_POLICY",
    "LEVELS",
    "InputEvent",
    "MaterialState",
    "MeasureState",
    "Outputs",
    "Policy",
    "UnknownMaterialError",
    "active_measures",
    "apply_event",
    "as_of",
    "daily_need_t",
    "days_of_cover",
    "dump_state",
    "initial_state",
    "last_alert",
    "last_recommendation",
    "level_name",
    "load_state",
    "open_alert",
    "snapshot_of",
]
