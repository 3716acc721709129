"""Tiered metric history: 1 s for an hour, 10 s for a day, 1 min for 30 days (docs/HISTORY.md)."""

from hostpulse.history.history import History
from hostpulse.history.tiers import TIERS, Tier

__all__ = ["TIERS", "History", "Tier"]
