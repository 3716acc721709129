"""NVIDIA GPUs through NVML (the ``pynvml`` module of the ``nvidia-ml-py`` package).

The library is initialised and the device handles are taken once, on the first discovery;
a tick then makes one NVML call per reading (utilization, memory, temperature, power, power
limit, fan, two clocks). A missing module, library or driver (``NVMLError`` from
``nvmlInit``) means no NVIDIA GPU: one info line, and nothing more, ever, per tick. A reading
a GPU does not support (a passively cooled H100/H200 has no fan) raises ``NotSupported``
once and is not asked again for that GPU; any other NVML error leaves that reading out of
the tick and is logged once per GPU, reading and error.

NVML units: memory in bytes, power and its limit in milliwatts, clocks in MHz, fan in %.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from hostpulse.collect.gpu import Gpu, GpuRead

log = logging.getLogger("hostpulse.collect")

#: reading name -> (function(nvml, handle) -> {field: value in the key's unit}).
Reader = Callable[[Any, Any], dict[str, float]]


def _util(nvml: Any, handle: Any) -> dict[str, float]:
    return {"util": float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)}


def _memory(nvml: Any, handle: Any) -> dict[str, float]:
    info = nvml.nvmlDeviceGetMemoryInfo(handle)
    return {"mem_used": float(info.used), "mem_total": float(info.total)}


def _temp(nvml: Any, handle: Any) -> dict[str, float]:
    return {"temp": float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))}


def _power(nvml: Any, handle: Any) -> dict[str, float]:
    return {"power": nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0}


def _power_limit(nvml: Any, handle: Any) -> dict[str, float]:
    return {"power_limit": nvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0}


def _fan(nvml: Any, handle: Any) -> dict[str, float]:
    return {"fan": float(nvml.nvmlDeviceGetFanSpeed(handle))}


def _clock_core(nvml: Any, handle: Any) -> dict[str, float]:
    return {"clock_core": float(nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_GRAPHICS))}


def _clock_mem(nvml: Any, handle: Any) -> dict[str, float]:
    return {"clock_mem": float(nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM))}


READERS: dict[str, Reader] = {
    "util": _util,
    "memory": _memory,
    "temp": _temp,
    "power": _power,
    "power_limit": _power_limit,
    "fan": _fan,
    "clock_core": _clock_core,
    "clock_mem": _clock_mem,
}


def _text(value: Any) -> str:
    """NVML strings: bytes in older nvidia-ml-py releases, str in newer ones."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def import_pynvml() -> Any:
    import pynvml  # the optional extra: pip install 'hostpulse[nvidia]'

    return pynvml


class NvmlGpus:
    """Every GPU NVML sees; ``nvml`` is the pynvml module or an object offering its API."""

    vendor = "nvidia"

    def __init__(self, nvml: Any = None, load: Callable[[], Any] = import_pynvml) -> None:
        self._nvml = nvml
        self._load = load
        self._opened = False
        self._gpus: list[Gpu] = []
        self._handles: list[Any] = []
        #: per GPU (its NVML index): the readings still asked for each tick.
        self._readers: dict[int, dict[str, Reader]] = {}
        self._logged: set[tuple[int, str, str]] = set()

    # --- discovery: once ---------------------------------------------------------------

    def discover(self) -> list[Gpu]:
        """The GPUs found when the library was opened (NVML is opened only the first time)."""
        if not self._opened:
            self._opened = True
            self._gpus = self._open()
        return self._gpus

    def _open(self) -> list[Gpu]:
        nvml = self._nvml
        if nvml is None:
            try:
                nvml = self._nvml = self._load()
            except ImportError:
                log.info("no NVIDIA GPUs read: nvidia-ml-py is not installed (hostpulse[nvidia])")
                return []
        try:
            nvml.nvmlInit()
            count = nvml.nvmlDeviceGetCount()
            driver = _text(nvml.nvmlSystemGetDriverVersion())
            handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except nvml.NVMLError as exc:
            log.info("no NVIDIA GPUs read: NVML says %s", exc)
            return []
        self._handles = handles
        gpus = [self._gpu(i, handle, driver) for i, handle in enumerate(handles)]
        log.info("NVML: %d NVIDIA GPU(s), driver %s", len(gpus), driver)
        return gpus

    def _gpu(self, index: int, handle: Any, driver: str) -> Gpu:
        nvml = self._nvml
        facts: dict[str, Any] = {"vendor": "nvidia", "driver": "nvidia", "driver_version": driver}
        for name, call in (
            ("model", lambda: _text(nvml.nvmlDeviceGetName(handle))),
            ("bus_id", lambda: _text(nvml.nvmlDeviceGetPciInfo(handle).busId)),
            ("mem_total", lambda: int(nvml.nvmlDeviceGetMemoryInfo(handle).total)),
            ("uuid", lambda: _text(nvml.nvmlDeviceGetUUID(handle))),
        ):
            try:
                facts[name] = call()
            except nvml.NVMLError:
                facts[name] = None
        self._readers[index] = dict(READERS)
        return Gpu(facts=facts, read=self._reader(index, handle))

    # --- per tick ----------------------------------------------------------------------

    def _reader(self, index: int, handle: Any) -> Callable[[], GpuRead]:
        def read() -> GpuRead:
            return GpuRead(gauges=self._read(index, handle))

        return read

    def _read(self, index: int, handle: Any) -> dict[str, float]:
        nvml = self._nvml
        readers = self._readers[index]
        values: dict[str, float] = {}
        for name, reader in list(readers.items()):
            try:
                values.update(reader(nvml, handle))
            except nvml.NVMLError as exc:
                if getattr(exc, "value", None) == nvml.NVML_ERROR_NOT_SUPPORTED:
                    del readers[name]  # this GPU will never have it: stop asking
                else:
                    self._log_once(index, name, exc)
        return values

    def _log_once(self, index: int, reading: str, exc: Exception) -> None:
        signature = (index, reading, str(exc))
        if signature not in self._logged:
            self._logged.add(signature)
            log.warning("NVML GPU %d: %s failed: %s (logged once)", index, reading, exc)

    # --- per process, on demand --------------------------------------------------------

    def process_memory(self) -> dict[int, int] | None:
        """GPU memory in bytes per pid, summed over the GPUs, where NVML reports it (None
        without an NVIDIA GPU).

        A process can be on both a GPU's compute and graphics lists with the same memory: the
        larger of the two counts, not the sum. Memory NVML cannot tell (``None``) is left out.
        """
        if not self._handles:
            return None
        nvml = self._nvml
        totals: dict[int, int] = {}
        for index, handle in enumerate(self._handles):
            per_gpu: dict[int, int] = {}
            for call in (
                nvml.nvmlDeviceGetComputeRunningProcesses,
                nvml.nvmlDeviceGetGraphicsRunningProcesses,
            ):
                try:
                    processes = call(handle)
                except nvml.NVMLError as exc:
                    self._log_once(index, "processes", exc)
                    continue
                for proc in processes:
                    used = getattr(proc, "usedGpuMemory", None)
                    if used is not None:
                        per_gpu[proc.pid] = max(per_gpu.get(proc.pid, 0), int(used))
            for pid, used in per_gpu.items():
                totals[pid] = totals.get(pid, 0) + used
        return totals
