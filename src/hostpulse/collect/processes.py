"""The process table: a count and the top processes by CPU and by memory.

One pass reads the cheap fields of every process (/proc/<pid>/stat and statm on Linux, via
psutil's oneshot); the expensive ones (command line, user name) are read only for the rows
that make a top list. CPU % is the one rate a collector computes itself: it needs per-process
history that the flat sample does not carry. It is a percentage of one core (a process busy
on two cores reads 200), over this collector's own monotonic clock. Previous CPU times are
keyed by (pid, create_time), so a reused pid starts afresh instead of inheriting a delta.
"""

from __future__ import annotations

import contextlib
import heapq
import pwd
import time
from collections.abc import Callable, Iterable
from typing import Any

import psutil

from hostpulse.collect import Reading

TOP = 25
CMD_MODES = ("name", "truncated", "full")
#: Fields read for every process; all of them come from stat/statm under one oneshot.
CHEAP_ATTRS = ["pid", "name", "status", "create_time", "cpu_times", "memory_info"]
_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


def format_cmd(name: str, cmdline: list[str] | None, mode: str, limit: int) -> str:
    """The command shown in a row: name only, the command line cut to ``limit``, or all."""
    if mode == "name":
        return name
    if not cmdline:  # kernel threads and zombies have none; show them the way ps does
        return f"[{name}]"
    cmd = " ".join(cmdline)
    if mode == "truncated" and len(cmd) > limit:
        return cmd[: max(limit - 1, 0)] + "…"
    return cmd


class ProcessCollector:
    name = "processes"

    def __init__(
        self,
        cmd_mode: str = "truncated",
        cmd_max: int = 120,
        top: int = TOP,
        process_iter: Callable[..., Iterable[Any]] = psutil.process_iter,
        clock: Callable[[], float] = time.monotonic,
        mem_total: int | None = None,
        user_name: Callable[[int], str] | None = None,
    ) -> None:
        if cmd_mode not in CMD_MODES:
            raise ValueError(f"cmd_mode must be one of {CMD_MODES}, not {cmd_mode!r}")
        self.cmd_mode, self.cmd_max, self.top = cmd_mode, cmd_max, top
        self._process_iter = process_iter
        self._clock = clock
        self._mem_total = mem_total or psutil.virtual_memory().total
        self._user_name = user_name or _passwd_name
        self._users: dict[int, str] = {}  # uid -> name; users rarely change
        self._previous: dict[tuple[int, float | None], float] = {}
        self._previous_at: float | None = None

    def read(self) -> Reading:
        now = self._clock()
        elapsed = None if self._previous_at is None else now - self._previous_at
        rows, procs, current = [], {}, {}
        for proc in self._process_iter(CHEAP_ATTRS, ad_value=None):
            row = self._cheap_row(proc.info, elapsed, current)
            rows.append(row)
            procs[id(row)] = proc
        self._previous, self._previous_at = current, now
        by_cpu = heapq.nlargest(self.top, rows, key=_cpu_order)
        by_memory = heapq.nlargest(self.top, rows, key=lambda r: r["rss"] or 0)
        for row in {id(r): r for r in by_cpu + by_memory}.values():
            self._add_expensive(row, procs[id(row)])
        table = {"count": len(rows), "by_cpu": by_cpu, "by_memory": by_memory}
        return Reading(tables={"processes": table})

    def _cheap_row(self, info: dict, elapsed: float | None, current: dict) -> dict[str, Any]:
        times, mem = info.get("cpu_times"), info.get("memory_info")
        cpu = None
        if times is not None:
            spent = times.user + times.system
            ident = (info["pid"], info.get("create_time"))
            current[ident] = spent
            before = self._previous.get(ident)
            if before is not None and elapsed and spent >= before:
                cpu = 100.0 * (spent - before) / elapsed
        rss = mem.rss if mem is not None else None
        return {
            "pid": info["pid"],
            "name": info.get("name") or "",
            "user": None,
            "cpu": cpu,
            "rss": rss,
            "mem_percent": None if rss is None else 100.0 * rss / self._mem_total,
            "state": info.get("status"),
            "cmd": None,
        }

    def _add_expensive(self, row: dict[str, Any], proc: Any) -> None:
        """User and command line for a row in a top list; what cannot be read stays None."""
        with contextlib.suppress(_GONE):
            row["user"] = self._user(proc.uids().real)
        cmdline = None
        if self.cmd_mode != "name":
            with contextlib.suppress(_GONE):
                cmdline = proc.cmdline()
        row["cmd"] = format_cmd(row["name"], cmdline, self.cmd_mode, self.cmd_max)

    def _user(self, uid: int) -> str:
        name = self._users.get(uid)
        if name is None:
            name = self._users[uid] = self._user_name(uid)
        return name


def _cpu_order(row: dict[str, Any]) -> tuple[float, int]:
    # First read: no CPU yet, so order by memory to give a stable, useful list.
    return (row["cpu"] or 0.0, row["rss"] or 0)


def _passwd_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (containers): show the number
        return str(uid)
