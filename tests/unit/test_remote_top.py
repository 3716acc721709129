"""Top-process tables of remote hosts without Redis: the agent's entry (wire.encode_top),
what the worker accepts (inbound.Boundary.process_table), the worker's process_cmdline, and
the publisher putting one entry per table in its backlog."""

from __future__ import annotations

import json

import pytest

from hostpulse.collect import topprocs
from hostpulse.remote import wire
from hostpulse.remote.inbound import MAX_TOP_ROWS, Boundary
from hostpulse.remote.publisher import Publisher
from hostpulse.sample import Sample

NOW = 1_800_000_000.0
ROW = {"pid": 42, "name": "pg_dump", "user": "postgres", "cpu": 97.5, "rss": 5 << 20,
       "cmd": "pg_dump -Fc shop"}  # fmt: skip


def boundary() -> Boundary:
    return Boundary(clock=lambda: NOW)


def entry(data) -> dict:
    return {b"t": b"p", b"d": json.dumps(data).encode()}


def test_a_table_round_trips_through_the_boundary():
    idle = {**ROW, "pid": 1, "cpu": 0, "name": "init", "cmd": ""}
    fields = {k.encode(): v.encode() for k, v in wire.encode_top(NOW, [idle, ROW]).items()}
    kind, data = wire.decode(fields)
    b = boundary()
    moment = b.process_table("web-1", data)
    assert kind == "p" and moment.ts == NOW
    assert moment.rows == (ROW, idle)  # sorted by cpu
    assert not b.rejected


@pytest.mark.parametrize(
    "change",
    [
        {"pid": "42"}, {"pid": True}, {"pid": -1}, {"name": None}, {"user": None},
        {"cpu": "high"}, {"cpu": float("nan")}, {"cpu": -1.0}, {"cpu": 1e300},
        {"rss": 1.5}, {"rss": -5}, {"cmd": None}, {"cmd": "x" * 5000},
    ],
)  # fmt: skip
def test_a_bad_row_alone_is_dropped_and_counted(change):
    b = boundary()
    moment = b.process_table("web-1", {"ts": NOW, "rows": [{**ROW, **change}, ROW]})
    assert moment.rows == (ROW,)
    assert b.rejected == {"a process-table row of the wrong shape": 1}


def test_a_row_missing_a_field_and_a_row_that_is_no_object_are_dropped():
    b = boundary()
    missing = {k: v for k, v in ROW.items() if k != "user"}
    moment = b.process_table("web-1", {"ts": NOW, "rows": [missing, [1, 2], "x", ROW]})
    assert moment.rows == (ROW,)
    assert b.rejected["a process-table row of the wrong shape"] == 3


@pytest.mark.parametrize(
    "data",
    [
        {"rows": [ROW]},
        {"ts": "now", "rows": [ROW]},
        {"ts": NOW, "rows": {"0": ROW}},
        {"ts": NOW},
        {"ts": NOW, "rows": [ROW] * (MAX_TOP_ROWS + 1)},
        {"ts": NOW + 3600, "rows": [ROW]},
        {"ts": NOW - 40 * 86400, "rows": [ROW]},
    ],
)
def test_a_table_that_cannot_be_used_is_refused_whole(data):
    b = boundary()
    assert b.process_table("web-1", data) is None
    assert sum(b.rejected.values()) == 1


def test_entries_that_are_no_object_are_not_tables():
    assert wire.decode({b"t": b"p", b"d": b"[1, 2]"}) is None
    assert wire.decode({b"t": b"p", b"d": b"{"}) is None
    assert wire.decode(entry({"ts": NOW, "rows": []})) == ("p", {"ts": NOW, "rows": []})


def test_the_workers_process_cmdline_applies():
    long = {**ROW, "cmd": "java " + "-D" * 100}
    assert topprocs.restrict([long], "name") == [{**long, "cmd": ""}]
    (cut,) = topprocs.restrict([long], "truncated")
    assert len(cut["cmd"]) == 120 and cut["cmd"].endswith("…")
    assert topprocs.restrict([long], "full") == [long]
    hidden = {**ROW, "cmd": ""}  # an agent with process_cmdline = name sent none
    assert topprocs.restrict([hidden], "full") == [hidden]


def test_the_publisher_queues_a_table_after_its_sample():
    publisher = Publisher("redis://127.0.0.1:1/0", "web-1", interval=1.0)
    publisher.on_sample(Sample(1, NOW, {"cpu.total": 1.0}))
    publisher.on_sample(Sample(2, NOW + 1, {}, tables={topprocs.TABLE: {"rows": [ROW]}}))
    kinds = [e["t"] for _, e, _ in publisher.backlog.peek(10)]
    assert kinds == ["s", "s", "p"]
    _, last, _ = publisher.backlog.peek(10)[-1]
    assert json.loads(last["d"]) == {"ts": NOW + 1, "rows": [ROW]}
