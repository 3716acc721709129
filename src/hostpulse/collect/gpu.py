"""GPUs, whatever their vendor: one collector over sources (NVML for NVIDIA, DRM sysfs for
AMD and Intel) that each find their GPUs and read them.

Keys are ``gpu.<index>.<field>`` (fields and units in :mod:`hostpulse.metrics`); the index is
the GPU's place in the sources' order at discovery: NVIDIA's in NVML's order (what
``nvidia-smi`` shows), then the DRM cards. What a GPU is (model, vendor, driver and its
version, bus id, memory size) travels as the ``gpus`` fact table, not per tick. A host
without GPUs yields no keys (absent, never zero) and an empty table: a GPU that goes away
takes its facts with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hostpulse.collect import Reading
from hostpulse.metrics import key

log = logging.getLogger("hostpulse.collect")

#: Look for hot-plugged (or removed) GPUs this often, in reads.
REDISCOVER_EVERY = 300


@dataclass(slots=True)
class GpuRead:
    #: field -> value in the key's unit (``util`` in %, ``power`` in W …).
    gauges: dict[str, float] = field(default_factory=dict)
    #: field -> a cumulative counter whose per-second rate is the field (energy in J → W).
    counters: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Gpu:
    facts: dict[str, Any]
    read: Callable[[], GpuRead]


class GpuSource(Protocol):
    def discover(self) -> list[Gpu]: ...


class GpuCollector:
    name = "gpus"

    def __init__(
        self, sources: Sequence[GpuSource], rediscover_every: int = REDISCOVER_EVERY
    ) -> None:
        self._sources = list(sources)
        self._rediscover_every = rediscover_every
        self._gpus: list[Gpu] = []
        self._table: dict[str, dict[str, Any]] = {}
        self._keys: dict[tuple[int, str], str] = {}  # (index, field) -> key, built once
        self._reads = 0

    def _discover(self) -> None:
        gpus: list[Gpu] = []
        for source in self._sources:
            try:
                gpus += source.discover()
            except Exception:  # one vendor's trouble must not hide the others' GPUs
                log.exception("GPU discovery failed in %r", source)
        self._gpus = gpus
        self._table = {str(i): {"index": i, **gpu.facts} for i, gpu in enumerate(gpus)}

    def read(self) -> Reading:
        if self._reads % self._rediscover_every == 0:
            self._discover()
        self._reads += 1
        if not self._gpus:
            return Reading(tables={"gpus": {}})
        values: dict[str, float] = {}
        counters: dict[str, float] = {}
        for index, gpu in enumerate(self._gpus):
            got = gpu.read()
            for name, value in got.gauges.items():
                values[self._key(index, name)] = value
            used, total = got.gauges.get("mem_used"), got.gauges.get("mem_total")
            if used is not None and total:  # a stored key: a chart, a rule ("above 90")
                values[self._key(index, "mem_percent")] = 100.0 * used / total
            for name, value in got.counters.items():
                counters[self._key(index, name)] = value
        return Reading(values=values, counters=counters, tables={"gpus": self._table})

    def _key(self, index: int, name: str) -> str:
        found = self._keys.get((index, name))
        if found is None:
            found = self._keys[(index, name)] = key("gpu", name, str(index))
        return found

    def process_memory(self) -> dict[int, int] | None:
        """GPU memory in bytes per pid from the sources that know it; None where none does
        (no NVIDIA GPU: AMD and Intel sysfs say nothing per process)."""
        found: dict[int, int] | None = None
        for source in self._sources:
            per_pid = getattr(source, "process_memory", None)
            got = per_pid() if per_pid is not None else None
            if got is None:
                continue
            found = found if found is not None else {}
            for pid, used in got.items():
                found[pid] = found.get(pid, 0) + used
        return found
