"""The process table against a fake process list: vanishing, denied, pid reuse, CPU %."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import psutil
import pytest

from hostpulse.collect.processes import ProcessCollector, format_cmd

Times = namedtuple("Times", "user system children_user children_system")
Mem = namedtuple("Mem", "rss vms")
Uids = namedtuple("Uids", "real effective saved")


class FakeProc:
    """What process_iter yields: ``info`` plus the methods read for top rows."""

    def __init__(self, pid: int, name: str, cpu: float, rss: int, *, created: float = 1.0,
                 uid: int = 0, cmdline: list[str] | None = None, fail: Exception | None = None,
                 ) -> None:  # fmt: skip
        self.pid = pid
        self.info: dict[str, Any] = {
            "pid": pid, "name": name, "status": "running", "create_time": created,
            "cpu_times": Times(cpu, 0.0, 0.0, 0.0), "memory_info": Mem(rss, rss * 2),
        }  # fmt: skip
        self._uid, self._cmdline, self._fail = uid, cmdline or [name], fail

    def uids(self) -> Uids:
        if self._fail:
            raise self._fail
        return Uids(self._uid, self._uid, self._uid)

    def cmdline(self) -> list[str]:
        if self._fail:
            raise self._fail
        return self._cmdline


class World:
    """A process list and a clock the test moves by hand."""

    def __init__(self) -> None:
        self.procs: list[FakeProc] = []
        self.now = 100.0

    def process_iter(self, attrs: list[str], ad_value: Any = None):
        return iter(list(self.procs))

    def collector(self, **kw: Any) -> ProcessCollector:
        return ProcessCollector(
            process_iter=self.process_iter, clock=lambda: self.now, mem_total=1000,
            user_name=lambda uid: {0: "root"}.get(uid, str(uid)), **kw,
        )  # fmt: skip


def _rows(reading) -> dict[int, dict]:
    table = reading.tables["processes"]
    return {r["pid"]: r for r in table["by_cpu"] + table["by_memory"]}


def test_first_read_has_no_cpu_then_percent_of_one_core() -> None:
    world = World()
    world.procs = [FakeProc(1, "init", 1.0, 100), FakeProc(2, "busy", 5.0, 300, uid=1000)]
    collector = world.collector()
    rows = _rows(collector.read())
    assert rows[1]["cpu"] is None and rows[2]["cpu"] is None
    assert rows[2]["mem_percent"] == 30.0 and rows[2]["user"] == "1000"
    assert rows[1]["user"] == "root"
    world.now += 2.0
    world.procs[1] = FakeProc(2, "busy", 9.0, 300)  # 4 s of CPU in 2 s: two cores
    reading = collector.read()
    assert reading.tables["processes"]["by_cpu"][0]["pid"] == 2
    assert _rows(reading)[2]["cpu"] == pytest.approx(200.0)
    assert _rows(reading)[1]["cpu"] == 0.0


def test_pid_reuse_starts_afresh() -> None:
    world = World()
    world.procs = [FakeProc(7, "old", 50.0, 10, created=1.0)]
    collector = world.collector()
    collector.read()
    world.now += 1.0
    world.procs = [FakeProc(7, "new", 50.5, 10, created=2.0)]  # same pid, new process
    assert _rows(collector.read())[7]["cpu"] is None
    world.now += 1.0
    world.procs = [FakeProc(7, "new", 51.0, 10, created=2.0)]
    assert _rows(collector.read())[7]["cpu"] == pytest.approx(50.0)


@pytest.mark.parametrize(
    "error", [psutil.NoSuchProcess(3), psutil.ZombieProcess(3), psutil.AccessDenied(3)]
)
def test_process_vanishing_or_denied_mid_read_keeps_what_was_read(error) -> None:
    world = World()
    world.procs = [FakeProc(3, "secret", 1.0, 500, fail=error), FakeProc(4, "ok", 1.0, 5)]
    rows = _rows(world.collector().read())
    assert rows[3]["user"] is None and rows[3]["cmd"] == "[secret]"
    assert rows[3]["rss"] == 500
    assert rows[4]["user"] == "root" and rows[4]["cmd"] == "ok"


def test_denied_cheap_fields_arrive_as_none_and_never_raise() -> None:
    world = World()
    proc = FakeProc(5, "guarded", 1.0, 5)
    proc.info.update(cpu_times=None, memory_info=None, name=None)
    world.procs = [proc]
    reading = world.collector().read()
    row = _rows(reading)[5]
    assert row["cpu"] is None and row["rss"] is None and row["mem_percent"] is None
    assert reading.tables["processes"]["count"] == 1


def test_top_lists_are_bounded_and_ordered() -> None:
    world = World()
    world.procs = [FakeProc(pid, f"p{pid}", 0.0, pid) for pid in range(1, 61)]
    table = world.collector(top=25).read().tables["processes"]
    assert table["count"] == 60
    assert len(table["by_memory"]) == 25 and len(table["by_cpu"]) == 25
    assert [r["pid"] for r in table["by_memory"][:3]] == [60, 59, 58]


def test_command_modes() -> None:
    cmd = ["python3", "-m", "hostpulse", "serve", "--port", "8080"]
    assert format_cmd("python3", cmd, "name", 10) == "python3"
    assert format_cmd("python3", cmd, "full", 10) == " ".join(cmd)
    short = format_cmd("python3", cmd, "truncated", 10)
    assert len(short) == 10 and short.endswith("…")
    assert format_cmd("kthreadd", [], "truncated", 10) == "[kthreadd]"
    with pytest.raises(ValueError):
        ProcessCollector(cmd_mode="everything", mem_total=1)


def test_name_mode_never_reads_the_command_line() -> None:
    world = World()
    proc = FakeProc(9, "x", 1.0, 5)
    proc.cmdline = None  # type: ignore[assignment]  (calling it would raise TypeError)
    world.procs = [proc]
    assert _rows(world.collector(cmd_mode="name").read())[9]["cmd"] == "x"


def test_real_process_table_reads() -> None:
    collector = ProcessCollector()
    collector.read()
    table = collector.read().tables["processes"]
    assert table["count"] > 0
    assert all(r["cpu"] is None or r["cpu"] >= 0 for r in table["by_cpu"])
    assert all(r["cmd"] is not None for r in table["by_cpu"])
