"""CPU time shares (total, by kind, per logical core) and load averages.

Shares are (part, whole) pairs of cumulative seconds; the sampler turns their deltas into
percentages. Nothing here blocks: ``psutil.cpu_percent(interval=...)`` would sleep.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import psutil

from hostpulse.collect import Reading
from hostpulse.metrics import key

#: Linux counts guest time inside user and guest_nice inside nice: summing them would
#: count those seconds twice (psutil.cpu_percent drops them from the total too).
_COUNTED_ELSEWHERE = frozenset({"guest", "guest_nice"})
#: Seconds the CPU was not working; waiting on I/O is idle time, not busy time.
_NOT_BUSY = ("idle", "iowait")
#: Kinds reported as their own share, where the OS has them (iowait, steal: Linux only).
_KINDS = ("user", "system", "iowait", "steal")


def busy_and_total(times: Any) -> tuple[float, float]:
    """(busy seconds, all seconds) of one psutil cpu_times tuple."""
    fields = times._asdict()
    total = sum(v for name, v in fields.items() if name not in _COUNTED_ELSEWHERE)
    idle = sum(fields.get(name, 0.0) for name in _NOT_BUSY)
    return total - idle, total


def load_values(loadavg: Callable[[], tuple[float, float, float]]) -> dict[str, float]:
    """``load.1/5/15``; empty where the OS has no load average."""
    try:
        one, five, fifteen = loadavg()
    except (AttributeError, OSError):
        return {}
    return {"load.1": one, "load.5": five, "load.15": fifteen}


class CpuCollector:
    name = "cpu"

    def __init__(
        self,
        cpu_times: Callable[..., Any] = psutil.cpu_times,
        loadavg: Callable[[], tuple[float, float, float]] = os.getloadavg,
    ) -> None:
        self._cpu_times = cpu_times
        self._loadavg = loadavg

    def read(self) -> Reading:
        times = self._cpu_times()
        busy, total = busy_and_total(times)
        shares = {"cpu.total": (busy, total)}
        for kind in _KINDS:
            if hasattr(times, kind):
                shares[key("cpu", kind)] = (getattr(times, kind), total)
        for index, core in enumerate(self._cpu_times(percpu=True)):
            shares[key("cpu", str(index), "core")] = busy_and_total(core)
        return Reading(values=load_values(self._loadavg), shares=shares)
