"""Series chunks: the coarse tiers stored per key, in runs of consecutive buckets.

A row of ``t10``/``t60`` packs every key of one bucket, which suits writing (one row per
bucket) but not reading: a query of 30 keys over 30 days would read all 281 keys of 43,200
rows. So, once an hour, the writer moves the rows of the past hours into ``chunks``: one
record per (resolution, key, chunk start) holding that key's avg/min/max for a whole chunk
of buckets (NaN where there is no data). Rollups at 5 and 30 minutes are computed from the
1-minute chunks at the same time, so a 30-day chart reads 1,440 points a key, not 43,200.

Values at 1 min and 30 min are stored as float64 already trimmed to float32's 7 digits
(what a query would answer), so the common one-to-one read needs no per-value formatting,
which is what a query otherwise spends its time on. The others stay float32 (half the size)
and are trimmed when read.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from hostpulse.history.aggregate import NAN, fold, trim_values
from hostpulse.history.tiers import MINUTE, TEN_SECONDS

#: Rows older than the hour of the newest row are moved into chunks; rows of that hour stay
#: rows (a whole multiple of every resolution, so no rollup bucket straddles the line).
SEAL = 3600


@dataclass(frozen=True, slots=True)
class Resolution:
    #: Seconds per bucket.
    step: int
    #: Seconds kept (chunks that end before it are deleted by retention).
    span: int
    #: Seconds per chunk record (a multiple of ``step``; chunk starts are multiples of it).
    chunk: int
    #: 'd': float64, already trimmed; 'f': float32 as measured, trimmed when read.
    typecode: str
    #: The row table its buckets come from ('t10' or 't60').
    table: str

    @property
    def slots(self) -> int:
        return self.chunk // self.step

    @property
    def exact(self) -> bool:
        return self.typecode == "d"


# Chunk lengths weigh a query's records against the writer's rewrites: the 1 min chunk of
# the current 6 hours is rewritten each hour (8.6 KiB a key), a 10 s chunk is one hour
# (written once), the rollups a day and a week (a 30-day chart: 5 records a key).
R10 = Resolution(10, TEN_SECONDS.span, 3600, "f", TEN_SECONDS.table)
R60 = Resolution(60, MINUTE.span, 6 * 3600, "d", MINUTE.table)
R300 = Resolution(300, MINUTE.span, 86400, "f", MINUTE.table)
R1800 = Resolution(1800, MINUTE.span, 7 * 86400, "d", MINUTE.table)
#: Finest first.
RESOLUTIONS: tuple[Resolution, ...] = (R10, R60, R300, R1800)
BY_STEP = {r.step: r for r in RESOLUTIONS}
# A rollup record holds whole 1 min chunks (store._rolled writes into it at an offset).
assert all(r.chunk % R60.chunk == 0 for r in (R300, R1800))
#: Chunks moved from each row table; rollups are computed from the 1 min chunks.
DIRECT = {TEN_SECONDS.table: R10, MINUTE.table: R60}
ROLLUPS: tuple[Resolution, ...] = (R300, R1800)
#: The row table whose buckets a step is (rollups have none: they fold 1 min rows).
DIRECT_TABLE = {10: TEN_SECONDS.table, 60: MINUTE.table, 300: None, 1800: None}

Series = tuple[list[float], list[float], list[float]]


def empty(resolution: Resolution) -> Series:
    n = resolution.slots
    return [NAN] * n, [NAN] * n, [NAN] * n


def decode(
    resolution: Resolution,
    blobs: tuple[bytes, bytes, bytes],
    first: int = 0,
    end: int | None = None,
) -> Series:
    """A chunk's buckets [first, end) as lists (only those are converted to floats)."""
    size = 8 if resolution.exact else 4
    out = []
    for blob in blobs:
        values = array(resolution.typecode)
        view = memoryview(blob)
        values.frombytes(view[first * size :] if end is None else view[first * size : end * size])
        out.append(values.tolist())
    return out[0], out[1], out[2]


def encode(resolution: Resolution, series: Series) -> tuple[bytes, bytes, bytes]:
    avg, low, high = series
    code = resolution.typecode
    return array(code, avg).tobytes(), array(code, low).tobytes(), array(code, high).tobytes()


def place(resolution: Resolution, series: Series, index: int, avg: float, low: float, high: float):
    """Put one bucket into a chunk (trimmed first when the chunk holds trimmed values)."""
    if resolution.exact:
        avg, low, high = trim_values((avg, low, high))
    series[0][index], series[1][index], series[2][index] = avg, low, high


def rollup(source: Series, resolution: Resolution, first: int, count: int) -> Series:
    """``count`` buckets of ``resolution`` from a chunk of 1 min buckets, starting at bucket
    ``first`` of the rollup: avg of the 1 min averages present, min of mins, max of maxes
    (so a one-second spike is still the max of its 30 minutes)."""
    k = resolution.step // R60.step
    a, b = first * k, (first + count) * k
    avg, low, high = fold(source[0][a:b], source[1][a:b], source[2][a:b], k)
    if resolution.exact:
        avg, low, high = trim_values(avg), trim_values(low), trim_values(high)
    return avg, low, high
