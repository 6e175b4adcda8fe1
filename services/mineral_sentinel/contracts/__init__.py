"""Message contracts: every Kafka message, HTTP body and webhook payload as a pydantic model."""

from .events import (
    ExportControl,
    InputEvent,
    PriceObserved,
    ShipmentUpdated,
    StockpilePosition,
    parse_event,
)
from .outputs import (
    Alert,
    Component,
    DeadLetter,
    DeadLetterError,
    Driver,
    RiskSnapshot,
    StockpileRecommendation,
    SupplyRisk,
)

__all__ = [
    "Alert",
    "Component",
    "DeadLetter",
    "DeadLetterError",
    "Driver",
    "ExportControl",
    "InputEvent",
    "PriceObserved",
    "RiskSnapshot",
    "ShipmentUpdated",
    "StockpilePosition",
    "StockpileRecommendation",
    "SupplyRisk",
    "parse_event",
]
