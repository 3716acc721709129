"""Which collectors a sampler runs."""

from __future__ import annotations

from hostpulse.collect import Collector
from hostpulse.collect.battery import BatteryCollector
from hostpulse.collect.containers import OFF, ContainerCollector
from hostpulse.collect.cpu import CpuCollector
from hostpulse.collect.disks import DiskIOCollector, FilesystemCollector
from hostpulse.collect.gpu import GpuCollector
from hostpulse.collect.gpu_nvml import NvmlGpus
from hostpulse.collect.gpu_sysfs import SYSFS, DrmGpus
from hostpulse.collect.memory import MemoryCollector
from hostpulse.collect.network import NetworkCollector
from hostpulse.collect.processes import CMD_MAX, ProcessCollector
from hostpulse.collect.sensors import SensorCollector


def gpu_collector(sysfs: str = SYSFS) -> GpuCollector:
    """NVIDIA through NVML (when nvidia-ml-py is installed), then AMD and Intel from sysfs."""
    return GpuCollector([NvmlGpus(), DrmGpus(sysfs)])


def default_collectors(gpus: GpuCollector | None = None) -> list[Collector]:
    """Every per-tick collector except the process table (which costs ~10x the rest)."""
    return [
        CpuCollector(),
        MemoryCollector(),
        FilesystemCollector(),
        DiskIOCollector(),
        NetworkCollector(),
        SensorCollector(),
        gpus if gpus is not None else gpu_collector(),
        BatteryCollector(),
    ]


def process_collector(
    cmd_mode: str = "truncated", cmd_max: int = CMD_MAX, gpus: GpuCollector | None = None
) -> ProcessCollector:
    """The process table; with ``gpus``, its rows carry their GPU memory where NVML tells."""
    gpu_memory = gpus.process_memory if gpus is not None else None
    return ProcessCollector(cmd_mode=cmd_mode, cmd_max=cmd_max, gpu_memory=gpu_memory)


def container_collectors(socket: str | None = None) -> list[Collector]:
    """The running containers, from ``socket`` (None: where engines put theirs; ``off``: none)."""
    return [] if socket == OFF else [ContainerCollector(socket)]
