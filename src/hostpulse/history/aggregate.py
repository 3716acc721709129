"""Pure arithmetic of history: rows of float32, bucket aggregates and query downsampling.

Missing values are NaN inside rows (a float32 column cannot hold ``None``) and ``None`` in
what a query returns. Nothing here knows about time slots, locks or SQLite.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from itertools import compress, islice
from math import isnan

NAN = float("nan")
Number = float | int | None


def to_row(values: Iterable[Number]) -> array:
    """One sample's values as float32, NaN for ``None``: the compact form every tier stores."""
    values = list(values)
    try:
        return array("f", [NAN if v is None else v for v in values])
    except (TypeError, ValueError):
        # A collector broke the float|int|None contract: keep the rest of the row.
        return array("f", [_number(v) for v in values])


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return NAN


def bucket(rows: Sequence[Sequence[float]]) -> tuple[list[float], list[float], list[float]]:
    """Per column of equal-length rows: (avg, min, max) of the non-NaN values, NaN if none.

    This closes a 10 s or 1 min bucket from its 1 s rows, so it runs on the sampler's thread:
    the builtins run the common all-present column at C speed, and only a column whose sum
    came out NaN is redone value by value.
    """
    if not rows:
        return [], [], []
    columns = list(zip(*rows, strict=True))
    count = len(rows)
    sums = list(map(sum, columns))
    avgs = [s / count for s in sums]
    mins = list(map(min, columns))
    maxs = list(map(max, columns))
    for i in [i for i, s in enumerate(sums) if s != s]:
        avgs[i], mins[i], maxs[i] = _column(columns[i])
    return avgs, mins, maxs


def _column(values: Sequence[float]) -> tuple[float, float, float]:
    present = [v for v in values if v == v]
    if not present:
        return NAN, NAN, NAN
    return sum(present) / len(present), min(present), max(present)


def downsample(
    points: Iterable[tuple[float, Number, Number, Number]], start: float, step: float, count: int
) -> dict[str, list[float | None]]:
    """Group (ts, avg, min, max) points into ``count`` buckets of ``step`` from ``start``.

    avg is the plain average of the points' averages (each point weighs the same, whatever
    it was built from); min is the min of mins, max the max of maxes. An empty bucket is
    ``None`` in all three: a gap stays a gap.
    """
    sums = [0.0] * count
    counts = [0] * count
    mins: list[float | None] = [None] * count
    maxs: list[float | None] = [None] * count
    for ts, avg, low, high in points:
        i = int((ts - start) // step)
        if not 0 <= i < count or avg is None or avg != avg:
            continue
        low = avg if low is None or low != low else low
        high = avg if high is None or high != high else high
        sums[i] += avg
        counts[i] += 1
        if mins[i] is None or low < mins[i]:  # type: ignore[operator]
            mins[i] = low
        if maxs[i] is None or high > maxs[i]:  # type: ignore[operator]
            maxs[i] = high
    avgs = [s / c if c else None for s, c in zip(sums, counts, strict=True)]
    return {"avg": avgs, "min": mins, "max": maxs}


def trimmed(series: dict[str, list[float | None]]) -> dict[str, list[float | None]]:
    """Values are stored as float32: keep the 7 digits that mean something (2.4, not
    2.4000000953674316), so an answer says what was measured."""
    return {
        name: [None if v is None else float(f"{v:.7g}") for v in values]
        for name, values in series.items()
    }


def fold(
    avg: list[float], low: list[float], high: list[float], k: int
) -> tuple[list[float], list[float], list[float]]:
    """Dense lists (NaN: no data; length a multiple of ``k``) grouped ``k`` at a time: avg of
    the averages present, min of mins, max of maxes, NaN for a group with none.

    The builtins walk full groups at C speed (a query folds hundreds of thousands of values);
    only a group whose sum came out NaN (a gap inside it) is redone value by value.
    """
    if k == 1:
        return avg, low, high
    sums = list(map(sum, zip(*[iter(avg)] * k, strict=True)))
    avgs = [s / k for s in sums]
    mins = list(map(min, zip(*[iter(low)] * k, strict=True)))
    maxs = list(map(max, zip(*[iter(high)] * k, strict=True)))
    for i in [i for i, s in enumerate(sums) if s != s]:
        a = i * k
        present = [j for j in range(a, a + k) if avg[j] == avg[j]]
        if not present:
            avgs[i] = mins[i] = maxs[i] = NAN
            continue
        avgs[i] = sum(avg[j] for j in present) / len(present)
        lows = [low[j] if low[j] == low[j] else avg[j] for j in present]
        highs = [high[j] if high[j] == high[j] else avg[j] for j in present]
        mins[i], maxs[i] = min(lows), max(highs)
    return avgs, mins, maxs


def trim_values(values) -> list[float]:
    """float32 values as the 7 digits they hold (NaN stays NaN): see ``trimmed``."""
    return [float(f"{v:.7g}") for v in values]


def finish(values: list[float], trim: bool) -> list[float | None]:
    """What a query answers for one dense list: trimmed unless it already is, None for NaN."""
    if trim:
        return [None if v != v else float(f"{v:.7g}") for v in values]
    # Gaps are mostly at the ends (a range reaching past the data): find those by hand, and
    # the rest at C speed (a sum is NaN only when some value is).
    n = len(values)
    a, b = 0, n
    while a < b and values[a] != values[a]:
        a += 1
    while b > a and values[b - 1] != values[b - 1]:
        b -= 1
    inner = sum(islice(values, a, b))
    if inner == inner and a == 0 and b == n:
        return values
    out: list[float | None] = list(values)
    out[:a] = [None] * a
    out[b:] = [None] * (n - b)
    if inner != inner:
        for i in compress(range(a, b), map(isnan, islice(values, a, b))):
            out[i] = None
    return out
