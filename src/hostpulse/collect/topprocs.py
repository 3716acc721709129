"""The top processes kept with the history: every 10 s, whether or not anyone watches.

Unlike the processes panel's table (collect/processes.py, read every tick and only while
watched), this one is read every ``PERIOD`` seconds from the first tick on, so it must be
cheap (budget: 0.1 % of a core, docs/HISTORY.md "Process tables"). One read of
/proc/<pid>/stat per process (collect/procsource.py) gives the name, the CPU time and the
RSS; only the ~20 processes selected (the 10 highest by CPU, the 10 highest by RSS) cost
more: their owner and command line, cached while the same process stays selected.

CPU % is the CPU time a process used since the previous read, as a percentage of ONE core
(two busy cores read 200). A process that started after the previous read used all its CPU
time within the window, so it counts whole instead of waiting a period for a baseline.

Like the processes panel's collector this one keeps time, the one exception to "collectors
know nothing of time": per-process deltas need the previous read, which the flat sample does
not carry, and the period is the collector's own so that the sampler needs no second
schedule. Between reads ``read()`` returns an empty Reading at the cost of one clock call.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Any

from hostpulse.collect import Reading
from hostpulse.collect.processes import (
    CMD_MAX,
    CMD_MODES,
    format_cmd,
    passwd_name,
    program_name,
    restrict_cmd,
)
from hostpulse.collect.procsource import ProcStat, default_source

#: The name of the table in a Sample's ``tables`` (and of this collector).
TABLE = "top_processes"
#: Seconds between reads.
PERIOD = 10.0
#: Processes kept by CPU and by memory (their union is the table: at most 2 × TOP rows).
TOP = 10


class TopProcesses:
    name = TABLE

    def __init__(
        self,
        cmd_mode: str = "truncated",
        cmd_max: int = CMD_MAX,
        *,
        top: int = TOP,
        period: float = PERIOD,
        source: Any = None,
        clock: Callable[[], float] = time.monotonic,
        user_name: Callable[[int], str] = passwd_name,
    ) -> None:
        if cmd_mode not in CMD_MODES:
            raise ValueError(f"cmd_mode must be one of {CMD_MODES}, not {cmd_mode!r}")
        self.cmd_mode, self.cmd_max, self.top, self.period = cmd_mode, cmd_max, top, period
        self._source = source or default_source()
        self._clock = clock
        self._user_name = user_name
        self._users: dict[int, str] = {}
        #: (pid, start) -> CPU seconds at the previous read.
        self._previous: dict[tuple[int, float | None], float] = {}
        self._previous_at: float | None = None
        self._previous_start_now: float | None = None
        #: (pid, start, comm) of the rows selected last time -> (name, user, cmd).
        self._details: dict[tuple, tuple[str, str, str]] = {}
        self._due: float | None = None

    def read(self) -> Reading:
        """The table when a period has passed since the last read; else nothing."""
        now = self._clock()
        if self._due is not None and now < self._due:
            return Reading()
        # The next read a period after this one was due (no drift), or a period from now
        # when the sampler was late by a whole period (no catching up).
        due = now if self._due is None else self._due
        self._due = due + self.period if due + self.period > now else now + self.period
        rows = self.read_now(now)
        return Reading() if rows is None else Reading(tables={TABLE: {"rows": rows}})

    def read_now(self, now: float | None = None) -> list[dict[str, Any]] | None:
        """Read every process; the rows sorted by CPU (None on the first read: no deltas)."""
        now = self._clock() if now is None else now
        start_now = self._source.now()
        elapsed = None if self._previous_at is None else now - self._previous_at
        stats = list(self._source.stats())
        cpu = self._cpu(stats, elapsed)
        self._previous_at, self._previous_start_now = now, start_now
        if elapsed is None or elapsed <= 0:
            return None
        rss = [stat.rss or 0 for stat in stats]
        every = range(len(stats))
        by_cpu = heapq.nlargest(self.top, every, key=lambda i: (cpu[i], rss[i]))
        by_rss = heapq.nlargest(self.top, every, key=rss.__getitem__)
        chosen = sorted(set(by_cpu) | set(by_rss), key=lambda i: (-cpu[i], -rss[i]))
        details = {}
        rows = []
        for i in chosen:
            stat = stats[i]
            ident = (stat.pid, stat.start, stat.name)
            name, user, cmd = details[ident] = self._details.get(ident) or self._detail(stat)
            rows.append(
                {
                    "pid": stat.pid,
                    "name": name,
                    "user": user,
                    "cpu": round(cpu[i], 2),
                    "rss": rss[i],
                    "cmd": cmd,
                }
            )
        self._details = details
        return rows

    def _cpu(self, stats: list[ProcStat], elapsed: float | None) -> list[float]:
        """Each process's CPU % of one core since the previous read; keeps this read's times."""
        current: dict[tuple[int, float | None], float] = {}
        previous, started_after = self._previous, self._previous_start_now
        cpu = []
        for stat in stats:
            used = stat.cpu_seconds
            percent = 0.0
            if used is not None:
                ident = (stat.pid, stat.start)
                current[ident] = used
                before = previous.get(ident)
                if before is None and started_after is not None and stat.start is not None:
                    # New since the previous read: everything it used, it used in the window.
                    before = 0.0 if stat.start >= started_after else None
                if before is not None and elapsed and used >= before:
                    percent = 100.0 * (used - before) / elapsed
            cpu.append(percent)
        self._previous = current
        return cpu

    def _detail(self, stat: ProcStat) -> tuple[str, str, str]:
        """(name, user, cmd) of a selected process; "" for what cannot be read or is hidden."""
        uid = self._source.uid(stat.pid)
        user = "" if uid is None else self._user(uid)
        if self.cmd_mode == "name":
            return stat.name, user, ""
        cmdline = self._source.cmdline(stat.pid)
        name = program_name(stat.name, cmdline)
        return name, user, format_cmd(name, cmdline, self.cmd_mode, self.cmd_max)

    def _user(self, uid: int) -> str:
        name = self._users.get(uid)
        if name is None:
            name = self._users[uid] = self._user_name(uid)
        return name


def restrict(rows: list[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    """Rows an agent formatted, with ``cmd`` as ``mode`` allows here (the stricter wins;
    ``name`` hides it: "")."""
    return [
        {
            **row,
            "cmd": ""
            if mode == "name" or not row["cmd"]
            else restrict_cmd(row["cmd"], row["name"], mode),
        }
        for row in rows
    ]
