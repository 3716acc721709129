"""Writing frames to websocket viewers: one writer per connection, newest-only, stall-bounded.

Pure websocket bytes on a non-blocking socket: nothing here knows Engine.IO or Socket.IO
(web/driver.py connects an :class:`Outbox` to each Engine.IO session).

- A broadcast (:meth:`Outbox.offer`) hands the outbox a websocket frame built once for all
  viewers. If the socket is idle the frame is written at once, non-blocking, by the caller:
  no queue, no greenlet switch. If it is not, the frame waits as the newest of its kind and
  replaces an older one not yet started (a viewer sees a ``seq`` gap and resyncs).
- A connection's own packets (:meth:`Outbox.send`: its hello, acks, pings, close) are kept in
  order, at most ``MAX_CONTROL_BYTES`` of them.
- An outbox that could not drain gets a flusher greenlet that waits for the socket to be
  writable; a connection still not drained after ``stall_timeout`` seconds is shut down.
"""

from __future__ import annotations

import logging
import socket
import struct
import time

import gevent
from gevent.socket import wait_write

log = logging.getLogger("hostpulse.fanout")

#: Engine.IO's own packets a viewer may have pending (hello ≈ 20 KB, acks, errors, pings).
#: A client that keeps asking (resync, ping) without reading is cut off past this.
MAX_CONTROL_BYTES = 512 * 1024


def ws_frame(payload: str | bytes) -> bytes:
    """One unmasked, unfragmented server-to-client websocket frame (text for str)."""
    if isinstance(payload, str):
        data, first = payload.encode(), 0x81
    else:
        data, first = bytes(payload), 0x82
    n = len(data)
    if n < 126:
        header = bytes((first, n))
    elif n < 65536:
        header = struct.pack("!BBH", first, 126, n)
    else:
        header = struct.pack("!BBQ", first, 127, n)
    return header + data


class Outbox:
    """The one writer of a websocket connection's bytes."""

    __slots__ = (
        "_sock",
        "blocked_since",
        "closed",
        "control",
        "control_bytes",
        "direct",
        "flusher",
        "inflight",
        "latest",
        "name",
        "registry",
    )

    def __init__(self, sock: socket.socket, registry: Outboxes, name: str) -> None:
        self._sock = sock  # a non-blocking OS socket: send() never waits
        self.registry = registry
        self.name = name
        self.inflight: memoryview | None = None  # a frame partly written: finished first
        self.control: list[bytes] = []  # Engine.IO's packets, in order (a few at most)
        self.control_bytes = 0
        self.latest: dict[str, bytes] = {}  # newest broadcast frame of each kind, not started
        self.blocked_since: float | None = None
        self.flusher: gevent.Greenlet | None = None
        self.closed = False
        #: A websocket from the start, whose Engine.IO packets come straight here. A session
        #: upgraded from long-polling keeps Engine.IO's queue (its frames still end up here):
        #: events to it take Socket.IO's path, so they stay in order with that queue.
        self.direct = True

    @property
    def pending_bytes(self) -> int:
        inflight = 0 if self.inflight is None else len(self.inflight)
        return inflight + self.control_bytes + sum(len(f) for f in self.latest.values())

    def offer(self, kind: str, frame: bytes) -> None:
        """A broadcast frame: written now if the socket is idle, else kept as the newest."""
        if self.closed:
            return
        if self.blocked_since is None and self.inflight is None and not self.control:
            try:
                sent = self._sock.send(frame)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.close()
                return
            if sent == len(frame):
                return
            self.inflight = memoryview(frame)[sent:]
            self._blocked()
            return
        self.latest.pop(kind, None)  # an older one not yet started is dropped, not queued
        self.latest[kind] = frame
        if self.blocked_since is None:
            self._pump()

    def send(self, frame: bytes) -> None:
        """An Engine.IO packet for this connection alone; kept in order."""
        if self.closed:
            raise OSError("connection closed")
        self.control.append(frame)
        self.control_bytes += len(frame)
        if self.control_bytes > MAX_CONTROL_BYTES:
            log.info("viewer %s: %d bytes unread, disconnecting", self.name, self.control_bytes)
            self.abort()
            return
        if self.blocked_since is None:
            self._pump()

    def _next(self) -> memoryview | None:
        if self.inflight is not None:
            return self.inflight
        if self.control:
            frame = self.control.pop(0)
            self.control_bytes -= len(frame)
            return memoryview(frame)
        if self.latest:
            kind = next(iter(self.latest))
            return memoryview(self.latest.pop(kind))
        return None

    def _pump(self) -> None:
        """Write what is pending without blocking; start a flusher if the socket is full."""
        while not self.closed:
            chunk = self._next()
            if chunk is None:
                self.inflight = None
                self.blocked_since = None
                return
            try:
                sent = self._sock.send(chunk)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.close()
                return
            if sent < len(chunk):
                self.inflight = chunk[sent:]
                self._blocked()
                return
            self.inflight = None

    def _blocked(self) -> None:
        if self.blocked_since is None:
            self.blocked_since = time.monotonic()
        if self.flusher is None:
            self.flusher = gevent.spawn(self._flush)

    def _flush(self) -> None:
        try:
            while not self.closed and self.blocked_since is not None:
                left = self.blocked_since + self.registry.stall_timeout - time.monotonic()
                if left <= 0:
                    log.info(
                        "viewer %s stalled %.0f s with %d bytes unsent: disconnecting",
                        self.name,
                        self.registry.stall_timeout,
                        self.pending_bytes,
                    )
                    self.registry.stalled += 1
                    self.abort()
                    return
                try:
                    wait_write(self._sock.fileno(), timeout=left)
                except TimeoutError:
                    continue
                except OSError:
                    self.close()
                    return
                self.blocked_since, started = None, self.blocked_since
                self._pump()
                if self.blocked_since is not None:
                    self.blocked_since = started  # progress, but not drained: still stalled
        finally:
            self.flusher = None

    def abort(self) -> None:
        """Drop what is pending and cut the connection (its reader then ends the session)."""
        if self.closed:
            return
        self.close()
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.inflight, self.latest = None, {}
        self.control.clear()
        self.control_bytes = 0
        self.registry.remove(self)
        flusher = self.flusher
        if flusher is not None and flusher is not gevent.getcurrent():
            flusher.kill(block=False)


class Outboxes:
    """The outboxes of the open websocket connections, by Engine.IO session id."""

    def __init__(self, stall_timeout: float) -> None:
        self.stall_timeout = stall_timeout
        self.by_eio_sid: dict[str, Outbox] = {}
        self.stalled = 0  # connections cut for not reading
        self.version = 0  # changes whenever a connection comes or goes

    def add(self, eio_sid: str, outbox: Outbox) -> None:
        self.by_eio_sid[eio_sid] = outbox
        self.version += 1

    def remove(self, outbox: Outbox) -> None:
        if self.by_eio_sid.get(outbox.name) is outbox:
            del self.by_eio_sid[outbox.name]
            self.version += 1


def ws_frame_close(code: int = 1000) -> bytes:
    return bytes((0x88, 2)) + struct.pack("!H", code)
