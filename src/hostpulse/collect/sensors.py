"""Temperatures and fan speeds from Linux hwmon sysfs.

``psutil.sensors_temperatures()`` rescans /sys/class/hwmon and reads every label, min, max
and crit file on each call. We discover the ``*_input`` files once per instance (and again
every ``rediscover_every`` reads, for hot-plugged devices), then read only those per tick.
Keys: ``temp.<chip>_<label>.celsius`` and ``fan.<chip>_<label>.rpm``. A box without sensors,
or not running Linux, yields no keys at all (absent, never zero). Where the driver gives a
sensor's own marks (``temp<N>_max``, ``temp<N>_crit``) they are ``temp.<chip>_<label>.high``
and ``.crit``, read at discovery only (they do not change while running) and sent with every
sample, so an alert rule can hold each sensor to its own mark (docs/ALERTS.md).
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

from hostpulse.collect import Reading
from hostpulse.metrics import instance_name, key

HWMON_ROOT = "/sys/class/hwmon"
_INPUT = re.compile(r"^(temp|fan)(\d+)_input$")
#: sysfs kind -> (family, field, divisor): temperatures are in millidegrees Celsius.
_KINDS = {"temp": ("temp", "celsius", 1000.0), "fan": ("fan", "rpm", 1.0)}


#: sysfs mark file suffix -> the key's field.
_MARKS = (("max", "high"), ("crit", "crit"))


class Input(NamedTuple):
    key: str
    path: str
    divisor: float
    #: (key, value) of the sensor's own marks, in °C.
    marks: tuple[tuple[str, float], ...] = ()


def _read_line(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline().strip()
    except OSError:
        return None


def _chip_inputs(chip_dir: str) -> list[tuple[str, str, str, str]]:
    """(kind, label, file, chip name) for every temp/fan input of one hwmon chip."""
    chip = _read_line(os.path.join(chip_dir, "name")) or os.path.basename(chip_dir)
    try:
        files = sorted(os.listdir(chip_dir))
    except OSError:
        return []
    found = []
    for file in files:
        match = _INPUT.match(file)
        if match is None:
            continue
        kind, number = match.groups()
        label = _read_line(os.path.join(chip_dir, f"{kind}{number}_label")) or f"{kind}{number}"
        found.append((kind, label, os.path.join(chip_dir, file), chip))
    return found


def discover(root: str = HWMON_ROOT) -> list[Input]:
    """Every temperature and fan input under ``root``, with its metric key."""
    try:
        chips = sorted(os.listdir(root))
    except OSError:
        return []
    inputs: list[Input] = []
    used: set[str] = set()
    for entry in chips:
        for kind, label, path, chip in _chip_inputs(os.path.join(root, entry)):
            family, field, divisor = _KINDS[kind]
            instance = instance_name(f"{chip}_{label}")
            if key(family, field, instance) in used:  # two chips of one driver
                instance = instance_name(f"{chip}_{entry}_{label}")
            marks = _marks(path, instance) if kind == "temp" else ()
            inputs.append(Input(key(family, field, instance), path, divisor, marks))
            used.add(inputs[-1].key)
    return inputs


def _marks(input_path: str, instance: str) -> tuple[tuple[str, float], ...]:
    """The high and critical marks next to ``temp<N>_input``; a missing, unreadable or
    zero mark (drivers write 0 for none) is left out."""
    found = []
    for suffix, field in _MARKS:
        raw = _read_line(input_path.removesuffix("_input") + "_" + suffix)
        if raw and raw.lstrip("-").isdigit() and int(raw) > 0:
            found.append((key("temp", field, instance), int(raw) / 1000.0))
    return tuple(found)


class SensorCollector:
    name = "sensors"

    def __init__(self, root: str = HWMON_ROOT, rediscover_every: int = 300) -> None:
        self._root = root
        self._rediscover_every = rediscover_every
        self._inputs: list[Input] = []
        self._reads = 0

    def read(self) -> Reading:
        if self._reads % self._rediscover_every == 0:
            self._inputs = discover(self._root)
        self._reads += 1
        values: dict[str, float] = {}
        for item in self._inputs:
            raw = _read_line(item.path)  # a sensor may fail a read (EIO, ENODATA): skip it
            if raw and raw.lstrip("-").isdigit():
                values[item.key] = int(raw) / item.divisor
                values.update(item.marks)
        return Reading(values=values)
