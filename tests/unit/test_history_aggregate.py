"""Property tests of the arithmetic: bucket aggregates and query downsampling."""

from __future__ import annotations

import math
from array import array

from hypothesis import given
from hypothesis import strategies as st

from hostpulse.history.aggregate import NAN, bucket, downsample, to_row
from hostpulse.history.tiers import MINUTE, SECOND, TEN_SECONDS, choose, plan_step

# Values a float32 holds exactly, so comparisons are not about rounding.
exact = st.integers(-(2**20), 2**20).map(float)
maybe = st.one_of(st.none(), exact)


def rows_of(width: int, height: int):
    return st.lists(st.lists(maybe, min_size=width, max_size=width), min_size=1, max_size=height)


@given(st.integers(1, 6).flatmap(lambda w: rows_of(w, 12)))
def test_bucket_equals_direct_computation(rows):
    avgs, mins, maxs = bucket([to_row(r) for r in rows])
    for col, (avg, low, high) in enumerate(zip(avgs, mins, maxs, strict=True)):
        present = [r[col] for r in rows if r[col] is not None]
        if not present:
            assert math.isnan(avg) and math.isnan(low) and math.isnan(high)
            continue
        assert low == min(present) and high == max(present)
        assert math.isclose(avg, sum(present) / len(present), rel_tol=1e-9, abs_tol=1e-9)
        assert low <= avg <= high


@given(st.lists(st.tuples(st.integers(0, 99), maybe), max_size=60), st.integers(1, 25))
def test_downsample_one_second_points(points, step):
    data = [(ts, v, v, v) for ts, v in points]
    out = downsample(data, 0, step, math.ceil(100 / step))
    for i, (avg, low, high) in enumerate(zip(out["avg"], out["min"], out["max"], strict=True)):
        inside = [v for ts, v in points if ts // step == i and v is not None]
        if not inside:
            assert avg is None and low is None and high is None
            continue
        assert low == min(inside) and high == max(inside)
        assert math.isclose(avg, sum(inside) / len(inside), abs_tol=1e-9)
        assert low <= avg <= high


@given(st.lists(st.lists(maybe, min_size=6, max_size=6), min_size=1, max_size=6))
def test_downsampling_buckets_agrees_with_the_samples(groups):
    """Six 10 s buckets -> one 1 min point: min of mins and max of maxes are exact; avg of
    avgs lies between them and equals the direct mean when every bucket is full."""
    points = []
    for i, group in enumerate(groups):
        avg, low, high = (c[0] for c in bucket([to_row([v]) for v in group]))
        points.append((i * 10, avg, low, high))
    out = downsample(points, 0, 60, 1)
    present = [v for g in groups for v in g if v is not None]
    if not present:
        assert out["avg"] == [None]
        return
    assert out["min"] == [min(present)] and out["max"] == [max(present)]
    assert out["min"][0] <= out["avg"][0] <= out["max"][0]
    if all(v is not None for g in groups for v in g):
        assert math.isclose(out["avg"][0], sum(present) / len(present), abs_tol=1e-6)


def test_to_row_keeps_the_row_when_a_value_is_not_a_number():
    row = to_row([1, None, "oops", 2.5, True])
    assert list(row[:1]) == [1.0] and math.isnan(row[1]) and math.isnan(row[2])
    assert list(row[3:]) == [2.5, 1.0]


def test_bucket_of_all_missing_column_is_nan():
    avg, low, high = bucket([array("f", [NAN, 1.0]), array("f", [NAN, 3.0])])
    assert math.isnan(avg[0]) and (avg[1], low[1], high[1]) == (2.0, 1.0, 3.0)


def test_finest_tier_covering_since():
    now = 10_000_000
    assert choose(now - 300, now) is SECOND
    assert choose(now - 3600, now) is SECOND
    assert choose(now - 3 * 3600, now) is TEN_SECONDS
    assert choose(now - 7 * 86400, now) is MINUTE
    assert choose(now - 90 * 86400, now) is MINUTE


@given(
    st.sampled_from([SECOND, TEN_SECONDS, MINUTE]),
    st.integers(0, 40 * 86400),
    st.one_of(st.none(), st.integers(1, 5000)),
    st.integers(2, 3000),
)
def test_planned_step_is_a_multiple_and_respects_the_cap(tier, width, step, cap):
    out = plan_step(tier, 1_000_000, 1_000_000 + width, step, cap)
    assert out % tier.step == 0 and out >= (step or 0)
    assert (1_000_000 + width) // out - 1_000_000 // out + 1 <= cap
