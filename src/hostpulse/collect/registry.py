"""Which collectors a sampler runs."""

from __future__ import annotations

from hostpulse.collect import Collector
from hostpulse.collect.battery import BatteryCollector
from hostpulse.collect.containers import OFF, ContainerCollector
from hostpulse.collect.cpu import CpuCollector
from hostpulse.collect.disks import DiskIOCollector, FilesystemCollector, HostPartitions
from hostpulse.collect.gpu import GpuCollector
from hostpulse.collect.gpu_nvml import NvmlGpus
from hostpulse.collect.gpu_sysfs import SYSFS, DrmGpus
from hostpulse.collect.hostroot import HostRoot
from hostpulse.collect.memory import MemoryCollector
from hostpulse.collect.network import NetworkCollector, net_dev_reader
from hostpulse.collect.processes import CMD_MAX, ProcessCollector
from hostpulse.collect.procsource import ProcfsSource
from hostpulse.collect.sensors import HWMON_ROOT, SensorCollector
from hostpulse.collect.topprocs import TopProcesses

OWN = HostRoot()


def gpu_collector(sysfs: str = SYSFS) -> GpuCollector:
    """NVIDIA through NVML (when nvidia-ml-py is installed), then AMD and Intel from sysfs."""
    return GpuCollector([NvmlGpus(), DrmGpus(sysfs)])


def default_collectors(host: HostRoot = OWN, gpus: GpuCollector | None = None) -> list[Collector]:
    """Every per-tick collector except the process table (which costs ~10x the rest), reading
    the host under ``host`` (hostroot.py; CPU and memory through psutil.PROCFS_PATH)."""
    return [
        CpuCollector(),
        MemoryCollector(),
        _filesystems(host),
        DiskIOCollector(sys_block=host.path("/sys/block")),
        _network(host),
        SensorCollector(root=host.path(HWMON_ROOT)),
        gpus if gpus is not None else gpu_collector(host.path(SYSFS)),
        BatteryCollector(),
    ]


def _filesystems(host: HostRoot) -> FilesystemCollector:
    if host.is_own:
        return FilesystemCollector()
    partitions = HostPartitions(host)
    return FilesystemCollector(partitions, partitions.usage, partitions.mountinfo_path())


def _network(host: HostRoot) -> NetworkCollector:
    sys_net = host.path("/sys/class/net")
    if host.is_own:
        return NetworkCollector(sys_net=sys_net)
    return NetworkCollector(net_dev_reader(host.init_proc + "/net/dev"), sys_net)


def process_collector(
    cmd_mode: str = "truncated",
    cmd_max: int = CMD_MAX,
    host: HostRoot = OWN,
    gpus: GpuCollector | None = None,
) -> ProcessCollector:
    """The process table; with ``gpus``, its rows carry their GPU memory where NVML tells."""
    source = None if host.is_own else ProcfsSource(host.proc)
    gpu_memory = gpus.process_memory if gpus is not None else None
    return ProcessCollector(
        cmd_mode=cmd_mode, cmd_max=cmd_max, source=source, gpu_memory=gpu_memory
    )


def top_processes(cmd_mode: str = "truncated", host: HostRoot = OWN) -> TopProcesses:
    """The top processes kept with the history, every 10 s (collect/topprocs.py)."""
    return TopProcesses(cmd_mode, source=None if host.is_own else ProcfsSource(host.proc))


def container_collectors(socket: str | None = None) -> list[Collector]:
    """The running containers, from ``socket`` (None: where engines put theirs; ``off``: none)."""
    return [] if socket == OFF else [ContainerCollector(socket)]
