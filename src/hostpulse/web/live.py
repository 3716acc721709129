"""Socket.IO namespace ``/live``: hello on connect, one encoded ``sample`` per tick for all.

See docs/PROTOCOL.md. The broadcaster is a sampler subscriber: with no viewer connected it
returns at once, so nothing is built, encoded or sent.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from flask import request
from flask_socketio import Namespace, SocketIO, join_room, leave_room
from prometheus_client import Histogram
from socketio import packet as sio_packet

from hostpulse.hub import HostFeed
from hostpulse.local import LocalHost
from hostpulse.sample import Sample
from hostpulse.web.clientaddr import ClientAddress
from hostpulse.web.fanout import Outbox, Outboxes, ws_frame

PROTOCOL_VERSION = 1
NAMESPACE = "/live"
VIEWERS = "viewers"
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


class Broadcaster:
    """Turns each tick into one ``sample`` event for every viewer (and ``processes``).

    Each event is encoded once into one websocket frame, and that frame is offered to every
    viewer's :class:`~hostpulse.web.fanout.Outbox` (websocket viewers); a viewer still on
    long-polling gets it through Socket.IO's emit.
    """

    def __init__(
        self,
        socketio: SocketIO,
        host: LocalHost,
        full_every: int,
        outboxes: Outboxes | None = None,
    ) -> None:
        self.socketio = socketio
        self.host = host
        self.feed = HostFeed(host.id, full_every)
        self.outboxes = outboxes or Outboxes(stall_timeout=30.0)
        self.outboxes.on_change = self._changed
        #: Socket.IO sid -> Engine.IO sid of each connected viewer.
        self.viewers: dict[str, str] = {}
        self.watchers: set[str] = set()  # viewers of the processes panel
        self._targets: dict[str, tuple[list[Outbox], list[str]]] | None = None
        self._hello_history: tuple[int, dict] | None = None
        self._hello_frame: tuple[tuple, bytes] | None = None
        self.fanout_seconds = Histogram(
            "hostpulse_fanout_seconds",
            "from a sample's ts to its frame handed to the last viewer's socket",
            buckets=FANOUT_BUCKETS,
            registry=None,
        )

    # --- who gets what ---------------------------------------------------------------------

    def add_viewer(self, sid: str, eio_sid: str) -> None:
        self.viewers[sid] = eio_sid
        self._changed()

    def remove_viewer(self, sid: str) -> None:
        self.viewers.pop(sid, None)
        self.watchers.discard(sid)
        self._changed()

    def watch(self, sid: str, watching: bool) -> None:
        (self.watchers.add if watching else self.watchers.discard)(sid)
        self._changed()

    def _changed(self) -> None:
        self._targets = None

    def _split(self, sids) -> tuple[list[Outbox], list[str]]:
        outboxes, others = [], []
        by_eio = self.outboxes.by_eio_sid
        for sid in sids:
            eio_sid = self.viewers.get(sid)
            outbox = by_eio.get(eio_sid) if eio_sid is not None else None
            if outbox is not None:
                outboxes.append(outbox)
            else:
                others.append(sid)
        return outboxes, others

    def _targets_of(self, kind: str) -> tuple[list[Outbox], list[str]]:
        if self._targets is None:
            self._targets = {
                "sample": self._split(self.viewers),
                "processes": self._split(self.watchers & self.viewers.keys()),
            }
        return self._targets["processes" if kind == "processes" else "sample"]

    # --- sending ---------------------------------------------------------------------------

    def encode(self, event: str, data: Any) -> str:
        """The Engine.IO text of a Socket.IO event on /live, as Socket.IO encodes it."""
        # Our payloads are plain JSON: binary=False spares Socket.IO's walk of every element
        # looking for bytes (≈3 ms for a hello and its 5 minutes of history).
        pkt = self.socketio.server.packet_class(
            sio_packet.EVENT, namespace=NAMESPACE, data=[event, data], binary=False
        )
        return "4" + pkt.encode()

    def broadcast(self, kind: str, data: Any) -> int:
        """Send event ``kind`` to its viewers; the frame is encoded once. Returns its size."""
        outboxes, others = self._targets_of(kind)
        if not outboxes and not others:
            return 0
        text = self.encode(kind, data)
        if outboxes:
            frame = ws_frame(text)
            for outbox in outboxes:
                outbox.offer(kind, frame)
        if others:  # long-polling viewers: Socket.IO's path (it encodes once for the list)
            self.socketio.emit(kind, data, namespace=NAMESPACE, to=others)
        return len(text)

    def send_to(self, sid: str, event: str, data: Any) -> None:
        """One viewer's own event (hello, resync, error), in order with its broadcasts."""
        outbox = self.outboxes.by_eio_sid.get(self.viewers.get(sid) or self._eio_sid(sid))
        if outbox is None:
            self.socketio.emit(event, data, namespace=NAMESPACE, to=sid)
            return
        with contextlib.suppress(OSError):
            outbox.send(ws_frame(self.encode(event, data)))

    def _eio_sid(self, sid: str) -> str | None:
        return self.socketio.server.manager.eio_sid_from_sid(sid, NAMESPACE)

    def on_sample(self, sample: Sample) -> None:
        if not self.viewers:
            return
        payload = self.feed.update(sample)
        self.broadcast("sample", payload)
        self.fanout_seconds.observe(max(0.0, time.time() - sample.ts))
        table = sample.tables.get("processes")
        if table is not None:
            event = {"host": self.host.id, "seq": sample.seq, "ts": sample.ts, **table}
            self.broadcast("processes", event)

    def on_facts(self, facts: dict[str, Any]) -> None:
        if self.viewers:
            self.broadcast("host", {"host": self.host.id, "facts": facts})

    def send_hello(self, sid: str) -> None:
        """The hello, encoded once a tick however many viewers (re)connect in it."""
        hello = self.hello()
        outbox = self.outboxes.by_eio_sid.get(self._eio_sid(sid))
        if outbox is None:
            self.socketio.emit("hello", hello, namespace=NAMESPACE, to=sid)
            return
        key = (hello["sample"] and hello["sample"]["seq"], id(hello["facts"]))
        if self._hello_frame is None or self._hello_frame[0] != key:
            self._hello_frame = (key, ws_frame(self.encode("hello", hello)))
        with contextlib.suppress(OSError):
            outbox.send(self._hello_frame[1])

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
    def __init__(self, broadcaster: Broadcaster, client_address: ClientAddress) -> None:
        super().__init__(NAMESPACE)
        self.broadcaster = broadcaster
        self.client_address = client_address

    def on_connect(self, auth: Any = None) -> None:
        sid = request.sid
        access_log.info(
            '%s - "WEBSOCKET CONNECT %s" sid=%s transport=%s',
            self.client_address(request.environ),
            NAMESPACE,
            sid,
            request.args.get("transport", "-"),
        )
        broadcaster = self.broadcaster
        broadcaster.send_hello(sid)
        join_room(VIEWERS)
        broadcaster.add_viewer(sid, broadcaster._eio_sid(sid))

    def on_disconnect(self, reason: Any = None) -> None:
        sid = request.sid
        self.broadcaster.remove_viewer(sid)
        self.broadcaster.host.sampler.want("processes", sid, False)
        access_log.info(
            '%s - "WEBSOCKET DISCONNECT %s" sid=%s reason=%s',
            self.client_address(request.environ),
            NAMESPACE,
            sid,
            reason,
        )

    def on_watch(self, data: Any = None) -> None:
        panels = data.get("panels") if isinstance(data, dict) else None
        if not isinstance(panels, list) or not all(isinstance(p, str) for p in panels):
            self._error("watch", "panels must be a list of strings")
            return
        unknown = set(panels) - PANELS
        if unknown:
            self._error("watch", f"unknown panels: {', '.join(sorted(unknown))}")
            return
        sid = request.sid
        watching = "processes" in panels
        self.broadcaster.host.sampler.want("processes", sid, watching)
        (join_room if watching else leave_room)("processes")
        self.broadcaster.watch(sid, watching)

    def on_resync(self, data: Any = None) -> None:
        payload = self.broadcaster.feed.full()
        if payload is not None:
            self.broadcaster.send_to(request.sid, "sample", payload)

    def on_ping(self, data: Any = None) -> dict[str, float]:
        return {"ts": time.time()}

    def _error(self, event: str, message: str) -> None:
        log.info("bad %r event from %s: %s", event, request.sid, message)
        self.broadcaster.send_to(request.sid, "error", {"event": event, "message": message})
