"""Feeds: replay JSON Lines into Kafka, and the seeded synthetic scenario generator."""
