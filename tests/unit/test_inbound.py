"""What a worker accepts from Redis (remote/inbound.py): bad fields and entries are dropped,
counted and logged once per host and cause; good ones pass untouched."""

from __future__ import annotations

import logging

import pytest

from hostpulse.remote.inbound import MAX_SKEW_SECONDS, Boundary, finite
from hostpulse.sample import Sample

NOW = 1_800_000_000.0


def boundary() -> Boundary:
    return Boundary(clock=lambda: NOW)


def sample(values, ts=NOW, seq=1) -> Sample:
    return Sample(seq=seq, ts=ts, values=values)


@pytest.mark.parametrize(
    "value", ["90", float("nan"), float("inf"), 10**400, 1e300, True, [1], {"a": 1}]
)
def test_a_bad_value_is_dropped_and_the_good_ones_kept(value):
    b = boundary()
    clean = b.sample("web-1", sample({"cpu.total": value, "mem.used": 5, "load.1": None}))
    assert clean.values == {"mem.used": 5.0, "load.1": None}
    assert b.rejected == {"a sample value that is no finite number": 1}


def test_fields_that_are_no_metric_key_are_dropped():
    b = boundary()
    clean = b.sample("web-1", sample({"nodot": 1, "a..b": 2, "cpu.total": 3, 7: 4}))
    assert clean.values == {"cpu.total": 3.0}
    assert b.rejected["a sample field that is no metric key"] == 3


@pytest.mark.parametrize(
    ("ts", "seq"),
    [(NOW + MAX_SKEW_SECONDS + 1, 1), (NOW - 40 * 86400, 1), (float("nan"), 1), (NOW, -1),
     (NOW, True), ("x", 1)],
)  # fmt: skip
def test_a_sample_at_an_impossible_time_or_seq_is_dropped_whole(ts, seq):
    b = boundary()
    assert b.sample("web-1", sample({"cpu.total": 1}, ts=ts, seq=seq)) is None
    assert sum(b.rejected.values()) == 1


def test_a_sample_a_little_ahead_or_from_yesterday_passes():
    b = boundary()
    assert b.sample("web-1", sample({"cpu.total": 1}, ts=NOW + 5)) is not None
    assert b.sample("web-1", sample({"cpu.total": 1}, ts=NOW - 86400)) is not None
    assert not b.rejected


def test_each_cause_is_logged_once_per_host(caplog):
    b = boundary()
    with caplog.at_level(logging.WARNING, "hostpulse.reader"):
        for _ in range(5):
            b.sample("web-1", sample({"cpu.total": "x"}))
            b.sample("web-2", sample({"cpu.total": "x"}))
    assert len(caplog.records) == 2
    assert "web-1" in caplog.records[0].getMessage()
    assert b.rejected["a sample value that is no finite number"] == 10


def test_host_ids_that_are_not_utf8_or_break_the_rule_are_skipped():
    b = boundary()
    assert b.host_ids([b"web-1", b"\xff\xfe", b"has space", b"a/b", b"", b"web-2"]) == [
        "web-1",
        "web-2",
    ]
    assert sum(b.rejected.values()) == 4


@pytest.mark.parametrize(
    "raw", [b"[1, 2]", b"not json", b'"text"', b"{" + b'"a": "' + b"x" * 70_000 + b'"}']
)
def test_facts_must_be_a_small_object(raw):
    b = boundary()
    assert b.facts("web-1", raw) is None
    assert b.facts("web-1", b'{"hostname": "web-1", "cpus": 4}') == {"hostname": "web-1", "cpus": 4}


@pytest.mark.parametrize("raw", [b"[]", b'{"ts": "soon"}', b"5", b"{", b'{"ts": 1e999}'])
def test_a_conflict_of_the_wrong_type_is_ignored(raw):
    assert boundary().conflict("web-1", raw) is None


def test_a_good_conflict_passes():
    assert boundary().conflict("web-1", b'{"ts": 5, "by": "x"}') == {"ts": 5, "by": "x"}


@pytest.mark.parametrize("raw", [b"0", b"-1", b"nan", b"inf", b"abc", b"100000"])
def test_an_interval_out_of_range_is_ignored(raw):
    assert boundary().interval("web-1", raw) is None


def test_process_rows_of_the_wrong_shape_are_dropped():
    good = {"pid": 1, "name": "init", "user": None, "cpu": 0.5, "rss": 10,
            "mem_percent": None, "state": "S", "cmd": None}  # fmt: skip
    bad = [
        1,
        {**good, "pid": "1"},
        {**good, "cpu": float("inf")},
        {**good, "name": ["x"]},
        {**good, "cmd": "x" * 5000},
    ]
    b = boundary()
    assert b.rows("web-1", [good, *bad, {**good, "extra": "dropped"}]) == [good, good]
    assert b.rejected["a process row of the wrong shape"] == len(bad)
    with_gpu = {**good, "gpu_mem": 1 << 30}  # only where NVML gives it
    assert b.rows("web-1", [with_gpu, {**good, "gpu_mem": "1G"}]) == [with_gpu]


def test_finite():
    assert finite(3) == 3.0 and finite(-2.5) == -2.5
    assert finite(None) is None and finite(False) is None and finite(10**19) is None
