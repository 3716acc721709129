"""Property tests of the arithmetic: bucket aggregates and query downsampling."""

from __future__ import annotations

import math
from array import array

from hypothesis import given
from hypothesis import strategies as st

from hostpulse.history.aggregate import NAN, bucket, downsample, finish, fold, to_row
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


def test_fold_groups_averages_and_extremes_and_skips_gaps():
    nan = float("nan")
    avg = [1.0, 3.0, nan, 5.0, nan, nan]
    low = [0.5, 2.0, nan, 4.0, nan, nan]
    high = [1.5, 9.0, nan, 6.0, nan, nan]
    a, lo, hi = fold(avg, low, high, 2)
    assert a == [2.0, 5.0, a[2]] and a[2] != a[2]
    assert lo[:2] == [0.5, 4.0] and hi[:2] == [9.0, 6.0]
    assert lo[2] != lo[2] and hi[2] != hi[2]
    assert fold(avg, low, high, 1) == (avg, low, high)


def test_finish_trims_or_keeps_and_turns_nan_into_none():
    nan = float("nan")
    raw = [nan, 2.4000000953674316, nan, 3.0, nan]
    assert finish(raw, trim=True) == [None, 2.4, None, 3.0, None]
    assert finish([nan, 2.4, nan, 3.0, nan], trim=False) == [None, 2.4, None, 3.0, None]
    clean = [1.0, 2.0]
    assert finish(clean, trim=False) is clean  # nothing to replace: no copy
    assert finish([float("inf"), float("-inf")], trim=False) == [float("inf"), float("-inf")]


@given(st.lists(maybe, min_size=1, max_size=60), st.integers(1, 6))
def test_fold_agrees_with_downsample(values, k):
    """The C-speed fold of dense lists is the point-by-point downsample of the same data."""
    values = values + [None] * (-len(values) % k)
    dense = [NAN if v is None else v for v in values]
    low = [NAN if v is None else v - 1 for v in values]
    high = [NAN if v is None else v + 2 for v in values]
    rows = enumerate(zip(dense, low, high, strict=True))
    points = [(i, v, lo, hi) for i, (v, lo, hi) in rows if v == v]
    want = downsample(points, 0, k, len(values) // k)
    got = [finish(part, trim=False) for part in fold(dense, low, high, k)]
    assert got[1] == want["min"] and got[2] == want["max"]
    assert [v is None for v in got[0]] == [v is None for v in want["avg"]]
    for a, b in zip(got[0], want["avg"], strict=True):
        assert a is None or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
