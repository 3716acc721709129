"""Socket.IO namespace ``/live``: hello on connect, one encoded ``sample`` per tick for all.

See docs/PROTOCOL.md. A broadcaster per host is a sampler subscriber: with no viewer of its
host connected it returns at once, so nothing is built, encoded or sent. Which viewer watches
which host, and the overview of all hosts, is kept by :mod:`hostpulse.web.fleet`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import request
from flask_socketio import ConnectionRefusedError, Namespace, SocketIO, join_room, leave_room
from prometheus_client import Histogram
from socketio import packet as sio_packet

from hostpulse.hub import HostFeed
from hostpulse.local import LocalHost
from hostpulse.sample import Sample, Table
from hostpulse.web.clientaddr import ClientAddress
from hostpulse.web.fanout import Outbox, Outboxes, ws_frame

PROTOCOL_VERSION = 2
NAMESPACE = "/live"
PANELS = {"processes"}
HELLO_HISTORY_SECONDS = 300
FANOUT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5)
FANOUT_BUCKETS += (0.75, 1.0, 2.5, 5.0)
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


def fanout_histogram() -> Histogram:
    """``hostpulse_fanout_seconds``: from a sample's ts to its frame handed to the last
    viewer's socket, by host (registered on /metrics by the app)."""
    return Histogram(
        "hostpulse_fanout_seconds",
        "from a sample's ts to its frame handed to the last viewer's socket",
        ["host"],
        buckets=FANOUT_BUCKETS,
        registry=None,
    )


class Sender:
    """Encodes an event once and hands the same bytes to many viewers.

    A viewer on a websocket gets the frame through its :class:`~hostpulse.web.fanout.Outbox`
    (written at once if its socket is idle, else kept as the newest of its kind); a viewer
    still on long-polling gets it through Socket.IO's emit, to this worker's viewers only.
    """

    def __init__(self, socketio: SocketIO, outboxes: Outboxes) -> None:
        self.socketio = socketio
        self.outboxes = outboxes

    def eio_sid(self, sid: str) -> str | None:
        return self.socketio.server.manager.eio_sid_from_sid(sid, NAMESPACE)

    def encode(self, event: str, data: Any) -> str:
        """The Engine.IO text of a Socket.IO event on /live, as Socket.IO encodes it."""
        # Our payloads are plain JSON: binary=False spares Socket.IO's walk of every element
        # looking for bytes (≈3 ms for a hello and its 5 minutes of history).
        pkt = self.socketio.server.packet_class(
            sio_packet.EVENT, namespace=NAMESPACE, data=[event, data], binary=False
        )
        return "4" + pkt.encode()

    def split(self, sids: Iterable[str]) -> tuple[list[Outbox], list[str]]:
        """(outboxes of the websocket viewers, sids of the others)."""
        outboxes, others = [], []
        by_eio = self.outboxes.by_eio_sid
        for sid in sids:
            outbox = by_eio.get(self.eio_sid(sid))
            if outbox is not None and outbox.direct:
                outboxes.append(outbox)
            else:
                others.append(sid)
        return outboxes, others

    def broadcast(self, targets: tuple[list[Outbox], list[str]], kind: str, data: Any) -> None:
        outboxes, others = targets
        if outboxes:
            frame = ws_frame(self.encode(kind, data))
            for outbox in outboxes:
                outbox.offer(kind, frame)
        if others:  # long-polling viewers: Socket.IO's path (it encodes once for the list)
            self.socketio.emit(kind, data, namespace=NAMESPACE, to=others, ignore_queue=True)

    def send(self, sid: str, event: str, data: Any, frame: bytes | None = None) -> None:
        """One viewer's own event (hello, resync, error), in order with its broadcasts."""
        outbox = self.outboxes.by_eio_sid.get(self.eio_sid(sid))
        if outbox is None or not outbox.direct:
            self.socketio.emit(event, data, namespace=NAMESPACE, to=sid, ignore_queue=True)
            return
        with contextlib.suppress(OSError):
            outbox.send(frame if frame is not None else ws_frame(self.encode(event, data)))


class Broadcaster:
    """Turns each tick into one ``sample`` event for every viewer (and ``processes``, see
    :meth:`on_table`, for those watching that panel).

    Each event is encoded once into one websocket frame, offered to every viewer's outbox.
    Who gets what is worked out again only when a viewer or a connection comes or goes.
    """

    def __init__(
        self,
        socketio: SocketIO,
        host: LocalHost,
        full_every: int,
        sender: Sender | None = None,
        fanout_seconds: Histogram | None = None,
    ) -> None:
        self.socketio = socketio
        self.host = host
        #: This host's viewers, and those of them watching its processes panel.
        self.room = f"host:{host.id}"
        self.processes_room = f"processes:{host.id}"
        self.feed = HostFeed(host.id, full_every)
        self.sender = sender or Sender(socketio, Outboxes(stall_timeout=30.0))
        self.viewers: set[str] = set()
        self.watchers: set[str] = set()
        self._targets: dict[str, tuple[list[Outbox], list[str]]] = {}
        self._targets_version = -1
        self._hello_history: tuple[int, dict] | None = None
        self._hello_frame: tuple[tuple, bytes] | None = None
        histogram = fanout_seconds or fanout_histogram()
        self._fanout_seconds = histogram.labels(host.id)

    def add_viewer(self, sid: str) -> None:
        self.viewers.add(sid)
        self._targets_version = -1

    def remove_viewer(self, sid: str) -> None:
        self.viewers.discard(sid)
        self.watchers.discard(sid)
        self._targets_version = -1

    def watch(self, sid: str, watching: bool) -> None:
        (self.watchers.add if watching else self.watchers.discard)(sid)
        self._targets_version = -1

    def _targets_of(self, kind: str) -> tuple[list[Outbox], list[str]]:
        version = self.sender.outboxes.version
        if self._targets_version != version:
            self._targets = {
                "sample": self.sender.split(self.viewers),
                "processes": self.sender.split(self.watchers & self.viewers),
            }
            self._targets_version = version
        return self._targets["processes" if kind == "processes" else "sample"]

    def on_sample(self, sample: Sample) -> None:
        if not self.viewers:
            return
        payload = self.feed.update(sample)
        self.sender.broadcast(self._targets_of("sample"), "sample", payload)
        self._fanout_seconds.observe(max(0.0, time.time() - sample.ts))

    def on_table(self, table: Table) -> None:
        """An on-demand table, local or from an agent, to the viewers watching its panel."""
        if table.name == "processes" and self.watchers and self.viewers:
            event = {"host": self.host.id, "seq": table.seq, "ts": table.ts, **table.data}
            self.sender.broadcast(self._targets_of("processes"), "processes", event)

    def on_facts(self, facts: dict[str, Any]) -> None:
        if self.viewers:
            event = {"host": self.host.id, "facts": facts}
            self.sender.broadcast(self._targets_of("host"), "host", event)

    def send_hello(self, sid: str) -> dict[str, Any]:
        """The hello to ``sid``, encoded once a tick however many viewers (re)connect in it."""
        hello = self.hello()
        key = (hello["sample"] and hello["sample"]["seq"], id(hello["facts"]))
        if self._hello_frame is None or self._hello_frame[0] != key:
            self._hello_frame = (key, ws_frame(self.sender.encode("hello", hello)))
        self.sender.send(sid, "hello", hello, frame=self._hello_frame[1])
        return hello

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
        broadcaster.watch(sid, watching)

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
