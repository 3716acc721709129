"""Turn cumulative counters into per-tick values.

Counters only grow. A counter that went backwards wrapped or was reset (a driver reloaded,
an interface re-created): that tick yields ``None``, never a negative or huge spike. A counter
seen for the first time has no previous reading: ``None``, not zero.
"""

from __future__ import annotations

import math


def rate(previous: float | None, current: float, elapsed: float) -> float | None:
    """Per-second rate of a counter between two readings ``elapsed`` seconds apart."""
    if previous is None or not elapsed > 0 or not math.isfinite(elapsed):
        return None
    delta = current - previous
    if delta < 0 or not math.isfinite(delta):
        return None
    return delta / elapsed


def share(previous: tuple[float, float] | None, current: tuple[float, float]) -> float | None:
    """Percentage that the growth of ``part`` is of the growth of ``whole`` (clamped 0..100)."""
    if previous is None:
        return None
    part = current[0] - previous[0]
    whole = current[1] - previous[1]
    if part < 0 or whole <= 0 or not math.isfinite(part) or not math.isfinite(whole):
        return None
    return min(100.0, 100.0 * part / whole)
