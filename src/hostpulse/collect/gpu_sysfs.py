"""AMD and Intel GPUs from the kernel's DRM sysfs files: what they expose without privileges.

Each ``/sys/class/drm/card<N>`` whose device's driver is ``amdgpu``, ``i915`` or ``xe`` is a
GPU (connectors such as ``card0-DP-1`` and render nodes are not). The files a GPU has are
found once, at discovery; a tick reads only those, so a file that vanishes (a card unplugged,
a driver unloaded) leaves its value out of that tick and a file never there costs nothing.

AMD (amdgpu): ``gpu_busy_percent`` (utilization), ``mem_info_vram_used``/``_total`` (bytes)
and the card's hwmon: ``temp1_input`` (edge, m°C), ``power1_average`` or ``power1_input``
(µW), ``power1_cap`` (µW), ``pwm1``/``pwm1_max`` (fan duty), ``freq1_input``/``freq2_input``
(sclk and mclk, Hz). A dGPU in runtime suspend (``power/runtime_status``) is not asked for
busy or hwmon values, which on older kernels wake it up: it reads 0 % and its VRAM only.

Intel (i915, xe): the actual GPU clock (``gt_act_freq_mhz``; xe: ``tile0/gt0/freq0/
act_freq``); on discrete cards (Arc) the hwmon ``energy1_input`` (µJ, a counter: the sampler
turns it into W), ``power1_max`` (µW) and ``temp1_input``; on integrated ones the RAPL
``uncore`` domain's ``energy_uj`` (``/sys/class/powercap``), which Linux lets only root read
since 5.10 (CVE-2020-8694): as the unprivileged service it is absent. Intel's utilization
and per-engine busy time come only from the i915/xe perf PMU (``perf_event_open``, which
needs CAP_PERFMON or ``perf_event_paranoid`` ≤ 0), and an integrated GPU's memory is the
host's: hostpulse reads neither.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from hostpulse.collect import read_text
from hostpulse.collect.gpu import Gpu, GpuRead

log = logging.getLogger("hostpulse.collect")

SYSFS = "/sys"
DRIVERS = {"amdgpu": "amd", "i915": "intel", "xe": "intel"}
_VENDOR_NAMES = {"amd": "AMD", "intel": "Intel"}
_CARD = re.compile(r"^card(\d+)$")


def read_raw(path: str) -> bytes | None:
    """A small sysfs file's bytes; None when it is gone or cannot be read now.

    os.open/os.read: a third of the cost of open().readline() in this per-tick path."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 64)
    except OSError:  # EIO, ENODATA, EISDIR: a sensor that cannot answer now
        return None
    finally:
        os.close(fd)


def read_number(path: str) -> int | None:
    """The integer in a small sysfs file; None when it is gone, unreadable or not a number."""
    raw = read_raw(path)
    try:
        return int(raw) if raw is not None else None  # int() skips the newline itself
    except ValueError:
        return None


class File(NamedTuple):
    """One per-tick file: its field, and how its number becomes the key's unit."""

    field: str
    path: str
    scale: float
    counter: bool = False
    #: False for the files whose read wakes a runtime-suspended GPU.
    asleep_ok: bool = False


def _uevent(device: str) -> dict[str, str]:
    fields = {}
    for line in (read_text(os.path.join(device, "uevent")) or "").splitlines():
        name, sep, value = line.partition("=")
        if sep:
            fields[name] = value
    return fields


def _hwmon(device: str) -> str | None:
    base = os.path.join(device, "hwmon")
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return None
    return os.path.join(base, entries[0]) if entries else None


def _existing(*files: File) -> list[File]:
    return [f for f in files if os.path.exists(f.path)]


def _labelled(hwmon: str, kind: str, label: str, default: int) -> str:
    """``<kind><n>_input`` whose ``_label`` reads ``label`` (amdgpu: sclk, mclk, edge)."""
    for n in range(1, 8):
        if (read_text(os.path.join(hwmon, f"{kind}{n}_label")) or "").strip() == label:
            return os.path.join(hwmon, f"{kind}{n}_input")
    return os.path.join(hwmon, f"{kind}{default}_input")


class DrmGpus:
    """Every AMD and Intel GPU under ``<sysfs>/class/drm``."""

    def __init__(self, sysfs: str = SYSFS) -> None:
        self._sysfs = sysfs
        self._told: set[str] = set()

    def discover(self) -> list[Gpu]:
        drm = os.path.join(self._sysfs, "class", "drm")
        try:
            entries = os.listdir(drm)
        except OSError:
            return []
        cards = sorted((int(m.group(1)), e) for e in entries if (m := _CARD.match(e)))
        gpus = []
        rapl_taken = False
        for _, entry in cards:
            card = os.path.join(drm, entry)
            device = os.path.join(card, "device")
            uevent = _uevent(device)
            vendor = DRIVERS.get(uevent.get("DRIVER", ""))
            if vendor == "amd":
                gpus.append(self._amd(device, uevent))
            elif vendor == "intel":
                gpu, used_rapl = self._intel(card, device, uevent, rapl_free=not rapl_taken)
                rapl_taken = rapl_taken or used_rapl
                gpus.append(gpu)
        return gpus

    # --- AMD ---------------------------------------------------------------------------

    def _amd(self, device: str, uevent: dict[str, str]) -> Gpu:
        files = _existing(
            File("util", os.path.join(device, "gpu_busy_percent"), 1.0),
            File("mem_used", os.path.join(device, "mem_info_vram_used"), 1.0, asleep_ok=True),
        )
        hwmon = _hwmon(device)
        if hwmon is not None:
            power = os.path.join(hwmon, "power1_average")
            if not os.path.exists(power):  # RDNA3 and later kernels: the current draw only
                power = os.path.join(hwmon, "power1_input")
            pwm_max = read_number(os.path.join(hwmon, "pwm1_max")) or 255
            files += _existing(
                File("temp", _labelled(hwmon, "temp", "edge", 1), 1e-3),
                File("power", power, 1e-6),
                File("power_limit", os.path.join(hwmon, "power1_cap"), 1e-6),
                File("fan", os.path.join(hwmon, "pwm1"), 100.0 / pwm_max),
                File("clock_core", _labelled(hwmon, "freq", "sclk", 1), 1e-6),
                File("clock_mem", _labelled(hwmon, "freq", "mclk", 2), 1e-6),
            )
        facts = self._facts("amd", device, uevent)
        # The VRAM size does not change while the card is there: read at discovery only.
        total = facts["mem_total"] = read_number(os.path.join(device, "mem_info_vram_total"))
        fixed = {} if total is None else {"mem_total": float(total)}
        runtime = os.path.join(device, "power", "runtime_status")
        return Gpu(facts=facts, read=_reader(files, runtime, fixed))

    # --- Intel -------------------------------------------------------------------------

    def _intel(
        self, card: str, device: str, uevent: dict[str, str], rapl_free: bool
    ) -> tuple[Gpu, bool]:
        clock = os.path.join(card, "gt_act_freq_mhz")  # i915
        if not os.path.exists(clock):
            clock = os.path.join(device, "tile0", "gt0", "freq0", "act_freq")  # xe
        files = _existing(File("clock_core", clock, 1.0))
        hwmon = _hwmon(device)
        energy = None
        if hwmon is not None:  # discrete cards (Arc) only
            energy = os.path.join(hwmon, "energy1_input")
            files += _existing(
                File("power", energy, 1e-6, counter=True),
                File("power_limit", os.path.join(hwmon, "power1_max"), 1e-6),
                File("temp", os.path.join(hwmon, "temp1_input"), 1e-3),
            )
        used_rapl = False
        if (energy is None or not os.path.exists(energy)) and rapl_free:
            rapl = self._rapl_uncore()
            if rapl is not None:
                files.append(File("power", rapl, 1e-6, counter=True))
                used_rapl = True
        facts = self._facts("intel", device, uevent)
        facts["mem_total"] = None  # integrated: the host's memory; xe dGPUs: not in sysfs
        return Gpu(facts=facts, read=_reader(files, None, {})), used_rapl

    def _rapl_uncore(self) -> str | None:
        """The RAPL ``uncore`` (integrated graphics) energy counter, if this user may read it."""
        base = os.path.join(self._sysfs, "class", "powercap")
        try:
            zones = sorted(os.listdir(base))
        except OSError:
            return None
        for zone in zones:
            if (read_text(os.path.join(base, zone, "name")) or "").strip() != "uncore":
                continue
            path = os.path.join(base, zone, "energy_uj")
            if read_number(path) is not None:
                return path
            self._tell_once("rapl", "Intel GPU power not read: %s is readable by root only", path)
        return None

    def _tell_once(self, what: str, message: str, *args: Any) -> None:
        if what not in self._told:
            self._told.add(what)
            log.info(message, *args)

    def _facts(self, vendor: str, device: str, uevent: dict[str, str]) -> dict[str, Any]:
        driver = uevent.get("DRIVER")
        model = (read_text(os.path.join(device, "product_name")) or "").strip()
        pci_id = uevent.get("PCI_ID", "").lower()
        version = read_text(os.path.join(self._sysfs, "module", str(driver), "version"))
        return {
            "vendor": vendor,
            "model": model or f"{_VENDOR_NAMES[vendor]} GPU {pci_id}".strip(),
            "driver": driver,
            "driver_version": version.strip() if version else None,
            "bus_id": uevent.get("PCI_SLOT_NAME"),
        }


def _reader(
    files: list[File], runtime_status: str | None, fixed: dict[str, float]
) -> Callable[[], GpuRead]:
    """The per-tick read of one GPU's files (``fixed``: values known since discovery)."""
    always = [f for f in files if f.asleep_ok]
    status = runtime_status if runtime_status and os.path.exists(runtime_status) else None

    def read() -> GpuRead:
        got = GpuRead()
        asleep = status is not None and (read_raw(status) or b"").startswith(b"suspended")
        if asleep:
            got.gauges["util"] = 0.0
        for f in always if asleep else files:
            raw = read_number(f.path)
            if raw is None:  # vanished, unreadable or not answering: absent this tick
                continue
            (got.counters if f.counter else got.gauges)[f.field] = raw * f.scale
        if got.gauges or got.counters:  # nothing read at all: the card is gone
            got.gauges.update(fixed)
        return got

    return read
