"""Rates and shares from cumulative counters: properties that must hold for any input."""

from __future__ import annotations

import math

from hypothesis import assume, given
from hypothesis import strategies as st

from hostpulse.rates import rate, share

_COUNTER = st.floats(min_value=0, max_value=2**64, allow_nan=False)
_ANY = st.floats(allow_nan=True, allow_infinity=True)
_ELAPSED = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(previous=st.none() | _ANY, current=_ANY, elapsed=_ANY)
def test_rate_is_none_or_finite_non_negative(previous, current, elapsed) -> None:
    r = rate(previous, current, elapsed)
    assert r is None or (math.isfinite(r) and r >= 0)


@given(current=_COUNTER, elapsed=_ELAPSED)
def test_rate_first_reading_is_none(current: float, elapsed: float) -> None:
    assert rate(None, current, elapsed) is None


@given(previous=_COUNTER, current=_COUNTER, elapsed=_ELAPSED)
def test_rate_wrap_is_none(previous: float, current: float, elapsed: float) -> None:
    assume(current < previous)
    assert rate(previous, current, elapsed) is None


@given(previous=_COUNTER, current=_COUNTER)
def test_rate_no_elapsed_is_none(previous: float, current: float) -> None:
    assert rate(previous, current, 0.0) is None
    assert rate(previous, current, -1.0) is None


@given(
    previous=_COUNTER,
    delta=st.floats(min_value=0, max_value=2**40, allow_nan=False),
    elapsed=st.floats(min_value=1e-3, max_value=1e6),
)
def test_rate_times_elapsed_is_delta(previous: float, delta: float, elapsed: float) -> None:
    current = previous + delta
    r = rate(previous, current, elapsed)
    assert r is not None
    assert math.isclose(r * elapsed, current - previous, rel_tol=1e-9, abs_tol=1e-9)


def test_rate_simple() -> None:
    assert rate(100, 300, 2.0) == 100.0
    assert rate(100, 100, 2.0) == 0.0


_PAIR = st.tuples(_ANY, _ANY)


@given(previous=st.none() | _PAIR, current=_PAIR)
def test_share_is_none_or_within_0_100(previous, current) -> None:
    s = share(previous, current)
    assert s is None or (math.isfinite(s) and 0 <= s <= 100)


@given(current=st.tuples(_COUNTER, _COUNTER))
def test_share_first_reading_is_none(current) -> None:
    assert share(None, current) is None


_INT = st.integers(min_value=0, max_value=2**53)


@given(part=_INT, whole=_INT, dpart=_INT, dwhole=_INT)
def test_share_wrap_or_idle_whole_is_none(part, whole, dpart, dwhole) -> None:
    assert share((part + dpart + 1, whole), (part, whole + dwhole)) is None
    assert share((part, whole), (part + dpart, whole)) is None


@given(
    part=st.floats(min_value=0, max_value=1e300),
    whole=st.floats(min_value=1e-300, max_value=1e300),
)
def test_share_is_clamped_and_exact(part: float, whole: float) -> None:
    s = share((0.0, 0.0), (part, whole))
    assert s is not None
    if part >= whole:
        assert s == 100.0
    else:
        assert math.isclose(s, 100 * (part / whole), rel_tol=1e-9, abs_tol=1e-300)


def test_share_simple() -> None:
    assert share((10, 100), (30, 200)) == 20.0
    assert share((10, 100), (10, 200)) == 0.0
