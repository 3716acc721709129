"""Socket.IO namespace ``/live``: hello on connect, one encoded ``sample`` per tick for all.

See docs/PROTOCOL.md. A broadcaster per host is a sampler subscriber: with no viewer of its
host connected it returns at once, so nothing is built, encoded or sent. Which viewer watches
which host, and the overview of all hosts, is kept by :mod:`hostpulse.web.fleet`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import request
from flask_socketio import ConnectionRefusedError, Namespace, SocketIO, join_room, leave_room

from hostpulse.hub import HostFeed
from hostpulse.local import LocalHost
from hostpulse.sample import Sample
from hostpulse.web.clientaddr import ClientAddress

PROTOCOL_VERSION = 2
NAMESPACE = "/live"
PANELS = {"processes"}
HELLO_HISTORY_SECONDS = 300
#: The series a page charts on first paint; everything else comes from the REST history.
OVERVIEW_KEYS = (
    "cpu.total",
    "mem.percent",
    "swap.percent",
    "load.1",
    "disk.total.read_bps",
    "disk.total.write_bps",
    "net.total.rx_bps",
    "net.total.tx_bps",
)

log = logging.getLogger("hostpulse.live")
access_log = logging.getLogger("hostpulse.access")


class Broadcaster:
    """Turns each tick into one ``sample`` event for every viewer (and ``processes``)."""

    def __init__(self, socketio: SocketIO, host: LocalHost, full_every: int) -> None:
        self.socketio = socketio
        self.host = host
        #: This host's viewers, and those of them watching its processes panel.
        self.room = f"host:{host.id}"
        self.processes_room = f"processes:{host.id}"
        self.feed = HostFeed(host.id, full_every)
        self.viewers: set[str] = set()
        self._hello_history: tuple[int, dict] | None = None

    def on_sample(self, sample: Sample) -> None:
        if not self.viewers:
            return
        payload = self.feed.update(sample)
        self._emit("sample", payload, self.room)
        table = sample.tables.get("processes")
        if table is not None:
            event = {"host": self.host.id, "seq": sample.seq, "ts": sample.ts, **table}
            self._emit("processes", event, self.processes_room)

    def on_facts(self, facts: dict[str, Any]) -> None:
        if self.viewers:
            self._emit("host", {"host": self.host.id, "facts": facts}, self.room)

    def _emit(self, event: str, payload: Any, room: str) -> None:
        # Every worker holds every host and sends to its own viewers: not through the queue.
        self.socketio.emit(event, payload, namespace=NAMESPACE, to=room, ignore_queue=True)

    def hello(self) -> dict[str, Any]:
        latest = self.host.sampler.latest
        if latest is not None and self.feed.seq != latest.seq:
            # No viewer saw the last ticks: start the feed from the sample this hello carries.
            self.feed.seed(latest)
        return {
            "protocol": PROTOCOL_VERSION,
            "host": self.host.id,
            "interval": self.host.sampler.interval,
            "full_every": self.feed.full_every,
            "facts": self.host.sampler.facts,
            "sample": self.feed.snapshot(),
            "history": self._recent_history(latest),
        }

    def _recent_history(self, latest: Sample | None) -> dict[str, Any]:
        # A reconnect storm asks for the same five minutes many times: build it once a tick.
        seq = -1 if latest is None else latest.seq
        if self._hello_history is None or self._hello_history[0] != seq:
            raw = self.host.history.recent(list(OVERVIEW_KEYS), HELLO_HISTORY_SECONDS)
            series = {k: s["avg"] for k, s in raw["series"].items()}
            self._hello_history = (seq, {"step": raw["step"], "ts": raw["ts"], "series": series})
        return self._hello_history[1]


class LiveNamespace(Namespace):
    def __init__(
        self,
        fleet,
        client_address: ClientAddress,
        authorize: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__(NAMESPACE)
        self.fleet = fleet
        self.client_address = client_address
        self.authorize = authorize

    def on_connect(self, auth: Any = None) -> None:
        if not self.authorize():  # web/auth.py: refused at connect time, before any data
            raise ConnectionRefusedError("authentication required")
        sid = request.sid
        access_log.info(
            '%s - "WEBSOCKET CONNECT %s" sid=%s transport=%s',
            self.client_address(request.environ),
            NAMESPACE,
            sid,
            request.args.get("transport", "-"),
        )
        choice = auth if isinstance(auth, dict) else {}
        if choice.get("overview") is True:
            self.fleet.watching[sid] = None
            self.fleet.watch_overview(sid, True)
            return
        host = choice.get("host")
        self.fleet.join(sid, host if isinstance(host, str) else self.fleet.default)

    def on_disconnect(self, reason: Any = None) -> None:
        sid = request.sid
        self.fleet.leave(sid)
        access_log.info(
            '%s - "WEBSOCKET DISCONNECT %s" sid=%s reason=%s',
            self.client_address(request.environ),
            NAMESPACE,
            sid,
            reason,
        )

    def on_watch(self, data: Any = None) -> None:
        if not isinstance(data, dict):
            self._error("watch", "watch takes an object")
            return
        sid = request.sid
        if "host" in data:
            host = data["host"]
            if not isinstance(host, str) or not 0 < len(host) <= 128:
                self._error("watch", "host must be a host id")
                return
            self.fleet.join(sid, host)
        if "overview" in data:
            if not isinstance(data["overview"], bool):
                self._error("watch", "overview must be true or false")
                return
            self.fleet.watch_overview(sid, data["overview"])
        if "panels" in data:
            self._watch_panels(sid, data["panels"])

    def _watch_panels(self, sid: str, panels: Any) -> None:
        if not isinstance(panels, list) or not all(isinstance(p, str) for p in panels):
            self._error("watch", "panels must be a list of strings")
            return
        unknown = set(panels) - PANELS
        if unknown:
            self._error("watch", f"unknown panels: {', '.join(sorted(unknown))}")
            return
        broadcaster = self._broadcaster(sid)
        if broadcaster is None:
            return
        watching = "processes" in panels
        broadcaster.host.sampler.want("processes", sid, watching)
        (join_room if watching else leave_room)(broadcaster.processes_room)

    def on_resync(self, data: Any = None) -> None:
        broadcaster = self._broadcaster(request.sid)
        payload = None if broadcaster is None else broadcaster.feed.full()
        if payload is not None:
            self.fleet._send("sample", payload, request.sid)

    def on_ping(self, data: Any = None) -> dict[str, float]:
        return {"ts": time.time()}

    def _broadcaster(self, sid: str) -> Broadcaster | None:
        return self.fleet.broadcasters.get(self.fleet.watching.get(sid) or "")

    def _error(self, event: str, message: str) -> None:
        log.info("bad %r event from %s: %s", event, request.sid, message)
        self.fleet._send("error", {"event": event, "message": message}, request.sid)
