"""The 10 s top-process table (collect/topprocs.py) against a fake process source: which
processes are selected, their CPU %, the period, what is read only for the selected ones;
and once against the real /proc."""

from __future__ import annotations

import time

from hostpulse.collect.procsource import ProcStat
from hostpulse.collect.topprocs import TABLE, TopProcesses
from hostpulse.config import Settings
from hostpulse.local import build_sampler
from proc_support import MARK, start_burner


class World:
    """Processes the test sets by hand; start times and the clock in seconds."""

    def __init__(self) -> None:
        self.procs: dict[int, ProcStat] = {}
        self.now_s = 1000.0  # the collector's clock and the source's "since boot" alike
        self.detail_reads: list[int] = []

    def add(self, pid: int, cpu: float, rss: int, *, name: str = "", start: float = 1.0):
        self.procs[pid] = ProcStat(pid, name or f"p{pid}", "running", start, cpu, rss)

    def burn(self, pid: int, seconds: float) -> None:
        self.procs[pid].cpu_seconds += seconds

    def stats(self):
        return list(self.procs.values())

    def now(self) -> float:
        return self.now_s

    def uid(self, pid: int) -> int | None:
        self.detail_reads.append(pid)
        return None if pid == 13 else 1000

    def cmdline(self, pid: int) -> list[str] | None:
        return [f"/usr/bin/{self.procs[pid].name}", "--flag", "x" * 200]


def collector(world: World, **kw) -> TopProcesses:
    kw.setdefault("user_name", lambda uid: f"u{uid}")
    return TopProcesses(source=world, clock=lambda: world.now_s, **kw)


def later(world: World, seconds: float = 10.0) -> None:
    world.now_s += seconds


def rows(reading) -> list[dict]:
    return reading.tables[TABLE]["rows"]


def test_first_read_is_a_baseline_then_a_table_every_period():
    world = World()
    world.add(1, 5.0, 100)
    top = collector(world)
    assert top.read().tables == {}  # no deltas yet
    later(world, 5)
    assert top.read().tables == {}  # not due
    later(world, 5)
    assert [r["pid"] for r in rows(top.read())] == [1]
    later(world, 9.9)
    assert top.read().tables == {}


def test_a_late_sampler_does_not_catch_up():
    world = World()
    world.add(1, 5.0, 100)
    top = collector(world)
    top.read()
    later(world, 35)  # three periods late: one table now, the next a period later
    assert TABLE in top.read().tables
    later(world, 1)
    assert top.read().tables == {}
    later(world, 9)
    assert TABLE in top.read().tables


def test_cpu_is_percent_of_one_core_over_the_window():
    world = World()
    world.add(1, 0.0, 100)
    world.add(2, 0.0, 100)
    top = collector(world)
    top.read()
    world.burn(1, 20.0)  # two cores busy for 10 s
    world.burn(2, 2.5)
    later(world)
    got = {r["pid"]: r["cpu"] for r in rows(top.read())}
    assert got == {1: 200.0, 2: 25.0}


def test_selection_is_ten_by_cpu_and_ten_by_memory_sorted_by_cpu():
    world = World()
    for pid in range(1, 101):
        world.add(pid, 0.0, rss=pid * 1000)  # memory grows with pid: 91..100 the largest
    top = collector(world)
    top.read()
    for pid in range(1, 16):
        world.burn(pid, pid / 10)  # CPU grows with pid among 1..15: 6..15 the busiest
    later(world)
    table = rows(top.read())
    assert {r["pid"] for r in table} == set(range(6, 16)) | set(range(91, 101))
    cpus = [r["cpu"] for r in table]
    assert cpus == sorted(cpus, reverse=True)
    assert table[0] == {
        "pid": 15, "name": "p15", "user": "u1000", "cpu": 15.0, "rss": 15000,
        "cmd": table[0]["cmd"],
    }  # fmt: skip
    assert table[0]["cmd"].startswith("/usr/bin/p15 --flag xxx") and len(table[0]["cmd"]) == 120
    # The owner and command line were read for the 20 selected only.
    assert sorted(world.detail_reads) == sorted(r["pid"] for r in table)


def test_details_are_read_once_while_a_process_stays_selected():
    world = World()
    world.add(1, 0.0, 100)
    top = collector(world)
    top.read()
    for _ in range(3):
        world.burn(1, 1.0)
        later(world)
        top.read()
    assert world.detail_reads == [1]


def test_a_process_started_within_the_window_counts_all_its_cpu():
    world = World()
    world.add(1, 0.0, 100)
    top = collector(world)
    top.read()
    world.add(2, 4.0, 100, start=world.now_s + 5)  # started 5 s after the read, burnt 4 s
    world.add(3, 4.0, 100, start=world.now_s - 5)  # was there at the read but unreadable
    later(world)
    got = {r["pid"]: r["cpu"] for r in rows(top.read())}
    assert got[2] == 40.0
    assert got[3] == 0.0


def test_a_reused_pid_starts_afresh():
    world = World()
    world.add(7, 100.0, 100, start=1.0)
    top = collector(world)
    top.read()
    world.add(7, 1.0, 100, start=2.0)  # another process with the same pid (started before)
    later(world)
    assert rows(top.read())[0]["cpu"] == 0.0


def test_command_modes_and_an_unknown_owner():
    world = World()
    world.add(13, 1.0, 100, name="abcdefghijklmno")  # 15 characters: the kernel cut it
    named = collector(world, cmd_mode="name")
    full = collector(world, cmd_mode="full")
    for top in (named, full):
        top.read()
    later(world)
    (row,) = rows(named.read())
    assert (row["name"], row["user"], row["cmd"]) == ("abcdefghijklmno", "", "")
    (row,) = rows(full.read())
    assert row["name"] == "abcdefghijklmno"  # argv[0] does not start with it: kept
    assert len(row["cmd"]) == len("/usr/bin/abcdefghijklmno --flag ") + 200


def test_the_real_proc_finds_a_busy_child():
    child = start_burner()
    try:
        top = TopProcesses(period=0.5)
        top.read()
        time.sleep(0.6)
        table = rows(top.read())
        (row,) = [r for r in table if r["pid"] == child.pid]  # the top on an idle machine
        assert row["cpu"] > 20  # a shared machine: not necessarily a whole core
        assert row["user"] and MARK in row["cmd"]
    finally:
        child.kill()
        child.wait()


def test_the_setting_switches_the_reader_on_and_off(tmp_path):
    def names(**kw):
        sampler = build_sampler(Settings(containers_socket="off", data_dir=tmp_path, **kw))
        return [c.name for c in sampler._collectors]

    assert TABLE in names()
    assert TABLE not in names(process_history=False)
