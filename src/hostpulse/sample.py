"""What the sampler produces: one immutable sample per tick."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hostpulse.metrics import Value


@dataclass(frozen=True, slots=True)
class Sample:
    #: Tick number since the sampler started (0, 1, 2, …); a gap means skipped ticks.
    seq: int
    #: Wall-clock time of the reading, Unix epoch seconds.
    ts: float
    #: The flat metric mapping (see :mod:`hostpulse.metrics`); ``None`` where unknown.
    values: dict[str, Value]
    #: Tables that are not flat numbers, present only when collected (``processes``).
    tables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Table:
    """An on-demand table (``processes``) read with sample ``seq``, delivered on its own:
    a remote host's arrives separately from its sample (docs/REDIS.md)."""

    name: str
    seq: int
    ts: float
    data: dict[str, Any]
