"""Writing frames to websocket viewers: one writer per connection, newest-only, stall-bounded.

python-engineio gives every client an unbounded queue and a writer greenlet, and encodes,
frames (wsproto) and writes each packet once per client. For a broadcast that is the same
bytes for everybody, that is per-viewer Python work in every tick, and a viewer that stops
reading grows the server's memory until its ping times out. This module replaces the
websocket leg of that path, below the Socket.IO protocol (the bytes on the wire are the same):

- :class:`WebSocketDriver` stands in for engineio's gevent websocket driver (simple-websocket,
  which keeps a reader greenlet per connection besides the request's). It does the handshake
  with wsproto, without permessage-deflate (compressing per connection would make every
  viewer's bytes different and cost CPU per viewer), reads in the request's own greenlet, and
  gives the connection an :class:`Outbox`, the only thing that writes to its socket.
  Engine.IO's own packets (hello, acks, pings, close) go into it in order, without the
  per-client queue and its writer greenlet; Engine.IO's pings run on a timer.
- A broadcast (:meth:`Outbox.offer`) hands the outbox a websocket frame built once for all
  viewers. If the socket is idle the frame is written at once, non-blocking, by the caller:
  no queue, no greenlet switch. If it is not, the frame waits as the newest of its kind and
  replaces an older one not yet started (a viewer sees a ``seq`` gap and resyncs).
- An outbox that could not drain gets a flusher greenlet that waits for the socket to be
  writable; a connection still not drained after ``stall_timeout`` seconds is shut down.
- Input it cannot decode (a broken websocket frame, a message that is no Engine.IO packet)
  closes the connection and ends the Engine.IO session at once, with one log line.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.queue
from engineio import packet as eio_packet
from gevent.socket import wait_write
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request
from wsproto.frame_protocol import Frame, FrameProtocol, Opcode, ParseFailed
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

log = logging.getLogger("hostpulse.fanout")

#: Engine.IO's own packets a viewer may have pending (hello ≈ 20 KB, acks, errors, pings).
#: A client that keeps asking (resync, ping) without reading is cut off past this.
MAX_CONTROL_BYTES = 512 * 1024
RECEIVE_BYTES = 4096
SEND_BUFFER_BYTES = 64 * 1024


EIO_PING = eio_packet.Packet(eio_packet.PING)


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
        "_raw",
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

    def __init__(self, sock: Any, registry: Outboxes, name: str) -> None:
        self._sock = sock  # a gevent socket
        self._raw = getattr(sock, "_sock", sock)  # the non-blocking OS socket under it
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
                sent = self._raw.send(frame)
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
                sent = self._raw.send(chunk)
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


class WebSocketDriver:
    """engineio's ``_async['websocket']`` for gevent, writing through an :class:`Outbox`.

    Called as ``WebSocketDriver(handler, server)(environ, start_response)`` by
    ``engineio.Socket._upgrade_websocket``; ``handler`` is the Engine.IO socket's bound
    ``_websocket_handler``, which reads with :meth:`wait` and writes with :meth:`send`.
    """

    outboxes: Outboxes  # set on the subclass made by install()

    def __init__(self, handler: Callable, server: Any) -> None:
        self.app = handler
        self.max_message = server.max_http_buffer_size
        self.sock: Any = None
        self.frames: FrameProtocol | None = None
        self.connected = False
        self.received: list = []
        self.partial: list = []
        self.partial_size = 0
        self.partial_text = True
        self.outbox: Outbox | None = None
        self.writer_retiring = False

    def __call__(self, environ: dict, start_response: Callable) -> list:
        self.sock = self._accept(environ)
        if self.sock is None:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"not a websocket request"]
        eio_socket = self.app.__self__
        self.outbox = Outbox(self.sock, self.outboxes, eio_socket.sid)
        self.outbox.direct = not eio_socket.connected
        if not eio_socket.connected:
            # A websocket from the start (no polling to upgrade from): Engine.IO's packets go
            # straight to the outbox, in order, instead of through the queue and its writer.
            queued = eio_socket.queue
            eio_socket.queue = _CloseOnlyQueue(self)
            eio_socket.send = self._send_packet_to(eio_socket)
            eio_socket.schedule_ping = self._schedule_ping_of(eio_socket)
            while not queued.empty():  # the OPEN packet, queued before the upgrade
                pkt = queued.get_nowait()
                if pkt is not None:
                    self.outbox.send(ws_frame(pkt.encode()))
            del queued
        self.outboxes.add(eio_socket.sid, self.outbox)
        try:
            return self.app(self)
        finally:
            self.connected = False
            self.outbox.close()
            with contextlib.suppress(OSError):
                self.sock.close()

    def _accept(self, environ: dict) -> Any:
        """The websocket handshake (wsproto), answered on a dup of the request's socket.

        No permessage-deflate is offered back: every viewer gets the very same bytes.
        """
        wsgi_input = environ.get("wsgi.input")
        rfile = getattr(wsgi_input, "rfile", wsgi_input)
        raw = getattr(rfile, "raw", None)
        sock = getattr(raw, "_sock", None)
        if sock is None:
            raise RuntimeError("not gevent's pywsgi: cannot find the connection's socket")
        lines = [f"GET {environ.get('PATH_INFO', '/')} HTTP/1.1"]
        for key, value in environ.items():
            if key.startswith("HTTP_") and key != "HTTP_SEC_WEBSOCKET_EXTENSIONS":
                lines.append(f"{key[5:].replace('_', '-').title()}: {value}")
        handshake = WSConnection(ConnectionType.SERVER)
        try:
            handshake.receive_data(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            event = next(handshake.events(), None)
            if not isinstance(event, Request):
                return None
            answer = handshake.send(AcceptConnection())
        except (RemoteProtocolError, LocalProtocolError):
            return None
        # From here on only frames: wsproto's frame parser, without the HTTP (h11) state
        # a WSConnection keeps for the connection's life.
        self.frames = FrameProtocol(client=False, extensions=[])
        sock = sock.dup()  # ours to close; pywsgi closes its own
        # A fixed send buffer (the kernel doubles it) bounds the kernel memory a stalled viewer
        # can hold, instead of autotuning up to tcp_wmem's maximum (4 MiB), and lets a stall
        # show within seconds. A frame a second needs a few hundred bytes of it.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        sock.sendall(answer)
        self.connected = True
        return sock

    def _send_packet_to(self, eio_socket: Any) -> Callable:
        outbox = self.outbox

        def send(pkt) -> None:
            if not eio_socket.check_ping_timeout():
                return
            with contextlib.suppress(OSError):
                outbox.send(ws_frame(pkt.encode()))

        return send

    @staticmethod
    def _schedule_ping_of(eio_socket: Any) -> Callable:
        """Engine.IO's next ping on a timer, not a greenlet sleeping 25 s per viewer."""
        server = eio_socket.server

        def ping() -> None:
            if not eio_socket.closing and not eio_socket.closed:
                eio_socket.last_ping = sent = time.time()
                eio_socket.send(EIO_PING)
                gevent.spawn_later(server.ping_timeout + 0.5, check, sent)

        def check(sent: float) -> None:
            # No pong (a pong clears last_ping): a peer gone silently, whose socket may never
            # report an error. Engine.IO's own check closes the session.
            if eio_socket.last_ping == sent and not eio_socket.closed:
                eio_socket.check_ping_timeout()

        def schedule_ping() -> None:
            if eio_socket.last_ping:  # only after the previous ping was answered
                eio_socket.last_ping = None
                gevent.spawn_later(server.ping_interval, ping)

        return schedule_ping

    def wait(self) -> str | bytes | None:
        """The next message from the client, or None once the connection is closed.

        Read in the request's own greenlet: no reader greenlet per connection.
        """
        while not self.received:
            if not self.connected:
                return None
            try:
                data = self.sock.recv(RECEIVE_BYTES)
            except OSError:
                data = b""
            if not data:
                self.connected = False
                return None
            try:
                self.frames.receive_bytes(data)
                for frame in self.frames.received_frames():
                    self._on_frame(frame)
            except ParseFailed as exc:  # bad UTF-8, an unmasked frame, reserved bits, …
                self._refuse(f"bad websocket frame: {exc}", exc.code)
        return self.received.pop(0)

    def _refuse(self, problem: str, code: int) -> None:
        """Close at once on input we cannot read. Returning None to Engine.IO's reader ends
        its session now; an exception would leave the session to the ping timeout (~45 s).
        """
        log.info("viewer %s: %.160s: closing", self.outbox.name, problem)
        self.close(code)

    def _on_frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY or opcode is Opcode.CONTINUATION:
            if opcode is not Opcode.CONTINUATION:
                self.partial_text = opcode is Opcode.TEXT
            self.partial.append(frame.payload)
            self.partial_size += len(frame.payload)
            if self.partial_size > self.max_message:
                self.close(1009)  # message too big
            elif frame.message_finished:
                joiner = "" if self.partial_text else b""
                message = joiner.join(self.partial)
                self.partial, self.partial_size = [], 0
                problem = undecodable(message)
                if problem is not None:
                    self._refuse(f"undecodable Engine.IO packet: {problem}", 1002)
                elif self.connected:
                    self.received.append(message)
        elif opcode is Opcode.PING:
            with contextlib.suppress(OSError):
                self.outbox.send(bytes((0x8A, len(frame.payload))) + bytes(frame.payload))
        elif opcode is Opcode.CLOSE and self.connected:  # the client closes first: answer
            self.connected = False
            with contextlib.suppress(OSError):
                self.outbox.send(ws_frame_close())

    def send(self, message: str | bytes) -> None:
        self.outbox.send(ws_frame(message))

    def close(self, code: int = 1000) -> None:
        if self.writer_retiring:  # Engine.IO's writer leaving: nothing is closing
            self.writer_retiring = False
            return
        if self.connected:
            self.connected = False
            if not self.outbox.closed:
                with contextlib.suppress(OSError):
                    self.outbox.send(ws_frame_close(code))
            self.outbox.close()
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)


class _CloseOnlyQueue:
    """Engine.IO's queue when its packets go straight to the outbox.

    Nothing is ever queued, so Engine.IO's writer greenlet (one per viewer, waiting on this
    queue) is sent away at once: its first ``get`` answers "closed", and the ``close()`` it
    then calls is ignored. The ``None`` that Engine.IO puts here to stop that writer when the
    session ends closes the websocket instead.
    """

    def __init__(self, driver: WebSocketDriver) -> None:
        self.driver = driver
        self.retired = False

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if not self.retired:
            self.retired = True
            self.driver.writer_retiring = True
            return None
        raise gevent.queue.Empty

    def put(self, item: Any) -> None:
        if item is None:
            self.driver.writer_retiring = False
            self.driver.close()

    def task_done(self) -> None:
        pass

    def join(self) -> None:
        pass

    def empty(self) -> bool:
        return True


def undecodable(message: str | bytes) -> str | None:
    """Why Engine.IO could not decode this message, or None (its own decoder decides)."""
    try:
        eio_packet.Packet(encoded_packet=message)
    except (ValueError, TypeError, IndexError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def ws_frame_close(code: int = 1000) -> bytes:
    return bytes((0x88, 2)) + struct.pack("!H", code)


def install(engineio_server: Any, stall_timeout: float) -> Outboxes:
    """Make ``engineio_server`` use :class:`WebSocketDriver`; return its outboxes."""
    outboxes = Outboxes(stall_timeout)
    driver = type("HostpulseWebSocketDriver", (WebSocketDriver,), {"outboxes": outboxes})
    engineio_server._async = {**engineio_server._async, "websocket": driver}
    return outboxes
