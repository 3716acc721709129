"""This machine as a monitored host: its collectors and its one sampler, built the same way
for ``serve``, ``agent`` and ``snapshot``, and (for ``serve``) its history."""

from __future__ import annotations

from hostpulse.collect import host as host_facts
from hostpulse.collect import registry
from hostpulse.collect.hostroot import HostRoot, use_for_psutil
from hostpulse.config import Settings
from hostpulse.history import History
from hostpulse.history.processes import NoProcessHistory, ProcessHistory
from hostpulse.host import Host
from hostpulse.sampler import Sampler


def build_sampler(settings: Settings, interval: float | None = None) -> Sampler:
    """Every collector of this machine (the one under ``host_root``: collect/hostroot.py,
    with its containers and GPUs where ``settings`` say), and the process table on demand;
    ``interval`` instead of the setting's (a snapshot's)."""
    host = HostRoot(str(settings.host_root))
    if not host.is_own:
        use_for_psutil(host)
    sysfs = str(settings.gpu_sysfs) if settings.gpu_sysfs else host.path("/sys")
    gpus = registry.gpu_collector(sysfs)  # one NVML handle: the GPUs and the process table
    containers = registry.container_collectors(settings.containers_socket)
    # The top processes every 10 s, for the history (collect/topprocs.py): read in the
    # tick like the on-demand table, one tick in ten, a few ms (docs/HISTORY.md); a
    # separate thread would gain nothing under gevent, where it would block the hub alike.
    wants_top = settings.process_history
    top = [registry.top_processes(settings.process_cmdline, host)] if wants_top else []
    return Sampler(
        registry.default_collectors(host, gpus) + containers + top,
        interval=settings.interval if interval is None else interval,
        read_facts=host_facts.FactsReader(host).read,
        on_demand=[registry.process_collector(settings.process_cmdline, host=host, gpus=gpus)],
    )


def host_id(settings: Settings) -> str:
    """The id this machine is shown under: the ``host_id`` setting, else its hostname (the
    host's, under ``host_root``)."""
    return settings.host_id or HostRoot(str(settings.host_root)).hostname()


def build_local_host(settings: Settings) -> Host:
    """Sampled in this process, every sample kept in its history."""
    history = History(settings.history_path)
    sampler = build_sampler(settings)
    sampler.subscribe(history.add)
    processes = process_history(settings, history)
    sampler.subscribe(processes.on_sample)
    return Host(host_id(settings), sampler, history, process_history=processes)


def process_history(settings: Settings, history: History) -> ProcessHistory | NoProcessHistory:
    """The top-process tables, in ``history``'s file (opened after it: it owns the file)."""
    return ProcessHistory(history.path) if settings.process_history else NoProcessHistory()
