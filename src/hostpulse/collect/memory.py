"""Memory and swap gauges.

``mem.used`` is ``total - available``: memory that cannot be handed to a new program
without swapping. That is what psutil's ``virtual_memory().percent`` and ``free``'s
"available" column imply, so ``mem.percent == mem.used / mem.total * 100`` holds exactly and
agrees with the OS. (psutil's own ``used`` field is ``total - free - buffers - cached``, a
different, smaller number; we do not publish it.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from hostpulse.collect import Reading


def percent(part: float, whole: float) -> float:
    return 100.0 * (part / whole) if whole > 0 else 0.0


def memory_values(vm: Any) -> dict[str, float]:
    used = vm.total - vm.available
    values = {
        "mem.total": vm.total,
        "mem.used": used,
        "mem.available": vm.available,
        "mem.percent": percent(used, vm.total),
    }
    for name in ("cached", "buffers"):  # Linux and BSD only
        if hasattr(vm, name):
            values[f"mem.{name}"] = getattr(vm, name)
    return values


def swap_values(sw: Any) -> dict[str, float]:
    """Swap gauges; a box without swap reads total 0, used 0, percent 0."""
    return {
        "swap.total": sw.total,
        "swap.used": sw.used,
        "swap.percent": percent(sw.used, sw.total),
    }


class MemoryCollector:
    name = "memory"

    def __init__(
        self,
        virtual_memory: Callable[[], Any] = psutil.virtual_memory,
        swap_memory: Callable[[], Any] = psutil.swap_memory,
    ) -> None:
        self._virtual_memory = virtual_memory
        self._swap_memory = swap_memory

    def read(self) -> Reading:
        values = memory_values(self._virtual_memory())
        values.update(swap_values(self._swap_memory()))
        return Reading(values=values)
