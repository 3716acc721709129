"""This machine as a monitored host: its collectors, its one sampler, its history."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from hostpulse.collect import host as host_facts
from hostpulse.collect import registry
from hostpulse.config import Settings
from hostpulse.history import History
from hostpulse.sampler import Sampler


@dataclass
class LocalHost:
    id: str
    sampler: Sampler
    history: History

    def start(self) -> None:
        self.sampler.start()

    def stop(self) -> None:
        """Stop ticking, then write what history still holds in memory."""
        self.sampler.stop()
        self.history.close()


def build_local_host(settings: Settings) -> LocalHost:
    history = History(settings.history_path)
    sampler = Sampler(
        registry.default_collectors(),
        interval=settings.interval,
        read_facts=host_facts.FactsReader().read,
        on_demand=[registry.process_collector(settings.process_cmdline)],
    )
    sampler.subscribe(history.add)
    return LocalHost(settings.host_id or socket.gethostname(), sampler, history)
