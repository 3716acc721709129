"""The process table: a count and the top processes by CPU and by memory.

One pass reads the cheap fields of every process from a source (collect/procsource.py:
/proc/<pid>/stat on Linux); the expensive ones (owner, command line) are read only for the
rows that make a top list. CPU % is the one rate a collector computes itself: it needs
per-process history that the flat sample does not carry. It is a percentage of one core (a
process busy on two cores reads 200), over this collector's own monotonic clock. Previous CPU
times are keyed by (pid, start time), so a reused pid starts afresh instead of inheriting a
delta.

Where a GPU source knows each process's GPU memory (NVIDIA, through NVML), every row of the
table gets ``gpu_mem`` (bytes, None for a process on no GPU); on other hosts rows have no such
field. It is asked only while the table is collected, i.e. while someone watches it.
"""

from __future__ import annotations

import heapq
import os
import pwd
import time
from collections.abc import Callable
from typing import Any

import psutil

from hostpulse.collect import Reading
from hostpulse.collect.procsource import ProcStat, default_source

TOP = 25
CMD_MODES = ("name", "truncated", "full")
#: The kernel keeps 15 characters of a process name; a longer one is read from argv[0].
COMM_LENGTH = 15
#: Characters of a command line shown in ``truncated`` mode.
CMD_MAX = 120
#: The row lists of a processes table (its other field is ``count``).
ROW_LISTS = ("by_cpu", "by_memory")


def format_cmd(name: str, cmdline: list[str] | None, mode: str, limit: int) -> str:
    """The command shown in a row: name only, the command line cut to ``limit``, or all."""
    # Kernel threads and zombies have no command line; show them the way ps does.
    cmd = " ".join(cmdline) if cmdline else f"[{name}]"
    return restrict_cmd(cmd, name, mode, limit)


def restrict_cmd(cmd: str | None, name: str, mode: str, limit: int = CMD_MAX) -> str:
    """A command already formatted elsewhere (by an agent), shown as ``mode`` allows here.

    The stricter of the two settings wins: an agent's ``name`` stays a name, and this side's
    ``name`` or ``truncated`` cuts down what a ``full`` agent sent.
    """
    if mode == "name" or not cmd:
        return name
    if mode == "truncated" and len(cmd) > limit:
        return cmd[: max(limit - 1, 0)] + "…"
    return cmd


def restrict_rows(table: dict[str, Any], mode: str) -> None:
    """Apply :func:`restrict_cmd` to every row of a received processes table, in place."""
    for key in ROW_LISTS:
        for row in table.get(key, ()):
            cmd, name = row.get("cmd"), str(row.get("name") or "")
            row["cmd"] = restrict_cmd(cmd if isinstance(cmd, str) else None, name, mode)


class ProcessCollector:
    name = "processes"

    def __init__(
        self,
        cmd_mode: str = "truncated",
        cmd_max: int = CMD_MAX,
        top: int = TOP,
        source: Any = None,
        clock: Callable[[], float] = time.monotonic,
        mem_total: int | None = None,
        user_name: Callable[[int], str] | None = None,
        gpu_memory: Callable[[], dict[int, int] | None] | None = None,
    ) -> None:
        if cmd_mode not in CMD_MODES:
            raise ValueError(f"cmd_mode must be one of {CMD_MODES}, not {cmd_mode!r}")
        self.cmd_mode, self.cmd_max, self.top = cmd_mode, cmd_max, top
        self._source = source or default_source()
        self._clock = clock
        self._mem_total = mem_total or psutil.virtual_memory().total
        self._user_name = user_name or passwd_name
        self._gpu_memory = gpu_memory
        self._users: dict[int, str] = {}  # uid -> name; users rarely change
        self._previous: dict[tuple[int, float | None], float] = {}
        self._previous_at: float | None = None

    def read(self) -> Reading:
        now = self._clock()
        elapsed = None if self._previous_at is None else now - self._previous_at
        current: dict[tuple[int, float | None], float] = {}
        rows = [self._cheap_row(stat, elapsed, current) for stat in self._source.stats()]
        self._previous, self._previous_at = current, now
        by_cpu = heapq.nlargest(self.top, rows, key=_cpu_order)
        by_memory = heapq.nlargest(self.top, rows, key=lambda r: r["rss"] or 0)
        shown = {id(r): r for r in by_cpu + by_memory}.values()
        for row in shown:
            self._add_expensive(row)
        per_pid = self._gpu_memory() if self._gpu_memory is not None else None
        if per_pid is not None:
            for row in shown:
                row["gpu_mem"] = per_pid.get(row["pid"])
        table = {"count": len(rows), "by_cpu": by_cpu, "by_memory": by_memory}
        return Reading(tables={"processes": table})

    def _cheap_row(self, stat: ProcStat, elapsed: float | None, current: dict) -> dict[str, Any]:
        cpu = None
        if stat.cpu_seconds is not None:
            ident = (stat.pid, stat.start)
            current[ident] = stat.cpu_seconds
            before = self._previous.get(ident)
            if before is not None and elapsed and stat.cpu_seconds >= before:
                cpu = 100.0 * (stat.cpu_seconds - before) / elapsed
        return {
            "pid": stat.pid,
            "name": stat.name,
            "user": None,
            "cpu": cpu,
            "rss": stat.rss,
            "mem_percent": None if stat.rss is None else 100.0 * stat.rss / self._mem_total,
            "state": stat.status,
            "cmd": None,
        }

    def _add_expensive(self, row: dict[str, Any]) -> None:
        """User and command line for a row in a top list; what cannot be read stays None."""
        uid = self._source.uid(row["pid"])
        row["user"] = None if uid is None else self._user(uid)
        cmdline = None if self.cmd_mode == "name" else self._source.cmdline(row["pid"])
        row["name"] = program_name(row["name"], cmdline)
        row["cmd"] = format_cmd(row["name"], cmdline, self.cmd_mode, self.cmd_max)

    def _user(self, uid: int) -> str:
        name = self._users.get(uid)
        if name is None:
            name = self._users[uid] = self._user_name(uid)
        return name


def program_name(name: str, cmdline: list[str] | None) -> str:
    """The kernel's name of a process, or argv[0]'s when the kernel cut it at 15 characters."""
    if cmdline and len(name) >= COMM_LENGTH:
        program = os.path.basename(cmdline[0])
        if program.startswith(name):
            return program
    return name


def _cpu_order(row: dict[str, Any]) -> tuple[float, int]:
    # First read: no CPU yet, so order by memory to give a stable, useful list.
    return (row["cpu"] or 0.0, row["rss"] or 0)


def passwd_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (containers): show the number
        return str(uid)
