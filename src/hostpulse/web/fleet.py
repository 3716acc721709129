"""Many hosts on one worker: a broadcaster per host, and the overview of all of them.

Each host has its :class:`~hostpulse.web.live.Broadcaster` and Socket.IO room; a viewer is in
one host's room, or in the overview room, or both. The overview is one ``overview`` event
carrying the small summary of every host that changed since the previous one, sent shortly
after new samples arrive and at most once per ``OVERVIEW_TICK`` (web/pacing.py): with hundreds
of hosts a viewer gets one message a second, not one per host.

Every worker holds every host (it reads them all from Redis), so events go to the viewers
connected to this worker only (``ignore_queue``): nothing per tick crosses the message queue.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask_socketio import SocketIO

from hostpulse.web.fanout import Outboxes, ws_frame
from hostpulse.web.live import NAMESPACE, Broadcaster, Sender, fanout_histogram
from hostpulse.web.pacing import Pacer

log = logging.getLogger("hostpulse.live")

OVERVIEW_ROOM = "overview"
#: At most one overview message per tick ...
OVERVIEW_TICK = 1.0
#: ... sent this long after the first new sample, so samples arriving together share it.
OVERVIEW_COALESCE = 0.05
#: No sample for this many intervals: stale; for OFFLINE_AFTER: offline.
STALE_AFTER = 3
OFFLINE_AFTER = 10
#: Seconds of per-host history in the overview's first message (the cards' small charts).
SPARK_SECONDS = 60
SPARK_KEYS = ("cpu.total", "mem.percent", "net.total.rx_bps", "net.total.tx_bps")


def host_status(host, now: float | None = None) -> str:
    """``starting`` (never sampled), ``online``, ``stale`` (3 intervals), ``offline`` (10)."""
    last = host.sampler.stats.last_tick_monotonic
    if last is None:
        return "starting"
    late = (time.monotonic() if now is None else now) - last
    interval = host.sampler.interval
    if late <= STALE_AFTER * interval:
        return "online"
    return "stale" if late <= OFFLINE_AFTER * interval else "offline"


def _r(value: Any, places: int = 1) -> Any:
    return None if value is None else round(value, places)


def summary(host, status: str) -> dict[str, Any]:
    """What an overview card shows of one host."""
    latest = host.sampler.latest
    values = latest.values if latest is not None else {}
    busiest = None
    for key, value in values.items():
        if value is None or not (key.startswith("fs.") and key.endswith(".percent")):
            continue
        if busiest is None or value > busiest[1]:
            busiest = (key[3:-8], value)
    return {
        "status": status,
        "last_seen": None if latest is None else latest.ts,
        "interval": host.sampler.interval,
        "hostname": host.sampler.facts.get("hostname"),
        "cpu": _r(values.get("cpu.total")),
        "mem": _r(values.get("mem.percent")),
        "load": _r(values.get("load.1"), 2),
        "fs": None if busiest is None else [busiest[0], _r(busiest[1])],
        "rx": _r(values.get("net.total.rx_bps"), 0),
        "tx": _r(values.get("net.total.tx_bps"), 0),
    }


class Fleet:
    def __init__(
        self,
        socketio: SocketIO,
        full_every: int,
        default: str | None = None,
        outboxes: Outboxes | None = None,
    ) -> None:
        self.socketio = socketio
        #: The websocket connections of this worker (web/fanout.py) and how to send to them.
        self.outboxes = outboxes or Outboxes(stall_timeout=30.0)
        self.sender = Sender(socketio, self.outboxes)
        self.fanout_seconds = fanout_histogram()
        self.full_every = full_every
        self.default = default
        self.hosts: dict[str, Any] = {}
        self.broadcasters: dict[str, Broadcaster] = {}
        #: sid -> the host id it watches (None: none)
        self.watching: dict[str, str | None] = {}
        #: sids that asked for a host this worker does not know (yet): host id -> sids
        self.pending: dict[str, set[str]] = {}
        self.overview_viewers: set[str] = set()
        self._sent: dict[str, dict[str, Any]] = {}
        self._spark_cache: tuple[float, dict] | None = None
        #: (built at, payload, frame) of the full overview new overview viewers get.
        self._full_cache: tuple[float, dict, bytes] | None = None
        self._pacer = Pacer(OVERVIEW_TICK, OVERVIEW_COALESCE)
        #: Set when a sample opens a pacing window: the overview loop re-reads its due time.
        self._wake = threading.Event()
        self._unsubscribe: list = []
        self._running = False

    # --- hosts ---------------------------------------------------------------------------

    def add_host(self, host) -> Broadcaster:
        broadcaster = Broadcaster(
            self.socketio, host, self.full_every, self.sender, self.fanout_seconds
        )
        self.broadcasters[host.id] = broadcaster
        self.hosts[host.id] = host
        self._unsubscribe += [
            host.sampler.subscribe(broadcaster.on_sample),
            host.sampler.subscribe(self._on_sample),
            host.sampler.subscribe_facts(broadcaster.on_facts),
            host.sampler.subscribe_tables(broadcaster.on_table),
        ]
        for sid in self.pending.pop(host.id, ()):
            if self.watching.get(sid) == host.id:
                self.join(sid, host.id)
        return broadcaster

    def viewer_count(self) -> int:
        return len(self.watching)

    # --- viewers -------------------------------------------------------------------------

    def join(self, sid: str, host_id: str | None) -> dict[str, Any]:
        """Put ``sid`` in ``host_id``'s room (leaving the previous one); its ``hello``."""
        self.leave(sid, keep_overview=True)
        self.watching[sid] = host_id
        broadcaster = self.broadcasters.get(host_id) if host_id else None
        if broadcaster is None:
            if host_id:
                self.pending.setdefault(host_id, set()).add(sid)
            hello = self._empty_hello(host_id)
            self._send("hello", hello, sid)
            return hello
        hello = broadcaster.send_hello(sid)
        self.socketio.server.enter_room(sid, broadcaster.room, namespace=NAMESPACE)
        broadcaster.add_viewer(sid)
        return hello

    def _empty_hello(self, host_id: str | None) -> dict[str, Any]:
        from hostpulse.web.live import PROTOCOL_VERSION

        return {
            "protocol": PROTOCOL_VERSION,
            "host": host_id,
            "interval": None,
            "full_every": self.full_every,
            "facts": {},
            "sample": None,
            "history": {"step": 1, "ts": [], "series": {}},
        }

    def leave(self, sid: str, *, keep_overview: bool = False) -> None:
        host_id = self.watching.pop(sid, None)
        if host_id is not None:
            self.pending.get(host_id, set()).discard(sid)
            broadcaster = self.broadcasters.get(host_id)
            if broadcaster is not None:
                broadcaster.remove_viewer(sid)
                broadcaster.host.sampler.want("processes", sid, False)
                self.socketio.server.leave_room(sid, broadcaster.room, namespace=NAMESPACE)
                self.socketio.server.leave_room(
                    sid, broadcaster.processes_room, namespace=NAMESPACE
                )
        if not keep_overview:
            self.watch_overview(sid, False)

    def watch_overview(self, sid: str, on: bool) -> None:
        if on:
            self.overview_viewers.add(sid)
            self.socketio.server.enter_room(sid, OVERVIEW_ROOM, namespace=NAMESPACE)
            _, payload, frame = self._full_overview()
            self.sender.send(sid, "overview", payload, frame)
        elif sid in self.overview_viewers:
            self.overview_viewers.discard(sid)
            self.socketio.server.leave_room(sid, OVERVIEW_ROOM, namespace=NAMESPACE)

    def _send(self, event: str, payload: Any, sid: str) -> None:
        self.sender.send(sid, event, payload)

    # --- the overview --------------------------------------------------------------------

    def summaries(self) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        return {hid: summary(host, host_status(host, now)) for hid, host in self.hosts.items()}

    def overview_full(self) -> dict[str, Any]:
        current = self.summaries()
        return {
            "ts": time.time(),
            "full": True,
            "hosts": current,
            "gone": [],
            "history": self._sparks(),
        }

    def _full_overview(self) -> tuple[float, dict[str, Any], bytes]:
        """The full overview, built and encoded once however many viewers open it at once.

        With 100 hosts it is ~0.5 MB of JSON (their minute of history), ~20 ms to encode:
        once per viewer, a reconnect of hundreds stalled the worker for seconds. It is
        rebuilt after every delta (a viewer given an older one would miss that delta's
        changes) and at least once a tick (the charts' history moves on)."""
        cached = self._full_cache
        if cached is None or time.monotonic() - cached[0] >= OVERVIEW_TICK:
            payload = self.overview_full()
            frame = ws_frame(self.sender.encode("overview", payload))
            cached = self._full_cache = (time.monotonic(), payload, frame)
        return cached

    def overview_delta(self) -> dict[str, Any] | None:
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
        for hid, host in self.hosts.items():
            raw = host.history.recent(list(SPARK_KEYS), SPARK_SECONDS)
            sparks[hid] = {"ts": raw["ts"], **{k: s["avg"] for k, s in raw["series"].items()}}
        self._spark_cache = (now, sparks)
        return sparks

    def _on_sample(self, sample) -> None:
        if self._pacer.changed(time.monotonic()):
            self._wake.set()

    def run_overview(self) -> None:
        """One ``overview`` event to the overview room when the pacer says it is due."""
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
                sent = self._send_overview()
            except Exception:
                log.exception("overview tick failed")
            self._pacer.done(started, sent)

    def _send_overview(self) -> bool:
        """True when something changed: a message went out (or would have, to nobody)."""
        delta = self.overview_delta()
        if delta is None:
            return False
        if self.overview_viewers:
            self.sender.broadcast(self.sender.split(self.overview_viewers), "overview", delta)
        return True

    def stop(self) -> None:
        self._running = False
        self._wake.set()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
