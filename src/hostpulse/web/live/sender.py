"""Encoding an event once and handing the same bytes to many viewers of the ``/live`` namespace.

A viewer on a websocket gets the frame through its :class:`~hostpulse.web.outbox.Outbox`
(written at once if its socket is idle, else kept as the newest of its kind); a viewer still on
long-polling gets it through Socket.IO's emit, to this worker's viewers only (nothing per tick
crosses a message queue: every worker holds every host).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from flask_socketio import SocketIO
from socketio import packet as sio_packet

from hostpulse.web.outbox import Outbox, Outboxes, ws_frame

NAMESPACE = "/live"

#: (outboxes of the websocket viewers, sids of the others): who gets a broadcast, worked out
#: once for many ticks.
Targets = tuple[list[Outbox], list[str]]


class Sender:
    def __init__(self, socketio: SocketIO, outboxes: Outboxes) -> None:
        self.socketio = socketio
        self.outboxes = outboxes

    def encode(self, event: str, data: Any) -> str:
        """The Engine.IO text of a Socket.IO event on /live, as Socket.IO encodes it."""
        # Our payloads are plain JSON: binary=False spares Socket.IO's walk of every element
        # looking for bytes (≈3 ms for a hello and its 5 minutes of history).
        pkt = self.socketio.server.packet_class(
            sio_packet.EVENT, namespace=NAMESPACE, data=[event, data], binary=False
        )
        return "4" + pkt.encode()

    def frame(self, event: str, data: Any) -> bytes:
        """The event as one websocket frame, ready for any number of outboxes."""
        return ws_frame(self.encode(event, data))

    def _outbox(self, sid: str) -> Outbox | None:
        eio_sid = self.socketio.server.manager.eio_sid_from_sid(sid, NAMESPACE)
        outbox = self.outboxes.by_eio_sid.get(eio_sid)
        return outbox if outbox is not None and outbox.direct else None

    def split(self, sids: Iterable[str]) -> Targets:
        """(outboxes of the websocket viewers, sids of the others)."""
        outboxes, others = [], []
        for sid in sids:
            outbox = self._outbox(sid)
            if outbox is not None:
                outboxes.append(outbox)
            else:
                others.append(sid)
        return outboxes, others

    def broadcast(self, targets: Targets, kind: str, data: Any) -> None:
        outboxes, others = targets
        if outboxes:
            frame = self.frame(kind, data)
            for outbox in outboxes:
                outbox.offer(kind, frame)
        if others:  # long-polling viewers: Socket.IO's path (it encodes once for the list)
            self.socketio.emit(kind, data, namespace=NAMESPACE, to=others, ignore_queue=True)

    def send(self, sid: str, event: str, data: Any, frame: bytes | None = None) -> None:
        """One viewer's own event (hello, resync, error), in order with its broadcasts;
        ``frame``: the event already encoded (a hello shared by many)."""
        outbox = self._outbox(sid)
        if outbox is None:
            self.socketio.emit(event, data, namespace=NAMESPACE, to=sid, ignore_queue=True)
            return
        with contextlib.suppress(OSError):
            outbox.send(frame if frame is not None else self.frame(event, data))
