"""Mineral Sentinel: disruption alerts and stockpile recommendations for critical raw materials."""

__version__ = "0.1.0"
