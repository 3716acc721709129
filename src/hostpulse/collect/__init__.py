"""Collectors: pure readers of the host. They know nothing of the web, of time or of rates.

A collector is any object with a ``name`` and a ``read()`` returning a :class:`Reading`.
Readings carry three kinds of number, and the sampler alone turns the cumulative ones into
per-tick values (see :mod:`hostpulse.rates`):

- ``values``: gauges, final as read (``mem.used``, ``fs./.percent``, ``load.1``);
- ``counters``: cumulative counters whose per-second rate is the metric, already scaled so
  that the rate is in the key's unit (``net.eth0.rx_bps`` holds total bytes received);
- ``shares``: pairs of cumulative counters (part, whole) whose deltas give a percentage
  (``cpu.total`` holds (busy seconds, all seconds)).

A collector raises when it cannot read; the sampler isolates that failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from hostpulse.metrics import Value


@dataclass(slots=True)
class Reading:
    values: dict[str, Value] = field(default_factory=dict)
    counters: dict[str, float] = field(default_factory=dict)
    shares: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: Tables that are not flat numbers (the top processes), by name.
    tables: dict[str, Any] = field(default_factory=dict)


class Collector(Protocol):
    name: str

    def read(self) -> Reading: ...


def read_text(path: str) -> str | None:
    """A small /proc or /sys file's text, or None when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None
