"""Every Kafka topic of Mineral Sentinel, in one place (README, "Topics and contracts").

Names are logical here; `TopicSpec.full_name(prefix)` gives the name on the broker so that tests
and parallel deployments can isolate themselves with `SENTINEL_TOPIC_PREFIX`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Cleanup = Literal["delete", "compact"]


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    key: str
    cleanup: Cleanup
    value: str
    description: str
    event_type: str | None = None
    """For an input topic: the `type` of the only input event it carries."""

    def full_name(self, prefix: str = "") -> str:
        return f"{prefix}{self.name}"


PRICES = TopicSpec(
    "minerals.prices.v1",
    "material",
    "delete",
    "PriceObserved",
    "Price observations from price reporting agencies and exchanges.",
    event_type="price_observed",
)
SHIPMENTS = TopicSpec(
    "minerals.shipments.v1",
    "material",
    "delete",
    "ShipmentUpdated",
    "Status changes of inbound shipments.",
    event_type="shipment_updated",
)
EXPORT_CONTROLS = TopicSpec(
    "minerals.export-controls.v1",
    "measure_id",
    "delete",
    "ExportControl",
    "Export-control measures and their lifecycle.",
    event_type="export_control",
)
STOCKPILE_POSITIONS = TopicSpec(
    "minerals.stockpile-positions.v1",
    "material",
    "compact",
    "StockpilePosition",
    "Current strategic stock per material.",
    event_type="stockpile_position",
)
RISK = TopicSpec(
    "minerals.risk.v1", "material", "compact", "RiskSnapshot", "Latest risk snapshot per material."
)
ALERTS = TopicSpec(
    "minerals.alerts.v1",
    "material",
    "delete",
    "Alert",
    "Alert lifecycle events (firing, updated, resolved).",
)
RECOMMENDATIONS = TopicSpec(
    "minerals.stockpile-recommendations.v1",
    "material",
    "delete",
    "StockpileRecommendation",
    "Advisory stockpile actions.",
)
DEAD_LETTER = TopicSpec(
    "minerals.dead-letter.v1",
    "source topic",
    "delete",
    "DeadLetter",
    "Messages that could not be processed, with the reason.",
)
SUBSCRIPTIONS = TopicSpec(
    "sentinel.subscriptions.v1",
    "subscription id",
    "compact",
    "Subscription",
    "Webhook subscriptions (tombstone = deleted).",
)
SILENCES = TopicSpec(
    "sentinel.silences.v1",
    "silence id",
    "compact",
    "Silence",
    "Silences muting webhook deliveries (expired ones stay; tombstone = a pending one deleted).",
)
DELIVERIES = TopicSpec(
    "sentinel.deliveries.v1",
    "subscription id",
    "delete",
    "DeliveryRecord",
    "Webhook delivery tasks and attempt outcomes.",
)

INPUT_TOPICS: tuple[TopicSpec, ...] = (PRICES, SHIPMENTS, EXPORT_CONTROLS, STOCKPILE_POSITIONS)
OUTPUT_TOPICS: tuple[TopicSpec, ...] = (RISK, ALERTS, RECOMMENDATIONS, DEAD_LETTER)
NOTIFIER_TOPICS: tuple[TopicSpec, ...] = (SUBSCRIPTIONS, SILENCES, DELIVERIES)
ALL_TOPICS: tuple[TopicSpec, ...] = INPUT_TOPICS + OUTPUT_TOPICS + NOTIFIER_TOPICS
NOTIFIER_SERVICE_TOPICS: tuple[TopicSpec, ...] = (
    ALERTS,
    RECOMMENDATIONS,
    DEAD_LETTER,
    *NOTIFIER_TOPICS,
)
"""Every topic the notifier reads or writes."""
INPUT_TOPIC_OF_TYPE: dict[str, TopicSpec] = {
    spec.event_type: spec for spec in INPUT_TOPICS if spec.event_type is not None
}
"""The input topic of each input event `type` (each input topic carries one type)."""
