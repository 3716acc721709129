"""The process table against a fake source: vanishing, denied, pid reuse, CPU %; and the
/proc source against a fake /proc tree and the real one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psutil
import pytest

from hostpulse.collect.processes import ProcessCollector, format_cmd, restrict_cmd, restrict_rows
from hostpulse.collect.procsource import ProcfsSource, ProcStat, PsutilSource


class World:
    """A process source the test fills by hand, and a clock it moves by hand."""

    def __init__(self) -> None:
        self.procs: dict[int, ProcStat] = {}
        self.uids: dict[int, int] = {}
        self.cmdlines: dict[int, list[str]] = {}
        self.now = 100.0

    def add(self, pid: int, name: str, cpu: float, rss: int, *, start: float = 1.0,
            uid: int | None = 0, cmdline: list[str] | None = None) -> None:  # fmt: skip
        self.procs[pid] = ProcStat(pid, name, "running", start, cpu, rss)
        if uid is not None:
            self.uids[pid] = uid
        self.cmdlines[pid] = cmdline if cmdline is not None else [name]

    def stats(self) -> list[ProcStat]:
        return list(self.procs.values())

    def uid(self, pid: int) -> int | None:  # None: gone or not ours to read
        return self.uids.get(pid)

    def cmdline(self, pid: int) -> list[str] | None:
        return self.cmdlines.get(pid)

    def collector(self, **kw: Any) -> ProcessCollector:
        return ProcessCollector(
            source=self, clock=lambda: self.now, mem_total=1000,
            user_name=lambda uid: {0: "root"}.get(uid, str(uid)), **kw,
        )  # fmt: skip


def _rows(reading) -> dict[int, dict]:
    table = reading.tables["processes"]
    return {r["pid"]: r for r in table["by_cpu"] + table["by_memory"]}


def test_first_read_has_no_cpu_then_percent_of_one_core() -> None:
    world = World()
    world.add(1, "init", 1.0, 100)
    world.add(2, "busy", 5.0, 300, uid=1000)
    collector = world.collector()
    rows = _rows(collector.read())
    assert rows[1]["cpu"] is None and rows[2]["cpu"] is None
    assert rows[2]["mem_percent"] == 30.0 and rows[2]["user"] == "1000"
    assert rows[1]["user"] == "root"
    world.now += 2.0
    world.add(2, "busy", 9.0, 300)  # 4 s of CPU in 2 s: two cores
    reading = collector.read()
    assert reading.tables["processes"]["by_cpu"][0]["pid"] == 2
    assert _rows(reading)[2]["cpu"] == pytest.approx(200.0)
    assert _rows(reading)[1]["cpu"] == 0.0


def test_pid_reuse_starts_afresh() -> None:
    world = World()
    world.add(7, "old", 50.0, 10, start=1.0)
    collector = world.collector()
    collector.read()
    world.now += 1.0
    world.add(7, "new", 50.5, 10, start=2.0)  # same pid, new process
    assert _rows(collector.read())[7]["cpu"] is None
    world.now += 1.0
    world.add(7, "new", 51.0, 10, start=2.0)
    assert _rows(collector.read())[7]["cpu"] == pytest.approx(50.0)


def test_process_vanishing_or_denied_mid_read_keeps_what_was_read() -> None:
    world = World()
    world.add(3, "secret", 1.0, 500, uid=None)
    del world.cmdlines[3]
    world.add(4, "ok", 1.0, 5)
    rows = _rows(world.collector().read())
    assert rows[3]["user"] is None and rows[3]["cmd"] == "[secret]"
    assert rows[3]["rss"] == 500
    assert rows[4]["user"] == "root" and rows[4]["cmd"] == "ok"


def test_denied_cheap_fields_arrive_as_none_and_never_raise() -> None:
    world = World()
    world.procs[5] = ProcStat(5, "", None, None, None, None)
    reading = world.collector().read()
    row = _rows(reading)[5]
    assert row["cpu"] is None and row["rss"] is None and row["mem_percent"] is None
    assert reading.tables["processes"]["count"] == 1


def test_top_lists_are_bounded_and_ordered() -> None:
    world = World()
    for pid in range(1, 61):
        world.add(pid, f"p{pid}", 0.0, pid)
    table = world.collector(top=25).read().tables["processes"]
    assert table["count"] == 60
    assert len(table["by_memory"]) == 25 and len(table["by_cpu"]) == 25
    assert [r["pid"] for r in table["by_memory"][:3]] == [60, 59, 58]


def test_a_name_the_kernel_cut_at_15_characters_is_completed_from_argv0() -> None:
    world = World()
    world.add(8, "gunicorn-worker", 1.0, 5, cmdline=["/usr/bin/gunicorn-worker-pool", "-w", "4"])
    world.add(9, "short", 1.0, 5, cmdline=["/opt/other-name"])
    rows = _rows(world.collector().read())
    assert rows[8]["name"] == "gunicorn-worker-pool"
    assert rows[9]["name"] == "short"


def test_command_modes() -> None:
    cmd = ["python3", "-m", "hostpulse", "serve", "--port", "8080"]
    assert format_cmd("python3", cmd, "name", 10) == "python3"
    assert format_cmd("python3", cmd, "full", 10) == " ".join(cmd)
    short = format_cmd("python3", cmd, "truncated", 10)
    assert len(short) == 10 and short.endswith("…")
    assert format_cmd("kthreadd", [], "truncated", 10) == "[kthreadd]"
    with pytest.raises(ValueError):
        ProcessCollector(cmd_mode="everything", mem_total=1)


def test_a_received_command_is_shown_as_strictly_as_this_side_allows() -> None:
    long = "/usr/bin/python3 " + "x" * 200
    assert restrict_cmd(long, "python3", "full") == long
    assert restrict_cmd(long, "python3", "name") == "python3"
    cut = restrict_cmd(long, "python3", "truncated")
    assert len(cut) == 120 and cut.endswith("…")
    assert restrict_cmd(cut, "python3", "truncated") == cut  # an agent's cut stays as it is
    assert restrict_cmd("python3", "python3", "full") == "python3"  # an agent's `name` mode
    assert restrict_cmd(None, "kthreadd", "full") == "kthreadd"


def test_restrict_rows_applies_to_both_lists_and_to_odd_rows() -> None:
    table = {
        "count": 2,
        "by_cpu": [{"name": "a", "cmd": "a --secret=1"}, {"name": "b", "cmd": 7}],
        "by_memory": [{"cmd": "c --x"}],
    }
    restrict_rows(table, "name")
    assert [r["cmd"] for r in table["by_cpu"] + table["by_memory"]] == ["a", "b", ""]


def test_name_mode_never_reads_the_command_line() -> None:
    world = World()
    world.add(9, "x", 1.0, 5)
    world.cmdline = None  # type: ignore[method-assign]  (calling it would raise TypeError)
    assert _rows(world.collector(cmd_mode="name").read())[9]["cmd"] == "x"


def test_real_process_table_reads() -> None:
    collector = ProcessCollector()
    collector.read()
    table = collector.read().tables["processes"]
    assert table["count"] > 0
    assert all(r["cpu"] is None or r["cpu"] >= 0 for r in table["by_cpu"])
    assert all(r["cmd"] is not None for r in table["by_cpu"])


# --- the /proc source ------------------------------------------------------------------


def _fake_proc(root: Path, pid: int, stat: str, *, status: str | None = None,
               cmdline: bytes | None = None) -> None:  # fmt: skip
    d = root / str(pid)
    d.mkdir(parents=True)
    (d / "stat").write_text(stat)
    if status is not None:
        (d / "status").write_text(status)
    if cmdline is not None:
        (d / "cmdline").write_bytes(cmdline)


def _stat_line(pid: int, comm: str, state: str, utime: int, stime: int, start: int,
               rss_pages: int) -> str:  # fmt: skip
    # fields 3..24 of proc(5): state, ppid … minflt … utime stime … starttime vsize rss
    rest = [state, "1", "1", "1", "0", "-1", "0", "0", "0", "0", "0", str(utime), str(stime),
            "0", "0", "20", "0", "1", "0", str(start), "1000", str(rss_pages), "0"]  # fmt: skip
    return f"{pid} ({comm}) {' '.join(rest)}\n"


def test_procfs_source_parses_stat_status_and_cmdline(tmp_path: Path) -> None:
    tick, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    _fake_proc(tmp_path, 42, _stat_line(42, "odd) name (x", "S", 3 * tick, tick, 777, 10),
               status="Name:\todd\nUid:\t1000\t1000\t1000\t1000\n",
               cmdline=b"/usr/bin/odd\0--flag\0value with space\0")  # fmt: skip
    _fake_proc(tmp_path, 2, _stat_line(2, "kthreadd", "I", 0, 0, 1, 0), cmdline=b"")
    _fake_proc(tmp_path, 7, "7 (broken) R\n")  # a format this parser does not know
    (tmp_path / "self").mkdir()  # not a pid
    (tmp_path / "99").mkdir()  # a process that exited between listdir and open
    source = ProcfsSource(str(tmp_path))
    stats = {s.pid: s for s in source.stats()}
    assert set(stats) == {2, 42}
    odd = stats[42]
    assert odd.name == "odd) name (x" and odd.status == "sleeping"
    assert odd.cpu_seconds == pytest.approx(4.0) and odd.rss == 10 * page and odd.start == 777
    assert stats[2].status == "idle"
    assert source.uid(42) == 1000 and source.uid(2) is None and source.uid(99) is None
    assert source.cmdline(42) == ["/usr/bin/odd", "--flag", "value with space"]
    assert source.cmdline(2) == [] and source.cmdline(99) is None


def test_procfs_source_agrees_with_psutil_on_this_process() -> None:
    me = os.getpid()
    mine = next(s for s in ProcfsSource().stats() if s.pid == me)
    theirs = next(s for s in PsutilSource().stats() if s.pid == me)
    assert mine.name == theirs.name
    assert mine.status == theirs.status == psutil.STATUS_RUNNING
    assert mine.cpu_seconds == pytest.approx(theirs.cpu_seconds, abs=0.05)
    assert mine.rss == pytest.approx(theirs.rss, rel=0.05)
    assert ProcfsSource().uid(me) == PsutilSource().uid(me) == os.getuid()
    assert ProcfsSource().cmdline(me) == PsutilSource().cmdline(me)
