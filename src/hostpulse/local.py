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


def build_sampler(
    interval: float, process_cmdline: str = "truncated", containers_socket: str | None = None
) -> Sampler:
    """Every collector of this machine, and the process table on demand."""
    return Sampler(
        registry.default_collectors() + registry.container_collectors(containers_socket),
        interval=interval,
        read_facts=host_facts.FactsReader().read,
        on_demand=[registry.process_collector(process_cmdline)],
    )


def host_id(settings: Settings) -> str:
    """The id this machine is shown under: the ``host_id`` setting, else its hostname."""
    return settings.host_id or socket.gethostname()


def build_local_host(settings: Settings) -> Host:
    """Sampled in this process, every sample kept in its history."""
    history = History(settings.history_path)
    sampler = build_sampler(settings.interval, settings.process_cmdline, settings.containers_socket)
    sampler.subscribe(history.add)
    return Host(host_id(settings), sampler, history)
