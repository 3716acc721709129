"""Which collectors a sampler runs."""

from __future__ import annotations

from hostpulse.collect import Collector
from hostpulse.collect.cpu import CpuCollector
from hostpulse.collect.disks import DiskIOCollector, FilesystemCollector, HostPartitions
from hostpulse.collect.hostroot import HostRoot
from hostpulse.collect.memory import MemoryCollector
from hostpulse.collect.network import NetworkCollector, net_dev_reader
from hostpulse.collect.processes import CMD_MAX, ProcessCollector
from hostpulse.collect.procsource import ProcfsSource
from hostpulse.collect.sensors import HWMON_ROOT, SensorCollector

OWN = HostRoot()


def default_collectors(host: HostRoot = OWN) -> list[Collector]:
    """Every per-tick collector except the process table (which costs ~10x the rest), reading
    the host under ``host`` (hostroot.py; CPU and memory through psutil.PROCFS_PATH)."""
    return [
        CpuCollector(),
        MemoryCollector(),
        _filesystems(host),
        DiskIOCollector(sys_block=host.path("/sys/block")),
        _network(host),
        SensorCollector(root=host.path(HWMON_ROOT)),
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
    cmd_mode: str = "truncated", cmd_max: int = CMD_MAX, host: HostRoot = OWN
) -> ProcessCollector:
    source = None if host.is_own else ProcfsSource(host.proc)
    return ProcessCollector(cmd_mode=cmd_mode, cmd_max=cmd_max, source=source)
