"""Where the process table's rows come from: /proc read directly on Linux, psutil elsewhere.

The table reads every process every tick it is watched, so the per-process cost is the
collector's whole cost. psutil spends ~80 µs a process (a Process object, oneshot caching,
two files); one read of /proc/<pid>/stat has every cheap field and costs ~15 µs. The
expensive fields (owner, command line) are read only for the few rows that make a top list.

A source yields :class:`ProcStat` for every process it can read, and answers ``uid(pid)`` and
``cmdline(pid)`` with None for a process that is gone or not ours to read.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psutil

#: /proc/<pid>/stat state letters, named the way psutil names them.
STATES = {
    "R": "running", "S": "sleeping", "D": "disk-sleep", "Z": "zombie", "T": "stopped",
    "t": "tracing-stop", "X": "dead", "x": "dead", "I": "idle", "W": "waking", "P": "parked",
    "K": "wake-kill",
}  # fmt: skip


@dataclass(slots=True)
class ProcStat:
    pid: int
    name: str
    status: str | None
    #: When the process started (any unit): with the pid, it tells a reused pid apart.
    start: float | None
    #: User + system CPU seconds so far.
    cpu_seconds: float | None
    rss: int | None


class ProcfsSource:
    """Linux: one read of /proc/<pid>/stat per process."""

    def __init__(self, root: str = "/proc") -> None:
        self._root = root
        self._tick = os.sysconf("SC_CLK_TCK")
        self._page = os.sysconf("SC_PAGE_SIZE")

    def stats(self) -> Iterator[ProcStat]:
        for entry in os.listdir(self._root):
            if entry.isdigit():
                stat = self._stat(int(entry))
                if stat is not None:
                    yield stat

    def _stat(self, pid: int) -> ProcStat | None:
        # os.open/os.read, not open(): no buffered file object, half the cost a process
        # (benchmarks/top_processes.py); one read returns the whole file (< 1 KB).
        try:
            fd = os.open(f"{self._root}/{pid}/stat", os.O_RDONLY)
        except OSError:  # exited between listdir and open
            return None
        try:
            data = os.read(fd, 4096)
        except OSError:  # exited since
            return None
        finally:
            os.close(fd)
        # "pid (comm) state …": comm may itself hold spaces and parentheses
        head, _, tail = data.rpartition(b")")
        fields = tail.split(None, 22)  # rss is the 22nd after comm; the rest is not read
        try:
            return ProcStat(
                pid=pid,
                name=head.partition(b"(")[2].decode(errors="replace"),
                status=STATES.get(fields[0].decode(errors="replace"), "unknown"),
                start=float(fields[19]),
                cpu_seconds=(int(fields[11]) + int(fields[12])) / self._tick,
                rss=int(fields[21]) * self._page,
            )
        except (IndexError, ValueError):  # not the format this parser knows: skip the row
            return None

    def now(self) -> float | None:
        """The time now in the unit of :attr:`ProcStat.start` (clock ticks since boot)."""
        try:
            with open(f"{self._root}/uptime", "rb") as f:
                return float(f.read().split()[0]) * self._tick
        except (OSError, IndexError, ValueError):
            return None

    def uid(self, pid: int) -> int | None:
        try:
            with open(f"{self._root}/{pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"Uid:"):
                        return int(line.split()[1])  # the real uid
        except (OSError, IndexError, ValueError):
            pass
        return None

    def cmdline(self, pid: int) -> list[str] | None:
        try:
            with open(f"{self._root}/{pid}/cmdline", "rb") as f:
                raw = f.read()
        except OSError:
            return None
        return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)
_ATTRS = ["pid", "name", "status", "create_time", "cpu_times", "memory_info"]


class PsutilSource:
    """Any OS psutil supports; what cannot be read arrives as None."""

    def stats(self) -> Iterator[ProcStat]:
        for proc in psutil.process_iter(_ATTRS, ad_value=None):
            info = proc.info
            times, mem = info["cpu_times"], info["memory_info"]
            yield ProcStat(
                pid=info["pid"],
                name=info["name"] or "",
                status=info["status"],
                start=info["create_time"],
                cpu_seconds=None if times is None else times.user + times.system,
                rss=None if mem is None else mem.rss,
            )

    @staticmethod
    def now() -> float:
        """The time now in the unit of :attr:`ProcStat.start` (psutil's create_time: epoch)."""
        return time.time()

    def uid(self, pid: int) -> int | None:
        try:
            return psutil.Process(pid).uids().real
        except _GONE:
            return None

    def cmdline(self, pid: int) -> list[str] | None:
        try:
            return psutil.Process(pid).cmdline()
        except _GONE:
            return None


def default_source() -> ProcfsSource | PsutilSource:
    return ProcfsSource() if os.path.isfile("/proc/self/stat") else PsutilSource()
