"""GPUs for machines without one: a stub of pynvml's API and fake DRM sysfs trees.

The OS cannot be made to grow a GPU, so the GPU tests (and benchmarks/collect.py, and the
page test) build them here. The sysfs trees have the layout and units of the real files
(amdgpu, i915, xe, hwmon, powercap); the stub answers the pynvml calls hostpulse makes, in
NVML's units (milliwatts, bytes, MHz), and counts them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

# --- NVML -----------------------------------------------------------------------------


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return {3: "Not Supported", 12: "NVML Shared Library Not Found", 15: "GPU is lost"}.get(
            self.value, f"NVML error {self.value}"
        )


@dataclass
class StubGpu:
    name: str = "NVIDIA H200"
    bus_id: str = "00000000:19:00.0"
    util: int = 37
    mem_used: int = 20 * 2**30
    mem_total: int = 141 * 2**30
    temp: int = 41
    power_mw: int = 118_500
    limit_mw: int = 700_000
    fan: int | None = None  # passively cooled: NotSupported
    clock_core: int = 1980
    clock_mem: int = 2619
    compute: list = field(default_factory=list)  # (pid, bytes or None)
    graphics: list = field(default_factory=list)
    #: reading name -> NVML error code raised by that call
    fail: dict = field(default_factory=dict)


class StubNvml:
    """The pynvml functions and constants hostpulse uses, answering from ``gpus``."""

    NVMLError = NVMLError
    NVML_ERROR_NOT_SUPPORTED = 3
    NVML_ERROR_LIBRARY_NOT_FOUND = 12
    NVML_ERROR_GPU_IS_LOST = 15
    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_GRAPHICS = 0
    NVML_CLOCK_MEM = 2

    def __init__(self, gpus: list[StubGpu], init_error: int | None = None) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.calls: Counter[str] = Counter()

    def _gpu(self, handle: int, reading: str) -> StubGpu:
        gpu = self.gpus[handle]
        if reading in gpu.fail:
            raise NVMLError(gpu.fail[reading])
        return gpu

    def nvmlInit(self) -> None:
        self.calls["init"] += 1
        if self.init_error is not None:
            raise NVMLError(self.init_error)

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlSystemGetDriverVersion(self) -> bytes:
        return b"570.86.15"  # older nvidia-ml-py releases answer bytes

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self.calls["handle"] += 1
        return index

    def nvmlDeviceGetName(self, handle: int) -> str:
        return self.gpus[handle].name

    def nvmlDeviceGetPciInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(busId=self.gpus[handle].bus_id.encode())

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return f"GPU-{handle:08d}"

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        self.calls["util"] += 1
        return SimpleNamespace(gpu=self._gpu(handle, "util").util, memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        gpu = self._gpu(handle, "memory")
        return SimpleNamespace(used=gpu.mem_used, total=gpu.mem_total, free=0)

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        assert sensor == self.NVML_TEMPERATURE_GPU
        return self._gpu(handle, "temp").temp

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        return self._gpu(handle, "power").power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: int) -> int:
        return self._gpu(handle, "power_limit").limit_mw

    def nvmlDeviceGetFanSpeed(self, handle: int) -> int:
        self.calls["fan"] += 1
        gpu = self._gpu(handle, "fan")
        if gpu.fan is None:
            raise NVMLError(self.NVML_ERROR_NOT_SUPPORTED)
        return gpu.fan

    def nvmlDeviceGetClockInfo(self, handle: int, kind: int) -> int:
        gpu = self._gpu(handle, "clock")
        return gpu.clock_core if kind == self.NVML_CLOCK_GRAPHICS else gpu.clock_mem

    def _procs(self, rows: list) -> list[SimpleNamespace]:
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in rows]

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[SimpleNamespace]:
        self.calls["processes"] += 1
        return self._procs(self._gpu(handle, "processes").compute)

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: int) -> list[SimpleNamespace]:
        return self._procs(self._gpu(handle, "processes").graphics)


# --- sysfs ----------------------------------------------------------------------------


def write(path: Path, text: str | int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{text}\n")
    return path


def amd_card(
    sysfs: Path,
    card: int = 0,
    *,
    busy: int = 42,
    vram_used: int = 3 * 2**30,
    vram_total: int = 16 * 2**30,
    temp_mc: int = 51_000,
    power_uw: int = 87_000_000,
    cap_uw: int = 203_000_000,
    pwm: int = 102,
    sclk_hz: int = 2_105_000_000,
    mclk_hz: int = 1_000_000_000,
    runtime: str = "active",
    average: bool = True,
) -> Path:
    """An amdgpu card (``card<card>``) with its hwmon; returns the PCI device directory."""
    device = sysfs / "devices" / f"0000:0{3 + card}:00.0"
    write(device / "uevent", f"DRIVER=amdgpu\nPCI_ID=1002:73BF\nPCI_SLOT_NAME={device.name}")
    write(device / "gpu_busy_percent", busy)
    write(device / "mem_info_vram_used", vram_used)
    write(device / "mem_info_vram_total", vram_total)
    write(device / "power" / "runtime_status", runtime)
    hwmon = device / "hwmon" / f"hwmon{4 + card}"
    write(hwmon / "name", "amdgpu")
    write(hwmon / "temp1_label", "edge")
    write(hwmon / "temp1_input", temp_mc)
    write(hwmon / "temp2_label", "junction")
    write(hwmon / "temp2_input", temp_mc + 9000)
    write(hwmon / ("power1_average" if average else "power1_input"), power_uw)
    write(hwmon / "power1_cap", cap_uw)
    write(hwmon / "pwm1", pwm)
    write(hwmon / "pwm1_max", 255)
    write(hwmon / "fan1_input", 1450)
    write(hwmon / "freq1_label", "sclk")
    write(hwmon / "freq1_input", sclk_hz)
    write(hwmon / "freq2_label", "mclk")
    write(hwmon / "freq2_input", mclk_hz)
    _link_card(sysfs, card, device)
    return device


def intel_igpu(sysfs: Path, card: int = 0, *, mhz: int = 1300, energy_uj: int = 5_000_000) -> Path:
    """An i915 integrated GPU, and the RAPL ``uncore`` zone beside the package's."""
    device = sysfs / "devices" / "0000:00:02.0"
    write(device / "uevent", "DRIVER=i915\nPCI_ID=8086:46A6\nPCI_SLOT_NAME=0000:00:02.0")
    card_dir = _link_card(sysfs, card, device)
    write(card_dir / "gt_act_freq_mhz", mhz)
    write(card_dir / "gt_cur_freq_mhz", mhz + 100)
    powercap = sysfs / "class" / "powercap"
    write(powercap / "intel-rapl:0" / "name", "package-0")
    write(powercap / "intel-rapl:0" / "energy_uj", 90_000_000)
    write(powercap / "intel-rapl:0:1" / "name", "uncore")
    write(powercap / "intel-rapl:0:1" / "energy_uj", energy_uj)
    return device


def intel_arc(sysfs: Path, card: int = 1, *, mhz: int = 2400, energy_uj: int = 1_000_000) -> Path:
    """An xe discrete card (Arc) with its hwmon energy counter."""
    device = sysfs / "devices" / "0000:03:00.0"
    write(device / "uevent", "DRIVER=xe\nPCI_ID=8086:E20B\nPCI_SLOT_NAME=0000:03:00.0")
    write(device / "tile0" / "gt0" / "freq0" / "act_freq", mhz)
    hwmon = device / "hwmon" / "hwmon7"
    write(hwmon / "name", "xe")
    write(hwmon / "energy1_input", energy_uj)
    write(hwmon / "power1_max", 190_000_000)
    _link_card(sysfs, card, device)
    return device


def nvidia_card(sysfs: Path, card: int) -> Path:
    """nvidia-drm's card: read through NVML, never through sysfs."""
    device = sysfs / "devices" / f"0000:1{card}:00.0"
    write(device / "uevent", "DRIVER=nvidia\nPCI_ID=10DE:2335")
    _link_card(sysfs, card, device)
    return device


def _link_card(sysfs: Path, card: int, device: Path) -> Path:
    """``class/drm/card<N>/device`` -> the PCI device, as the kernel lays it out."""
    card_dir = sysfs / "class" / "drm" / f"card{card}"
    card_dir.mkdir(parents=True, exist_ok=True)
    (card_dir / "device").symlink_to(device)
    # a connector and a render node: not GPUs of their own
    (sysfs / "class" / "drm" / f"card{card}-DP-1").mkdir(exist_ok=True)
    (sysfs / "class" / "drm" / f"renderD{128 + card}").mkdir(exist_ok=True)
    return card_dir
