"""History's coarse tiers kept per key in chunks (history/chunks.py): a file written by the
first layout (packed rows only) keeps every point; answers are the same before and after
the rows move into chunks; rollups keep true extremes; retention drops old chunks."""

from __future__ import annotations

import json
import math
import random
import sqlite3
import sys
from array import array

import pytest

from hostpulse.history import History
from hostpulse.sample import Sample

DAY = 86400
NOW = 1_800_000_000 - 1_800_000_000 % DAY + 13 * 3600 + 17 * 60  # mid-day, mid-hour
KEYS = ["cpu.total", "mem.percent", "net.eth0.rx_bps", "disk.sda.busy"]

# The schema of the first layout (src/hostpulse/history/store.py at fc90c3f), written by
# hand here so this test keeps proving the upgrade whatever the store becomes.
OLD_SCHEMA = [
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE layouts (id INTEGER PRIMARY KEY, keys TEXT NOT NULL)",
    "CREATE TABLE t1 (ts INTEGER PRIMARY KEY, layout INTEGER NOT NULL, avg BLOB NOT NULL)",
    "CREATE TABLE t10 (ts INTEGER PRIMARY KEY, layout INTEGER NOT NULL,"
    " avg BLOB NOT NULL, min BLOB NOT NULL, max BLOB NOT NULL)",
    "CREATE TABLE t60 (ts INTEGER PRIMARY KEY, layout INTEGER NOT NULL,"
    " avg BLOB NOT NULL, min BLOB NOT NULL, max BLOB NOT NULL)",
]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def packed(values) -> bytes:
    return array("f", values).tobytes()


def bucket_values(rng: random.Random, ts: int, width: int):
    """avg, min, max of one bucket for ``width`` keys; a spike now and then, a gap too."""
    avg = [rng.random() * 100 for _ in range(width)]
    low = [v - rng.random() for v in avg]
    high = [v + rng.random() for v in avg]
    if ts % 7919 == 0:
        high[0] = 1e6  # a one-second spike: the max of every coarser bucket holding it
    if ts % 3001 == 0:
        avg[1] = low[1] = high[1] = math.nan  # a collector that failed that bucket
    return avg, low, high


def write_old_file(path, days: int = 3, seconds: bool = False) -> None:
    """Today's-code file: every tier's rows, two layouts (a key appears on the last day);
    with ``seconds``, ten minutes of 1 s rows too (their buckets are rebuilt from them)."""
    rng = random.Random(7)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN")
    for statement in OLD_SCHEMA:
        conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('byteorder', ?)", (sys.byteorder,))
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO layouts VALUES (1, ?)", (json.dumps(KEYS[:3]),))
    conn.execute("INSERT INTO layouts VALUES (2, ?)", (json.dumps(KEYS),))
    change = NOW - DAY + 1800
    for table, step, span in (("t60", 60, days * DAY), ("t10", 10, DAY)):
        first = NOW - span
        for ts in range(first - first % step, NOW - NOW % step, step):
            layout = 1 if ts < change else 2
            blobs = [packed(v) for v in bucket_values(rng, ts, 3 if layout == 1 else 4)]
            conn.execute(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)", (ts, layout, *blobs))
    for ts in range(NOW - 600, NOW) if seconds else ():
        conn.execute("INSERT INTO t1 VALUES (?, 2, ?)", (ts, packed([float(ts % 100)] * 4)))
    conn.execute("COMMIT")
    conn.close()


QUERIES = [
    # (since, until, step, max_points): 30 d style capped, 24 h, a past window, fine steps
    (-3 * DAY, None, None, 2000),
    (-3 * DAY, None, None, 10**6),
    (-DAY, None, None, 2000),
    (-DAY, None, None, 10**6),
    (-DAY + 3000, -DAY + 9000, 60, 10**6),
    (-2 * DAY - 999, -DAY, 300, 10**6),
    (-3 * DAY, None, 1800, 10**6),
    (-7200, None, 10, 10**6),
]


def answers(history: History) -> list[dict]:
    return [
        history.query(KEYS, since, until, step, max_points=cap)
        for since, until, step, cap in QUERIES
    ]


def same(a: list[dict], b: list[dict]) -> None:
    """Equal answers; a rollup's avg may differ in the 7th digit (it averages the trimmed
    1 min values, the rows' fold averages them untrimmed)."""
    for x, y in zip(a, b, strict=True):
        assert (x["step"], x["tier"], x["ts"]) == (y["step"], y["tier"], y["ts"])
        assert x["series"].keys() == y["series"].keys()
        for key, series in x["series"].items():
            other = y["series"][key]
            assert series["min"] == other["min"] and series["max"] == other["max"], key
            assert [v is None for v in series["avg"]] == [v is None for v in other["avg"]]
            assert [v for v in series["avg"] if v is not None] == pytest.approx(
                [v for v in other["avg"] if v is not None], rel=1e-6
            )


def test_a_file_of_the_first_layout_keeps_every_point_after_the_upgrade(tmp_path):
    path = tmp_path / "history.sqlite"
    write_old_file(path)
    clock = Clock(NOW)
    history = History(path, clock=clock, background=False)
    before = answers(history)  # read from the old rows as they are
    assert any(v is not None for v in before[0]["series"]["disk.sda.busy"]["avg"])
    ranges_before = history.key_ranges()
    history.flush()  # moves every sealed row into chunks
    same(answers(history), before)
    ranges = history.key_ranges()
    assert ranges == ranges_before
    assert ranges["cpu.total"] == (NOW - 3 * DAY, NOW - 10)
    assert ranges["disk.sda.busy"] == (NOW - DAY + 1800, NOW - 10)  # the layout it came with
    history.close()
    conn = sqlite3.connect(path)
    left = conn.execute("SELECT min(ts) FROM t60").fetchone()[0]
    chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    conn.close()
    assert left >= NOW - NOW % 3600 - 60 and chunks > 0  # only the last hour is rows
    again = History(path, clock=clock, background=False)
    same(answers(again), before)
    again.close()


def test_an_old_file_reloads_its_last_hour_at_one_second(tmp_path):
    path = tmp_path / "history.sqlite"
    write_old_file(path, days=1, seconds=True)
    history = History(path, clock=Clock(NOW), background=False)
    got = history.recent(["cpu.total"], 60)["series"]["cpu.total"]["avg"]
    history.close()
    assert got[-2] == float((NOW - 1) % 100) and got[0] == float((NOW - 60) % 100)


def test_the_answers_have_every_bucket_of_the_old_rows(tmp_path):
    """Not just self-consistent: the points come back as the rows had them."""
    path = tmp_path / "history.sqlite"
    write_old_file(path)
    conn = sqlite3.connect(path)
    want = {}
    for ts, avg, low, high in conn.execute(
        "SELECT ts, avg, min, max FROM t60 WHERE ts >= ? AND ts < ? AND layout = 2",
        (NOW - DAY + 3600, NOW - DAY + 7200),
    ):
        values = [array("f", b)[3] for b in (avg, low, high)]  # disk.sda.busy
        want[ts] = [float(f"{v:.7g}") if v == v else None for v in values]
    conn.close()
    history = History(path, clock=Clock(NOW), background=False)
    history.flush()
    got = history.query(["disk.sda.busy"], NOW - DAY + 3600, NOW - DAY + 7199, 60)
    history.close()
    series = got["series"]["disk.sda.busy"]
    held = {
        ts: [series["avg"][i], series["min"][i], series["max"][i]] for i, ts in enumerate(got["ts"])
    }
    assert held == want and len(want) == 60


def test_rollups_are_the_folded_minutes_with_true_extremes(tmp_path):
    path = tmp_path / "history.sqlite"
    write_old_file(path)
    history = History(path, clock=Clock(NOW), background=False)
    history.flush()
    coarse = history.query(["cpu.total"], -3 * DAY, None, 1800, max_points=10**6)
    fine = history.query(["cpu.total"], coarse["ts"][0], None, 60, max_points=10**6)
    history.close()
    minutes = fine["series"]["cpu.total"]
    for i, ts in enumerate(coarse["ts"][:-1]):
        part = [j for j, t in enumerate(fine["ts"]) if ts <= t < ts + 1800]
        avgs = [minutes["avg"][j] for j in part if minutes["avg"][j] is not None]
        got = {name: coarse["series"]["cpu.total"][name][i] for name in ("avg", "min", "max")}
        if not avgs:
            assert got == {"avg": None, "min": None, "max": None}
            continue
        assert got["avg"] == pytest.approx(sum(avgs) / len(avgs), rel=1e-6)
        assert got["min"] == min(minutes["min"][j] for j in part if minutes["min"][j] is not None)
        assert got["max"] == max(minutes["max"][j] for j in part if minutes["max"][j] is not None)
    assert 1e6 in coarse["series"]["cpu.total"]["max"]  # the spike survives 30 minutes


def test_a_capped_long_query_reads_a_rollup_one_to_one(tmp_path):
    path = tmp_path / "history.sqlite"
    write_old_file(path)
    history = History(path, clock=Clock(NOW), background=False)
    history.flush()
    got = history.query(KEYS, -3 * DAY, max_points=200)
    day = history.query(KEYS, -DAY, max_points=2000)
    history.close()
    assert got["step"] == 1800 and 100 <= len(got["ts"]) <= 200  # 3 d / 200 -> 1296 -> 1800
    assert day["step"] == 60 and day["tier"] == "10s"  # 24 h / 2000 -> 50 -> 60 (1 min)


def test_live_history_moves_rows_into_chunks_and_answers_the_same(tmp_path):
    clock = Clock(NOW - 3 * 3600)
    history = History(tmp_path / "h.sqlite", clock=clock, background=False)
    for i in range(3 * 3600):
        clock.now = NOW - 3 * 3600 + i
        history.add(Sample(i, clock.now, {"cpu.total": i % 97 / 7, "x.y": float(i % 13)}))
    keys = ["cpu.total", "x.y"]
    live = history.query(keys, -3 * 3600, None, 60)  # the last hour from trimmed memory
    history.close()  # also writes the open minute, which that answer had not yet
    again = History(tmp_path / "h.sqlite", clock=clock, background=False)
    from_file = again.query(keys, -3 * 3600, None, 60)  # the last hour from the file's rows
    again.flush()
    moved = again.query(keys, -3 * 3600, None, 60)  # all from chunks
    for key in keys:
        for part in ("avg", "min", "max"):
            assert from_file["series"][key][part][:-1] == live["series"][key][part][:-1]
            assert moved["series"][key][part] == from_file["series"][key][part]
    assert moved["series"]["x.y"]["max"][-1] == 12.0
    coarse = again.query(["x.y"], -3 * 3600, None, 1800)["series"]["x.y"]
    held = [i for i, v in enumerate(coarse["avg"]) if v is not None]
    assert len(held) >= 6
    assert {coarse["max"][i] for i in held} == {12.0} and {coarse["min"][i] for i in held} == {0.0}
    ranges = again.key_ranges()
    assert ranges["cpu.total"][0] == NOW - 3 * 3600 and ranges["cpu.total"][1] == NOW - 1
    again.close()


def test_retention_drops_chunks_past_the_span(tmp_path):
    path = tmp_path / "history.sqlite"
    write_old_file(path, days=3)
    clock = Clock(NOW)
    history = History(path, clock=clock, background=False, retention_seconds=0)
    history.flush()
    clock.now = NOW + 30 * DAY - DAY  # the oldest day is now past 30 days
    history.add(Sample(0, clock.now, {"cpu.total": 1.0}))
    history.flush()
    history.close()
    conn = sqlite3.connect(path)
    oldest = conn.execute("SELECT min(start) FROM chunks WHERE step = 60").fetchone()[0]
    tens = conn.execute("SELECT count(*) FROM chunks WHERE step = 10").fetchone()[0]
    conn.close()
    assert oldest >= clock.now - 30 * DAY - DAY  # at most one chunk older than the span
    assert tens == 0  # 10 s chunks end a day after their last bucket
