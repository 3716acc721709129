"""A laptop's (or a UPS-backed box's) battery, through psutil.

Keys: ``battery.percent``, ``battery.plugged`` (1 on mains power, 0 on battery) and
``battery.time_left`` (seconds; absent while charging or when the OS cannot tell). A host
without a battery yields no keys, and is asked again only every ``recheck_every`` reads:
``psutil.sensors_battery()`` scans /sys/class/power_supply each call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from hostpulse.collect import Reading

RECHECK_EVERY = 300


def _psutil_battery() -> Any:
    sensors_battery = getattr(psutil, "sensors_battery", None)  # absent on some platforms
    return sensors_battery() if sensors_battery is not None else None


class BatteryCollector:
    name = "battery"

    def __init__(
        self, battery: Callable[[], Any] = _psutil_battery, recheck_every: int = RECHECK_EVERY
    ) -> None:
        self._battery = battery
        self._recheck_every = recheck_every
        self._present = True
        self._reads = 0

    def read(self) -> Reading:
        due = self._reads % self._recheck_every == 0
        self._reads += 1
        if not self._present and not due:
            return Reading()
        state = self._battery()
        self._present = state is not None
        if state is None:
            return Reading()
        values: dict[str, float] = {"battery.percent": float(state.percent)}
        if state.power_plugged is not None:
            values["battery.plugged"] = 1 if state.power_plugged else 0
        # psutil: POWER_TIME_UNLIMITED (-2) while plugged, POWER_TIME_UNKNOWN (-1): no figure
        secs = state.secsleft
        if isinstance(secs, int | float) and secs >= 0:
            values["battery.time_left"] = float(secs)
        return Reading(values=values)
