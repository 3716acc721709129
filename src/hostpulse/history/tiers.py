"""The three resolutions history keeps, and how a query picks one and its step."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    #: Seconds per point; bucket starts are multiples of it (epoch-aligned).
    step: int
    #: Seconds kept; older rows are deleted by retention.
    span: int
    #: SQLite table holding the tier.
    table: str


SECOND = Tier("1s", 1, 3600, "t1")
TEN_SECONDS = Tier("10s", 10, 24 * 3600, "t10")
MINUTE = Tier("1min", 60, 30 * 24 * 3600, "t60")
#: Finest first: a query takes the first tier whose span reaches back to ``since``.
TIERS: tuple[Tier, ...] = (SECOND, TEN_SECONDS, MINUTE)
COARSE: tuple[Tier, ...] = (TEN_SECONDS, MINUTE)


def choose(since: float, now: float) -> Tier:
    """The finest tier still holding ``since``; the coarsest when nothing reaches that far."""
    for tier in TIERS:
        # One step of slack: a "last hour" query computed a moment ago still fits the 1 s tier.
        if since >= now - tier.span - tier.step:
            return tier
    return TIERS[-1]


def plan_step(tier: Tier, since: float, until: float, step: float | None, max_points: int) -> int:
    """The output step: a multiple of the tier's step, raised until at most ``max_points``."""
    factor = max(1, math.ceil((step or tier.step) / tier.step))
    width = max(0.0, until - since)
    cap = max(2, max_points)
    # +2: epoch-aligned buckets may cut a partial bucket at both ends of the range.
    while width // (factor * tier.step) + 2 > cap:
        factor = max(factor + 1, math.ceil(width / (max(1, cap - 2) * tier.step)))
    return factor * tier.step


def settle_step(
    tier: Tier, out: int, asked: int, steps: tuple[tuple[int, int], ...], since: float, now: float
) -> int:
    """When ``max_points`` raised the step (``out`` above ``asked``, the step asked for,
    rounded), raise it at most to twice that, to a multiple of a coarser stored resolution:
    a 30-day chart then reads 30-minute rollups one to one instead of folding 43,200 rows a
    key. ``steps``: (step, span) of the stored resolutions, coarsest first."""
    if tier.step == 1 or out <= asked:
        return out
    for step, span in steps:
        if step <= tier.step or since < now - span - step:
            continue
        candidate = math.ceil(out / step) * step
        if candidate <= 2 * out:
            return candidate
    return out
