"""What ``serve`` runs, built from Settings: the hosts it serves and what keeps them fresh.

Without Redis: this machine, sampled in this process (:mod:`hostpulse.local`). With Redis: a
:class:`~hostpulse.remote.reader.Reader` that finds every host agents publish there and adds
it to the same list, and, with ``sample_local``, this machine's :class:`~hostpulse.agent.Agent`
publishing into Redis like any other (so every worker shows it). The web layer is handed the
result and builds nothing of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from hostpulse.agent import Agent
from hostpulse.alerts.engine import Alerts
from hostpulse.alerts.shared import SharedStarts
from hostpulse.alerts.store import AlertStore
from hostpulse.collect.host import machine_names
from hostpulse.config import Settings
from hostpulse.host import STALE_AFTER, Host, Hosts
from hostpulse.local import build_local_host
from hostpulse.notify import Notifier, build_notifier
from hostpulse.remote.reader import Reader


@dataclass(eq=False)
class Runtime:
    settings: Settings
    #: Every host this process serves: the web layer's one list.
    hosts: Hosts
    #: This machine sampled and served here (None with Redis).
    local: Host | None = None
    #: Follows Redis and adds the hosts it finds to ``hosts`` (None without Redis).
    reader: Reader | None = None
    #: This machine published to Redis from inside this process (``sample_local``).
    agent: Agent | None = None
    #: Tells people of alerts (None when no notification URL is configured).
    notifier: Notifier | None = None
    #: Every host's alert rules, states and events (docs/ALERTS.md).
    alerts: Alerts | None = None

    @staticmethod
    def machine_names() -> set[str]:
        """The names and addresses of the machine serving (what a request's Host may be)."""
        return machine_names()

    @property
    def discovers_hosts(self) -> bool:
        """True when hosts come and go (Redis), False for the one local host."""
        return self.reader is not None

    @property
    def default_host(self) -> str | None:
        """The host a viewer sees when it does not name one."""
        if self.local is not None:
            return self.local.id
        return self.agent.host_id if self.agent is not None else None

    def health(self) -> tuple[dict[str, Any], bool]:
        """(what /healthz answers, healthy): the local sampler's last tick within
        ``STALE_AFTER`` intervals (the host is online), or, with no sampler of its own,
        Redis readable. A history file that cannot be written (a full disk) makes the
        answer ``degraded``, still healthy: the live dashboard goes on, the rows wait."""
        body, healthy = self._serving()
        unwritten = {h.id: h.history.write_error for h in self.hosts if h.history.write_error}
        if unwritten:
            body["history"] = {"status": "cannot write", "hosts": unwritten}
            if healthy:
                body["status"] = "degraded"
        return body, healthy

    def _serving(self) -> tuple[dict[str, Any], bool]:
        if self.local is None:
            connected = self.reader is not None and self.reader.connected
            status = "ok" if connected else "redis unreachable"
            return {"status": status, "hosts": len(self.hosts)}, connected
        last = self.local.stats.last_tick_monotonic
        if last is None:
            return {"status": "starting", "last_tick_age": None}, False
        age = round(time.monotonic() - last, 3)
        healthy = age <= STALE_AFTER * self.local.interval
        return {"status": "ok" if healthy else "stalled", "last_tick_age": age}, healthy

    def start(self) -> None:
        """Start sampling and reading: with the server, not with the first viewer."""
        if self.notifier is not None:  # first: whatever starts next may have alerts
            self.notifier.start()
        if self.alerts is not None:
            self.alerts.start()
        if self.local is not None:
            self.local.start()
        if self.reader is not None:
            self.reader.start()
        if self.agent is not None:
            self.agent.start()

    def stop(self) -> None:
        """Stop publishing and reading, then every host (its history written out)."""
        if self.agent is not None:
            self.agent.stop()
        if self.reader is not None:
            self.reader.stop()
        for host in self.hosts:
            host.stop()
        if self.alerts is not None:
            self.alerts.stop()  # after the hosts: the last samples' transitions recorded
        if self.notifier is not None:  # last: the hosts' final transitions are in
            self.notifier.stop()


def build(settings: Settings) -> Runtime:
    hosts = Hosts()
    if settings.redis is None:
        local = build_local_host(settings)
        hosts.add(local)
        runtime = Runtime(settings, hosts, local=local)
    else:
        reader = Reader(
            settings.redis,
            maxlen=settings.redis_maxlen,
            history_dir=None if settings.memory_only else settings.data_dir / "hosts",
            hosts=hosts,
            process_cmdline=settings.process_cmdline,
            process_history=settings.process_history,
        )
        agent = Agent(settings) if settings.sample_local else None
        runtime = Runtime(settings, hosts, reader=reader, agent=agent)
    runtime.notifier = build_notifier(settings)
    runtime.alerts = build_alerts(settings, runtime)
    return runtime


def build_alerts(settings: Settings, runtime: Runtime) -> Alerts:
    """The rules over every host: evaluated in this process, for remote hosts too (an agent
    that has died cannot say it is offline; docs/ALERTS.md), recorded in ``alerts.sqlite``."""
    path = None if settings.memory_only else settings.data_dir / "alerts.sqlite"
    alerts = Alerts(
        settings.alerts,
        AlertStore(path),
        shared=SharedStarts(settings.redis) if settings.redis else None,
        notifier=runtime.notifier,
        watch_offline=settings.redis is not None,
    )
    runtime.hosts.on_added(alerts.watch)
    return alerts
