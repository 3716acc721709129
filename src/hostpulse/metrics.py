"""The one vocabulary of metric keys, and the units people read them in.

A sample is a flat mapping of keys to numbers (or ``None`` when unknown). The same key names
a value in a delta over the wire, a series in history, a REST query parameter and, translated
to labels, a Prometheus series. Keys have one of two shapes:

    family.field              cpu.total   load.1   mem.percent   swap.used
    family.instance.field     fs./var.used   disk.sda.read_bps   net.eth0.rx_bps

The family is the text before the first dot and the field the text after the last dot, so an
instance may itself hold dots (a mount point ``/mnt/a.b`` or a VLAN interface ``eth0.100``).
``cpu.core.3`` reads as family ``cpu``, instance ``core``, field ``3``: the core number.
``disk.total.*`` and ``net.total.*`` are the sums over every disk and interface.
``gpu.0.util`` is GPU 0's utilization (the instance is the GPU's index, NVIDIA's first in
NVML's order, then AMD and Intel cards); ``battery.percent`` has no instance.
``container.<name>.cpu`` is a container's CPU in % of one core (like a process's).
"""

from __future__ import annotations

import re
from typing import NamedTuple

Value = float | int | None

#: Families whose keys carry an instance, with the Prometheus label naming that instance.
INSTANCE_LABELS: dict[str, str] = {
    "fs": "mount",
    "disk": "disk",
    "net": "interface",
    "temp": "sensor",
    "fan": "sensor",
    "gpu": "gpu",
    "container": "container",
}

TOTAL = "total"
_SAFE = re.compile(r"[^A-Za-z0-9_/\-:@+.]")


class Key(NamedTuple):
    family: str
    instance: str | None
    field: str


def key(family: str, field: str, instance: str | None = None) -> str:
    """Build a key; an instance is cleaned of characters that the grammar reserves."""
    if not family or "." in family or not field or "." in field:
        raise ValueError(f"bad key part: family={family!r} field={field!r}")
    if instance is None:
        return f"{family}.{field}"
    return f"{family}.{instance_name(instance)}.{field}"


def instance_name(raw: str) -> str:
    """An instance name safe in a key: whitespace and odd characters become ``_``.

    Dots are kept (``/mnt/a.b``, ``eth0.100``): parsing takes the family from the first dot
    and the field from the last, so they are unambiguous.
    """
    # Dots are in the safe set: an earlier placeholder trick swapped them for NUL first,
    # which the pattern then replaced with "_" too, so "/mnt/a.b" became "/mnt/a_b".
    return _SAFE.sub("_", raw.strip()) or "_"


def parse(text: str) -> Key:
    """Split a key into family, instance and field; raise ValueError on a malformed key."""
    first, _, rest = text.partition(".")
    if not first or not rest:
        raise ValueError(f"not a metric key: {text!r} (expected family.field)")
    instance, dot, field = rest.rpartition(".")
    if not field:
        raise ValueError(f"not a metric key: {text!r} (empty field)")
    if dot and not instance:
        # "a..b" would otherwise parse like "a.b": two spellings of one key.
        raise ValueError(f"not a metric key: {text!r} (empty instance)")
    return Key(first, instance or None, field)


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return len(text) <= 256 and text.isprintable()


# --- units ------------------------------------------------------------------------------

_BYTES_FIELDS = {
    "total",
    "used",
    "free",
    "available",
    "cached",
    "buffers",
    "rss",
    "mem_used",
    "mem_limit",
}
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
#: GPU fields by unit (``gpu.<index>.<field>``); a GPU's fan is a duty cycle, not rpm.
_GPU_UNITS = {
    "util": "%",
    "fan": "%",
    "mem_used": "B",
    "mem_total": "B",
    "mem_percent": "%",
    "temp": "°C",
    "power": "W",
    "power_limit": "W",
    "clock_core": "MHz",
    "clock_mem": "MHz",
}
#: Battery fields by unit: ``plugged`` is 1 on mains power, 0 on battery.
_BATTERY_UNITS = {"percent": "%", "time_left": "s", "plugged": ""}


def unit_of(text: str) -> str:
    """The unit of a key's value: '%', 'B', 'B/s', '/s', '°C', 'rpm', 'W', 'MHz', 's' or ''."""
    k = parse(text)
    if k.family == "gpu":
        return _GPU_UNITS.get(k.field, "")
    if k.family == "battery":
        return _BATTERY_UNITS.get(k.field, "")
    container_cpu = k.family == "container" and k.field == "cpu"  # of one core, like a process
    if k.family == "cpu" or k.field in ("percent", "busy") or container_cpu:
        return "%"
    if k.family == "load":
        return ""
    if k.family == "temp":
        return "°C"
    if k.family == "fan":
        return "rpm"
    if k.field.endswith("_bps"):
        return "B/s"
    if k.field.endswith(("_ops", "_pps", "_ps")):
        return "/s"
    if k.field in _BYTES_FIELDS:
        return "B"
    return ""


def human_bytes(n: float | None, suffix: str = "") -> str:
    """1536 -> '1.5 KiB'; None -> '–'."""
    if n is None:
        return "–"
    value = float(n)
    for unit in _BINARY_UNITS:
        if abs(value) < 1024 or unit == _BINARY_UNITS[-1]:
            text = f"{value:.0f}" if unit == "B" else f"{value:.1f}"
            return f"{text} {unit}{suffix}"
        value /= 1024
    raise AssertionError("unreachable")


def human(text: str, value: Value) -> str:
    """A value of the key ``text`` as people read it: '12.5 %', '3.2 MiB/s', '0.42'."""
    if value is None:
        return "–"
    unit = unit_of(text)
    if unit == "B":
        return human_bytes(value)
    if unit == "B/s":
        return human_bytes(value, "/s")
    if unit == "%":
        return f"{value:.1f} %"
    if unit in ("/s", "°C", "rpm", "W"):
        return f"{value:.1f} {unit}"
    if unit in ("MHz", "s"):
        return f"{value:.0f} {unit}"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


# --- Prometheus -------------------------------------------------------------------------

_PROM_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def prometheus_series(text: str) -> tuple[str, dict[str, str]]:
    """A key as a Prometheus metric name and labels.

    ``fs./var.used`` -> (``hostpulse_fs_used``, {"mount": "/var"});
    ``cpu.core.3`` -> (``hostpulse_cpu_core_percent``, {"core": "3"}).
    """
    k = parse(text)
    if k.family == "cpu" and k.instance == "core":
        return "hostpulse_cpu_core_percent", {"core": k.field}
    name = _PROM_UNSAFE.sub("_", f"hostpulse_{k.family}_{k.field}")
    if k.instance is None:
        return name, {}
    return name, {INSTANCE_LABELS.get(k.family, "instance"): k.instance}
