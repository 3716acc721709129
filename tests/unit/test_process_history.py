"""Top-process tables kept with the history (history/processes.py): at() is the nearest at
or before, the 1-minute table is the minute's busiest, retention, restart, the shared file."""

from __future__ import annotations

import sqlite3

from hostpulse.history import History
from hostpulse.history.processes import ProcessHistory, ProcessMoment
from hostpulse.sample import Sample

T0 = 1_800_000_000.0  # a minute boundary (divisible by 60)


def row(pid: int, cpu: float, name: str = "", rss: int = 4096) -> dict:
    return {"pid": pid, "name": name or f"p{pid}", "user": "root", "cpu": cpu, "rss": rss,
            "cmd": f"/usr/bin/p{pid} --serve"}  # fmt: skip


def moment(ts: float, *cpus: float) -> ProcessMoment:
    return ProcessMoment.of(ts, [row(pid, cpu) for pid, cpu in enumerate(cpus, 1)])


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_at_is_the_nearest_table_at_or_before():
    store = ProcessHistory(background=False, clock=Clock(T0 + 60))
    assert store.at(T0 + 100) is None  # nothing yet
    for i in range(3):
        store.add(moment(T0 + 10 * i + 0.4, 10.0 * i))
    assert store.at(T0) is None  # before the first table
    assert store.at(T0 + 0.4).ts == T0 + 0.4  # exactly at
    assert store.at(T0 + 19.9).ts == T0 + 10.4
    assert store.at(T0 + 10_000).ts == T0 + 20.4  # the newest, however long after
    assert store.at(float("nan")) is None
    assert store.at(1e300).ts == T0 + 20.4 and store.at(-1e300) is None


def test_a_table_is_found_at_its_own_time_held_or_stored(tmp_path):
    store = ProcessHistory(tmp_path / "h.sqlite", background=False)
    ts = T0 + 0.123456789
    store.add(moment(ts, 1.0))
    found = store.at(ts)
    assert found.ts == round(ts, 3)  # to the millisecond
    assert store.at(found.ts) == found  # its own time, as the API hands it out, finds it
    store.close()
    again = ProcessHistory(tmp_path / "h.sqlite", background=False)
    assert again.at(found.ts) == found


def test_rows_come_back_as_stored_sorted_by_cpu():
    store = ProcessHistory(background=False)
    rows = [row(1, 3.0), row(2, 250.5, name="pg_dump"), row(3, 3.0, rss=8192)]
    store.add(ProcessMoment.of(T0, rows))
    got = store.at(T0 + 5)
    assert [r["pid"] for r in got.rows] == [2, 3, 1]  # cpu, then rss, highest first
    assert got.rows[0] == row(2, 250.5, name="pg_dump")


def test_the_minute_keeps_its_busiest_table_with_its_own_time(tmp_path):
    clock = Clock(T0)
    store = ProcessHistory(tmp_path / "h.sqlite", background=False, clock=clock)
    for i, cpus in enumerate([(5, 5), (90, 1), (30, 30), (2,), (40, 40), (1,)]):
        store.add(moment(T0 + 10 * i + 1, *cpus))  # summed: 10, 91, 60, 2, 80, 1
    store.add(moment(T0 + 61, 1.0))  # the next minute closes the first
    store.close()
    with sqlite3.connect(tmp_path / "h.sqlite") as db:
        assert db.execute("SELECT minute, ms FROM proc60 ORDER BY minute").fetchall() == [
            (int(T0), (T0 + 11) * 1000),
            (int(T0) + 60, (T0 + 61) * 1000),
        ]
    # Past the 10 s tables' 24 h only the minute's busiest answers.
    clock.now = T0 + 2 * 86400
    old = ProcessHistory(tmp_path / "h.sqlite", background=False, clock=clock)
    old.add(moment(clock.now, 1.0))  # a write, so retention runs
    assert old.at(T0 + 59).ts == T0 + 11
    assert old.at(T0 + 59).busy == 91
    assert old.at(T0 + 10) is None  # before the busiest table of that minute: none kept


def test_an_open_minute_competes_after_a_restart(tmp_path):
    path = tmp_path / "h.sqlite"
    store = ProcessHistory(path, background=False)
    store.add(moment(T0 + 1, 50.0))
    store.close()  # the open minute written as it stood
    again = ProcessHistory(path, background=False)
    again.add(moment(T0 + 11, 20.0))  # same minute, less busy
    again.add(moment(T0 + 21, 70.0))  # same minute, busier
    again.add(moment(T0 + 1, 99.0))  # not newer than what is stored: ignored
    again.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT ms FROM proc60").fetchall() == [((T0 + 21) * 1000,)]
        assert db.execute("SELECT count(*) FROM proc10").fetchone() == (3,)


def test_retention_keeps_24_hours_of_10_s_and_30_days_of_minutes(tmp_path):
    clock = Clock(T0)
    store = ProcessHistory(tmp_path / "h.sqlite", background=False, clock=clock)
    for ts in (T0, T0 + 3600, T0 + 86400, T0 + 20 * 86400):
        clock.now = ts
        store.add(moment(ts, 1.0))
    clock.now = T0 + 30 * 86400 + 600  # the first minute is now older than 30 days
    store.add(moment(clock.now, 1.0))
    store.close()
    with sqlite3.connect(tmp_path / "h.sqlite") as db:
        ten = [ms / 1000 for (ms,) in db.execute("SELECT ms FROM proc10 ORDER BY ms")]
        minutes = [m for (m,) in db.execute("SELECT minute FROM proc60 ORDER BY minute")]
    assert ten == [clock.now]
    assert minutes == [T0 + 3600, T0 + 86400, T0 + 20 * 86400, clock.now // 60 * 60]


def test_it_shares_the_metric_history_file(tmp_path):
    path = tmp_path / "history.sqlite"
    history = History(path, background=False)
    store = ProcessHistory(history.path, background=False)
    history.add(Sample(seq=0, ts=T0, values={"cpu.total": 1.0}))
    store.on_sample(Sample(0, T0, {}, tables={"top_processes": {"rows": [row(1, 5.0)]}}))
    store.on_sample(Sample(1, T0 + 1, {}, tables={}))  # a tick without a table: nothing
    store.close()
    history.close()
    # Both reopen: the metric history accepts the file with our tables in it.
    again = History(path, background=False)
    assert again.path == str(path)
    assert ProcessHistory(again.path, background=False).at(T0 + 9).rows[0]["pid"] == 1


def test_the_writer_thread_writes_and_queries_see_pending(tmp_path):
    store = ProcessHistory(tmp_path / "h.sqlite")
    store.add(moment(T0, 5.0))
    assert store.at(T0).ts == T0  # pending or written: seen either way
    store.close()
    assert ProcessHistory(tmp_path / "h.sqlite", background=False).at(T0).ts == T0


def test_an_unusable_file_means_memory_only(tmp_path, caplog):
    store = ProcessHistory(tmp_path / "missing-dir" / "h.sqlite", background=False)
    assert store.path is None
    store.add(moment(T0, 5.0))
    assert store.at(T0 + 1).ts == T0
    assert "keeping memory only" in caplog.text
