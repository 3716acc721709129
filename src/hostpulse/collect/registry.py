"""Which collectors a sampler runs."""

from __future__ import annotations

from hostpulse.collect import Collector
from hostpulse.collect.containers import OFF, ContainerCollector
from hostpulse.collect.cpu import CpuCollector
from hostpulse.collect.disks import DiskIOCollector, FilesystemCollector
from hostpulse.collect.memory import MemoryCollector
from hostpulse.collect.network import NetworkCollector
from hostpulse.collect.processes import CMD_MAX, ProcessCollector
from hostpulse.collect.sensors import SensorCollector


def default_collectors() -> list[Collector]:
    """Every per-tick collector except the process table (which costs ~10x the rest)."""
    return [
        CpuCollector(),
        MemoryCollector(),
        FilesystemCollector(),
        DiskIOCollector(),
        NetworkCollector(),
        SensorCollector(),
    ]


def process_collector(cmd_mode: str = "truncated", cmd_max: int = CMD_MAX) -> ProcessCollector:
    return ProcessCollector(cmd_mode=cmd_mode, cmd_max=cmd_max)


def container_collectors(socket: str | None = None) -> list[Collector]:
    """The running containers, from ``socket`` (None: where engines put theirs; ``off``: none)."""
    return [] if socket == OFF else [ContainerCollector(socket)]
