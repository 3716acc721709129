"""The overview of every host: one ``overview`` event carrying the small summary of each host
that changed since the previous one, sent shortly after new samples arrive and at most once per
``OVERVIEW_TICK`` (pacing.py): with hundreds of hosts a viewer gets one message a second, not
one per host. A viewer opening it gets the full overview with every host's last minute, built
and encoded once however many open it at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from hostpulse.host import Host, Hosts
from hostpulse.web.live.pacing import Pacer
from hostpulse.web.live.sender import Sender
from hostpulse.web.live.viewers import Viewers

log = logging.getLogger("hostpulse.live")

#: At most one overview message per tick ...
OVERVIEW_TICK = 1.0
#: ... sent this long after the first new sample, so samples arriving together share it.
OVERVIEW_COALESCE = 0.05
#: Seconds of per-host history in the overview's first message (the cards' small charts).
SPARK_SECONDS = 60
SPARK_KEYS = ("cpu.total", "mem.percent", "net.total.rx_bps", "net.total.tx_bps")


def _r(value: Any, places: int = 1) -> Any:
    return None if value is None else round(value, places)


def summary(host: Host, status: str) -> dict[str, Any]:
    """What an overview card shows of one host."""
    latest = host.latest
    values = latest.values if latest is not None else {}
    busiest = None
    gpu_sum, gpus = 0.0, 0
    for key, value in values.items():
        if value is None:
            continue
        if key.startswith("gpu.") and key.endswith(".util"):
            gpu_sum, gpus = gpu_sum + value, gpus + 1
        if not (key.startswith("fs.") and key.endswith(".percent")):
            continue
        if busiest is None or value > busiest[1]:
            busiest = (key[3:-8], value)
    card = {
        "status": status,
        "last_seen": None if latest is None else latest.ts,
        "interval": host.interval,
        "hostname": host.facts.get("hostname"),
        "cpu": _r(values.get("cpu.total")),
        "mem": _r(values.get("mem.percent")),
        "load": _r(values.get("load.1"), 2),
        "fs": None if busiest is None else [busiest[0], _r(busiest[1])],
        "rx": _r(values.get("net.total.rx_bps"), 0),
        "tx": _r(values.get("net.total.tx_bps"), 0),
    }
    if gpus:  # the mean utilization over the host's GPUs; no field (no row) without one
        card["gpu"] = _r(gpu_sum / gpus)
    containers = containers_summary(host.facts.get("containers"))
    if containers is not None:  # only hosts with an engine: the others' frames stay as they were
        card["containers"] = containers
    return card


def containers_summary(table: Any) -> list[int] | None:
    """[running, unhealthy] from the host's containers facts (paused ones do not run);
    None without an engine."""
    if not isinstance(table, dict):
        return None
    rows = [row for row in table.values() if isinstance(row, dict)]
    running = sum(1 for row in rows if row.get("state", "running") == "running")
    return [running, sum(1 for row in rows if row.get("health") == "unhealthy")]


class Overview:
    def __init__(self, hosts: Hosts, viewers: Viewers, sender: Sender) -> None:
        self.hosts = hosts
        self.viewers = viewers
        self.sender = sender
        self._sent: dict[str, dict[str, Any]] = {}
        self._spark_cache: tuple[float, dict] | None = None
        #: (built at, payload, frame) of the full overview new overview viewers get.
        self._full_cache: tuple[float, dict, bytes] | None = None
        self._pacer = Pacer(OVERVIEW_TICK, OVERVIEW_COALESCE)
        #: Set when a sample opens a pacing window: the loop re-reads its due time.
        self._wake = threading.Event()
        self._running = False
        self._unsubscribe: list[Callable[[], None]] = []
        self._unsubscribe.append(hosts.on_added(self._follow))

    def _follow(self, host: Host) -> None:
        self._unsubscribe.append(host.feed.subscribe(self._on_sample))

    # --- what a viewer gets --------------------------------------------------------------

    def open(self, sid: str) -> None:
        """The full overview to a viewer that just opened it."""
        _, payload, frame = self._full()
        self.sender.send(sid, "overview", payload, frame)

    def summaries(self) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        return {host.id: summary(host, host.status(now)) for host in self.hosts}

    def full(self) -> dict[str, Any]:
        return {
            "ts": time.time(),
            "full": True,
            "hosts": self.summaries(),
            "gone": [],
            "history": self._sparks(),
        }

    def _full(self) -> tuple[float, dict[str, Any], bytes]:
        """The full overview, built and encoded once however many viewers open it at once.

        With 100 hosts it is ~0.5 MB of JSON (their minute of history), ~20 ms to encode:
        once per viewer, a reconnect of hundreds stalled the worker for seconds. It is
        rebuilt after every delta (a viewer given an older one would miss that delta's
        changes) and at least once a tick (the charts' history moves on)."""
        cached = self._full_cache
        if cached is None or time.monotonic() - cached[0] >= OVERVIEW_TICK:
            payload = self.full()
            cached = self._full_cache = (
                time.monotonic(),
                payload,
                self.sender.frame("overview", payload),
            )
        return cached

    def delta(self) -> dict[str, Any] | None:
        """The hosts whose summary changed since the last call; None when none did."""
        current = self.summaries()
        changed = {hid: s for hid, s in current.items() if self._sent.get(hid) != s}
        gone = [hid for hid in self._sent if hid not in current]
        self._sent = current
        if not changed and not gone:
            return None
        self._full_cache = None
        return {"ts": time.time(), "full": False, "hosts": changed, "gone": gone}

    def _sparks(self) -> dict[str, Any]:
        # Built at most once a second, however many viewers open the overview at once.
        now = time.monotonic()
        if self._spark_cache is not None and now - self._spark_cache[0] < OVERVIEW_TICK:
            return self._spark_cache[1]
        sparks = {}
        for host in self.hosts:
            raw = host.history.recent(list(SPARK_KEYS), SPARK_SECONDS)
            sparks[host.id] = {"ts": raw["ts"], **{k: s["avg"] for k, s in raw["series"].items()}}
        self._spark_cache = (now, sparks)
        return sparks

    # --- the loop ------------------------------------------------------------------------

    def _on_sample(self, sample) -> None:
        if self._pacer.changed(time.monotonic()):
            self._wake.set()

    def run(self) -> None:
        """One ``overview`` event to the overview's viewers when the pacer says it is due."""
        self._running = True
        while self._running:
            wait = self._pacer.due() - time.monotonic()
            if wait > 0:
                self._wake.wait(wait)
                self._wake.clear()
                continue
            started = time.monotonic()
            sent = False
            try:
                sent = self._send_delta()
            except Exception:
                log.exception("overview tick failed")
            self._pacer.done(started, sent)

    def _send_delta(self) -> bool:
        """True when something changed: a message went out (or would have, to nobody)."""
        delta = self.delta()
        if delta is None:
            return False
        if self.viewers.overview:
            self.sender.broadcast(self.sender.split(self.viewers.overview), "overview", delta)
        return True

    def stop(self) -> None:
        self._running = False
        self._wake.set()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
