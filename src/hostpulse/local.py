"""This machine as a monitored host: its collectors and its one sampler, built the same way
for ``serve``, ``agent`` and ``snapshot``, and (for ``serve``) its history."""

from __future__ import annotations

import socket

from hostpulse.collect import host as host_facts
from hostpulse.collect import registry
from hostpulse.config import Settings
from hostpulse.history import History
from hostpulse.host import Host
from hostpulse.sampler import Sampler


def build_sampler(settings: Settings, interval: float | None = None) -> Sampler:
    """Every collector of this machine (where ``settings`` say to look), and the process
    table on demand; ``interval`` instead of the setting's (a snapshot's)."""
    gpus = registry.gpu_collector(str(settings.gpu_sysfs))  # one NVML handle: GPUs and table
    containers = registry.container_collectors(settings.containers_socket)
    return Sampler(
        registry.default_collectors(gpus) + containers,
        interval=settings.interval if interval is None else interval,
        read_facts=host_facts.FactsReader().read,
        on_demand=[registry.process_collector(settings.process_cmdline, gpus=gpus)],
    )


def host_id(settings: Settings) -> str:
    """The id this machine is shown under: the ``host_id`` setting, else its hostname."""
    return settings.host_id or socket.gethostname()


def build_local_host(settings: Settings) -> Host:
    """Sampled in this process, every sample kept in its history."""
    history = History(settings.history_path)
    sampler = build_sampler(settings)
    sampler.subscribe(history.add)
    return Host(host_id(settings), sampler, history)
