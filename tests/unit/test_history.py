"""Behaviour of History: tiers, gaps, key changes, clock steps, persistence, retention."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

import pytest

from hostpulse.history import History
from hostpulse.sample import Sample

T0 = 1_800_000_000  # a whole minute: buckets line up with the samples below
HOUR = 3600


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def feed(history: History, clock: Clock, start: float, seconds: int, values=None) -> None:
    """One sample per second; values(t) -> dict, default cpu.total = seconds since T0."""
    for i in range(seconds):
        ts = start + i
        clock.now = ts
        history.add(Sample(i, ts, values(ts) if values else {"cpu.total": float(ts - T0)}))


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_recent_returns_the_last_seconds_at_one_second(clock):
    history = History(clock=clock)
    feed(history, clock, T0, 400)
    got = history.recent(["cpu.total"], seconds=300)
    assert got["step"] == 1 and got["tier"] == "1s"
    assert got["ts"][-1] == T0 + 399 and len(got["ts"]) == 301
    assert got["series"]["cpu.total"]["avg"][-3:] == [397.0, 398.0, 399.0]
    assert got["series"]["cpu.total"]["min"] == got["series"]["cpu.total"]["avg"]


def test_a_gap_stays_none_in_every_tier(clock):
    history = History(clock=clock)
    feed(history, clock, T0, 60)
    feed(history, clock, T0 + 120, 60)  # the process was down for a minute
    fine = history.query(["cpu.total"], T0, T0 + 179)["series"]["cpu.total"]["avg"]
    assert fine[59] == 59.0 and fine[60:120] == [None] * 60 and fine[120] == 120.0
    history.flush()
    clock.now += 2 * HOUR  # out of the 1 s tier: the 10 s tier answers
    got = history.query(["cpu.total"], T0, T0 + 179)
    assert got["tier"] == "10s"
    assert got["series"]["cpu.total"]["avg"][6:12] == [None] * 6
    assert got["series"]["cpu.total"]["avg"][:2] == [4.5, 14.5]


def test_coarse_buckets_hold_mean_min_and_max_of_the_samples(clock):
    history = History(clock=clock)
    feed(history, clock, T0, 180, lambda ts: {"v": float((ts - T0) % 7)})
    history.flush()
    clock.now += 3 * 86400
    got = history.query(["v"], T0, T0 + 179)
    assert got["tier"] == "1min" and got["step"] == 60
    samples = [float(i % 7) for i in range(60)]
    series = got["series"]["v"]
    assert series["avg"][0] == pytest.approx(sum(samples) / 60)
    assert (series["min"][0], series["max"][0]) == (0.0, 6.0)


def test_finest_tier_that_covers_the_range(clock):
    history = History(clock=clock)
    feed(history, clock, T0, 30)
    assert history.query(["cpu.total"], -300)["tier"] == "1s"
    assert history.query(["cpu.total"], -2 * HOUR)["tier"] == "10s"
    assert history.query(["cpu.total"], -3 * 86400)["tier"] == "1min"


def test_step_downsamples_and_the_point_cap_raises_it(clock):
    history = History(clock=clock, max_points=100)
    feed(history, clock, T0, HOUR)
    got = history.query(["cpu.total"], -HOUR + 1)
    assert len(got["ts"]) <= 100 and got["step"] >= 36
    coarse = history.query(["cpu.total"], T0, T0 + 599, step=300, max_points=1000)
    assert coarse["step"] == 300 and coarse["ts"] == [T0, T0 + 300]
    assert coarse["series"]["cpu.total"]["avg"] == [149.5, 449.5]
    assert coarse["series"]["cpu.total"]["max"] == [299.0, 599.0]


def test_jittered_ticks_fill_consecutive_seconds(clock):
    history = History(clock=clock)
    for i, ts in enumerate([T0 + 0.49, T0 + 1.51, T0 + 2.5, T0 + 3.45, T0 + 4.6]):
        history.add(Sample(i, ts, {"v": float(i)}))
    clock.now = T0 + 10
    got = history.query(["v"], T0, T0 + 4)["series"]["v"]["avg"]
    assert got == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_clock_stepping_back_drops_samples_until_time_passes_the_newest(clock):
    history = History(clock=clock)
    feed(history, clock, T0, 20)
    history.add(Sample(99, T0 + 5, {"cpu.total": -1.0}))  # clock stepped back 15 s
    history.add(Sample(100, T0 + 19, {"cpu.total": -1.0}))  # duplicate second
    assert history.dropped == 2
    history.add(Sample(101, T0 + 20, {"cpu.total": 20.0}))
    got = history.query(["cpu.total"], T0, T0 + 20)["series"]["cpu.total"]["avg"]
    assert got == [float(i) for i in range(21)]


def test_key_set_changing_over_time(clock):
    history = History(clock=clock)
    # An interface x appears at +25 s; at +55 s eth0 vanishes and the dict order changes.
    feed(history, clock, T0, 25, lambda ts: {"a": 1.0, "eth0": 2.0})
    feed(history, clock, T0 + 25, 30, lambda ts: {"a": 1.0, "eth0": 2.0, "x": 3.0})
    feed(history, clock, T0 + 55, 25, lambda ts: {"x": 3.0, "a": 5.0})
    keys = ["a", "eth0", "x"]
    fine = history.query(keys, T0, T0 + 79)["series"]
    assert fine["x"]["avg"][24:26] == [None, 3.0]
    assert fine["eth0"]["avg"][54:56] == [2.0, None]
    assert fine["a"]["avg"][54:56] == [1.0, 5.0]
    history.flush()
    clock.now += 2 * HOUR
    coarse = history.query(keys, T0, T0 + 79)["series"]  # 10 s buckets span the changes
    assert coarse["x"]["avg"][:4] == [None, None, 3.0, 3.0]
    assert coarse["eth0"]["avg"][5:7] == [2.0, None]
    assert coarse["a"]["avg"][5:7] == [pytest.approx(3.0), 5.0]
    assert coarse["a"]["min"][5] == 1.0 and coarse["a"]["max"][5] == 5.0


def test_restart_keeps_every_tier(tmp_path, clock):
    path = tmp_path / "data" / "history.db"
    history = History(path, clock=clock)
    feed(history, clock, T0, 200)
    history.close()
    again = History(path, clock=clock)
    assert again.path == str(path)
    fine = again.query(["cpu.total"], T0, T0 + 199)["series"]["cpu.total"]["avg"]
    assert fine == [float(i) for i in range(200)]
    # The run continues where it stopped, and the 1 min bucket the restart cut is rebuilt.
    feed(again, clock, T0 + 200, 100)
    again.close()
    clock.now += 3 * 86400
    third = History(path, clock=clock)
    got = third.query(["cpu.total"], T0, T0 + 299)["series"]["cpu.total"]["avg"]
    assert got == [29.5, 89.5, 149.5, 209.5, 269.5]


def test_garbage_file_is_set_aside_with_an_error_and_a_new_one_works(tmp_path, clock, caplog):
    path = tmp_path / "history.db"
    path.write_bytes(b"this is not a database, just garbage " * 200)
    with caplog.at_level(logging.ERROR, logger="hostpulse.history"):
        history = History(path, clock=clock)
    messages = [r.getMessage() for r in caplog.records if r.name == "hostpulse.history"]
    assert any(str(path) in m and "not a database" in m for m in messages)
    aside = list(tmp_path.glob("history.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not")
    assert history.path == str(path)
    feed(history, clock, T0, 30)
    history.close()
    got = History(path, clock=clock).query(["cpu.total"], T0, T0 + 29)
    assert got["series"]["cpu.total"]["avg"][-1] == 29.0


def test_wrong_schema_version_is_set_aside(tmp_path, clock, caplog):
    path = tmp_path / "history.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE other (x)")
        conn.execute("PRAGMA user_version = 7")
    with caplog.at_level(logging.ERROR, logger="hostpulse.history"):
        history = History(path, clock=clock)
    assert any("schema version 7" in r.getMessage() for r in caplog.records)
    assert len(list(tmp_path.glob("history.db.corrupt-*"))) == 1
    feed(history, clock, T0, 5)
    assert history.recent(["cpu.total"], 5)["series"]["cpu.total"]["avg"][-1] == 4.0


def test_a_path_that_cannot_be_opened_falls_back_to_memory(tmp_path, clock, monkeypatch, caplog):
    # Root ignores file modes, so "permission denied" is faked at the connect call.
    real = sqlite3.connect

    def denied(target, *args, **kwargs):
        if target != ":memory:":
            raise sqlite3.OperationalError("unable to open database file: permission denied")
        return real(target, *args, **kwargs)

    monkeypatch.setattr("hostpulse.history.store.sqlite3.connect", denied)
    path = tmp_path / "history.db"
    with caplog.at_level(logging.ERROR, logger="hostpulse.history"):
        history = History(path, clock=clock)
    assert history.path is None
    assert any(
        str(path) in r.getMessage() and "permission" in r.getMessage() for r in caplog.records
    )
    feed(history, clock, T0, 5)
    assert history.recent(["cpu.total"], 5)["series"]["cpu.total"]["avg"][-1] == 4.0


def test_memory_only_writes_no_file(tmp_path, clock, monkeypatch):
    monkeypatch.chdir(tmp_path)
    history = History(clock=clock)
    feed(history, clock, T0, 100)
    history.flush()
    clock.now += 2 * HOUR
    assert history.query(["cpu.total"], T0, T0 + 99)["series"]["cpu.total"]["avg"][0] == 4.5
    history.close()
    assert history.path is None and list(tmp_path.iterdir()) == []


def test_retention_deletes_what_a_tier_no_longer_covers(tmp_path, clock):
    path = tmp_path / "history.db"
    history = History(path, clock=clock, retention_seconds=0)
    feed(history, clock, T0, 120)
    history.flush()
    feed(history, clock, T0 + 31 * 86400, 120)  # a month later
    history.close()
    with sqlite3.connect(path) as conn:
        oldest = {
            t: conn.execute(f"SELECT min(ts) FROM {t}").fetchone()[0] for t in ("t1", "t10", "t60")
        }
    assert oldest == {"t1": T0 + 31 * 86400, "t10": T0 + 31 * 86400, "t60": T0 + 31 * 86400}


@pytest.mark.parametrize("background", [True, False])
def test_batches_are_written_without_flush(tmp_path, clock, background):
    path = tmp_path / "history.db"
    history = History(path, clock=clock, batch_seconds=10, background=background)
    feed(history, clock, T0, 25)

    def written() -> dict[str, int]:
        with sqlite3.connect(path) as conn:
            return {
                t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("t1", "t10")
            }

    deadline = time.monotonic() + 5  # the writer thread runs on its own time
    while written()["t1"] < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    got = written()
    assert 10 <= got["t1"] <= 25 and 1 <= got["t10"] <= 2
    if not background:  # inline: exactly the batches due so far, the open one still pending
        assert got["t1"] < 25
    history.close()


def test_add_and_query_interleave_across_threads(clock):
    history = History(clock=clock, batch_seconds=5)
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(200):
                history.query(["cpu.total"], T0, T0 + 600, step=10)
        except BaseException as exc:  # surfaced in the assert below
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    feed(history, clock, T0, 600)
    thread.join()
    assert errors == []


@pytest.mark.parametrize("interval", [0.25, 0.5, 0.8, 1.0, 1.3, 2.0])
def test_any_sampler_interval_keeps_time_order_without_drift_or_drops(interval):
    history = History(None, background=False)
    t0 = 1_800_000_000.37
    for n in range(200):
        history.add(Sample(n, t0 + n * interval, {"cpu.total": float(n)}))
    assert history.dropped == 0
    assert history._last_slot is not None
    # the newest stored second is within a second of the newest sample's time
    assert abs(history._last_slot - (t0 + 199 * interval)) < 1.0
    end = t0 + 199 * interval
    got = history.query(["cpu.total"], since=end - 30, until=end, step=1)
    values = [v for v in got["series"]["cpu.total"]["avg"] if v is not None]
    assert values == sorted(values)  # time order kept
    if interval <= 1.0:  # one sample per second or faster: no false gaps
        assert None not in got["series"]["cpu.total"]["avg"][1:-1]


def test_unknown_keys_and_the_span_each_key_holds(clock):
    history = History(clock=clock)
    feed(
        history, clock, T0, 120, lambda ts: {"a.x": 1.0, **({"b.y": 2.0} if ts >= T0 + 60 else {})}
    )
    history.flush()
    assert history.unknown_keys(["b.y", "a.z", "a.x", "c"]) == ["a.z", "c"]
    ranges = history.key_ranges()
    assert ranges["a.x"] == (T0, T0 + 119)
    assert ranges["b.y"] == (T0 + 60, T0 + 119)
    clock.now += 2 * HOUR  # the ring moved on in time: the coarse tiers still hold them
    feed(history, clock, clock.now, 1, lambda ts: {"a.x": 1.0})
    history.flush()
    ranges = history.key_ranges()
    assert ranges["b.y"] == (T0 + 60, T0 + 110)  # its newest 10 s bucket
    assert ranges["a.x"] == (T0, clock.now)


def test_key_ranges_survive_a_restart(clock, tmp_path):
    history = History(tmp_path / "h.sqlite", clock=clock, background=False)
    feed(history, clock, T0, 90)
    history.close()
    again = History(tmp_path / "h.sqlite", clock=clock, background=False)
    assert again.unknown_keys(["cpu.total", "mem.total"]) == ["mem.total"]
    assert again.key_ranges()["cpu.total"] == (T0, T0 + 89)
    again.close()


def test_queries_while_the_writer_moves_rows_into_chunks_see_every_minute_once(clock):
    """The writer thread moves sealed hours into chunks while another thread queries: each
    answer has every closed minute, with the mean of its seconds, never a hole or a double."""
    history = History(clock=clock, batch_seconds=15)
    errors: list[BaseException] = []
    done = threading.Event()
    answers = []

    def reader() -> None:
        try:
            while not done.is_set():
                answers.append(history.query(["cpu.total"], T0, T0 + 3 * HOUR, step=60))
                time.sleep(0.005)
        except BaseException as exc:  # surfaced in the assert below
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    # Ten minutes at a time, letting the writer aggregate them: it builds a closed bucket from
    # the 1 s ring, which keeps one hour, and a feed this fast could outrun it by more.
    for first in range(0, int(2.5 * HOUR), 600):
        feed(history, clock, T0 + first, 600)
        deadline = time.monotonic() + 10
        while history._due and time.monotonic() < deadline:
            history._writer.wake()  # the last buckets closed after the writer's last wake-up
            time.sleep(0.002)
    history.flush()
    done.set()
    thread.join()
    # Asked after the reader stopped: a reader's answer may land after it otherwise.
    final = history.query(["cpu.total"], T0, T0 + 3 * HOUR, step=60)
    assert errors == [] and len(answers) > 3
    for got in [*answers, final]:
        avg = got["series"]["cpu.total"]["avg"]
        held = [i for i, v in enumerate(avg) if v is not None]
        assert held == list(range(len(held)))  # from T0 on, no hole
        assert all(avg[i] == i * 60 + 29.5 for i in held)
    assert len(held) == 150  # the final answer: all 2.5 hours
    moved = history._store._rconn.execute("SELECT count(*) FROM chunks WHERE step = 60")
    assert moved.fetchone()[0] == 1  # the first two hours are in the day's chunk now
