"""Every use hostpulse makes of python-engineio's, python-socketio's and gevent pywsgi's
internals, in one place, checked at start and pinned (pyproject.toml).

- :class:`WebSocketDriver` stands in for engineio's gevent websocket driver (simple-websocket,
  which keeps a reader greenlet per connection besides the request's, and a queue and a writer
  greenlet per client that encode, frame and write each packet once per client). It does the
  handshake with wsproto, without permessage-deflate (compressing per connection would make
  every viewer's bytes different and cost CPU per viewer), reads in the request's own
  greenlet, and gives the connection an :class:`~hostpulse.web.outbox.Outbox`, the only thing
  that writes to its socket. Engine.IO's own packets (hello, acks, pings, close) go into it in
  order, without the per-client queue and its writer greenlet; Engine.IO's pings run on a
  timer. It writes on pywsgi's own socket: one file descriptor per viewer.
- Input it cannot decode (a broken websocket frame, a message that is no Engine.IO packet),
  or more than the connection's :class:`~hostpulse.web.budget.InputBudget` of frames and
  bytes, closes the connection and ends the Engine.IO session at once, with one log line.
  A reader takes at most :data:`READS_PER_WAKEUP` chunks before it lets other greenlets run,
  so a client that never stops sending cannot hold the process.
- :func:`intercept` puts web/guard.py's checks in front of python-socketio's two entry points
  for what a client sends.
- :func:`check` refuses to run on releases other than those this was written and tested
  against (:data:`SUPPORTED`), or on one whose internals this module relies on are gone;
  tests/unit/test_driver.py fails in the same cases.
"""

from __future__ import annotations

import _socket
import contextlib
import inspect
import io
import logging
import os
import socket
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

import engineio
import engineio.socket
import gevent
import gevent.queue
import socketio
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio import payload as eio_payload
from gevent import pywsgi
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request
from wsproto.frame_protocol import Frame, FrameProtocol, Opcode, ParseFailed
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from hostpulse.web.budget import InputBudget
from hostpulse.web.connections import TICKET, Ticket
from hostpulse.web.outbox import Outbox, Outboxes, ws_frame, ws_frame_close

log = logging.getLogger("hostpulse.fanout")

#: The releases (version prefixes) this module was written and tested against. pyproject.toml
#: pins the same ranges; tests/unit/test_driver.py checks that the two agree.
SUPPORTED = {
    "python-engineio": "4.15",
    "python-socketio": "5.18",
    "gevent": "26.9",
    "wsproto": "1.3",
}
RECEIVE_BYTES = 4096
#: Chunks one reader greenlet takes before it returns to the hub (a flood is read in turns).
READS_PER_WAKEUP = 16
SEND_BUFFER_BYTES = 64 * 1024
EIO_PING = eio_packet.Packet(eio_packet.PING)


class UnsupportedEngine(RuntimeError):
    """An installed release this driver was not made for; the message says which and why."""


def check() -> None:
    """Raise :class:`UnsupportedEngine` unless the installed releases are the supported ones
    and still have every internal this module uses."""
    for name, prefix in SUPPORTED.items():
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            missing = f"{name} is not installed (hostpulse needs {prefix}.x)"
            raise UnsupportedEngine(missing) from None
        if version != prefix and not version.startswith(prefix + "."):
            raise UnsupportedEngine(
                f"{name} {version} is installed, but hostpulse's websocket driver supports "
                f"{prefix}.x only: reinstall hostpulse (pip install .) to get it"
            )
    missing = missing_internals()
    if missing:
        raise UnsupportedEngine(f"the websocket driver's internals are gone: {', '.join(missing)}")


def missing_internals() -> list[str]:
    """The internals this module relies on that the installed releases do not have."""
    missing = []
    server = engineio.Server(async_mode="gevent")
    eio_socket = engineio.socket.Socket(server, "probe")
    wanted = {
        "engineio.Server._async['websocket']": "websocket" in getattr(server, "_async", {}),
        "engineio.Server.max_http_buffer_size": hasattr(server, "max_http_buffer_size"),
        "engineio.socket.Socket._upgrade_websocket": hasattr(eio_socket, "_upgrade_websocket"),
        "engineio.socket.Socket._websocket_handler(ws)": _takes(
            getattr(eio_socket, "_websocket_handler", None), ["ws"]
        ),
        "engineio.socket.Socket.queue": hasattr(eio_socket, "queue"),
        "engineio.socket.Socket.send(pkt)": _takes(getattr(eio_socket, "send", None), ["pkt"]),
        "engineio.socket.Socket.schedule_ping()": _takes(
            getattr(eio_socket, "schedule_ping", None), []
        ),
        "engineio.socket.Socket.check_ping_timeout()": _takes(
            getattr(eio_socket, "check_ping_timeout", None), []
        ),
    }
    wanted["engineio.socket.Socket.receive(pkt)"] = _takes(
        getattr(eio_socket, "receive", None), ["pkt"]
    )
    wanted["engineio.socket.Socket.close(wait, abort, reason)"] = _takes(
        getattr(eio_socket, "close", None), ["wait", "abort", "reason"]
    )
    wanted["engineio.Server.reason.TRANSPORT_CLOSE"] = hasattr(
        getattr(server, "reason", None), "TRANSPORT_CLOSE"
    )
    for name in ("sid", "server", "connected", "upgraded", "closing", "closed", "last_ping"):
        wanted[f"engineio.socket.Socket.{name}"] = hasattr(eio_socket, name)
    sio = socketio.Server(async_mode="gevent")
    wanted["socketio.Server._handle_eio_message(eio_sid, data)"] = _takes(
        getattr(sio, "_handle_eio_message", None), ["eio_sid", "data"]
    )
    wanted["socketio.Server._handle_event(eio_sid, namespace, id, data)"] = _takes(
        getattr(sio, "_handle_event", None), ["eio_sid", "namespace", "id", "data"]
    )
    wanted["socketio.Server.namespace_handlers"] = hasattr(sio, "namespace_handlers")
    wanted["pywsgi.Input.rfile"] = "rfile" in getattr(pywsgi.Input, "__slots__", ())
    # web/polling.py decodes a polling POST with Engine.IO's own payload decoder first.
    wanted["engineio.payload.Payload(encoded_payload)"] = "encoded_payload" in (
        inspect.signature(eio_payload.Payload).parameters
    )
    # web/server.py counts each connection where gevent's accept loop hands it on.
    wanted["pywsgi.WSGIServer.do_handle(*args)"] = _takes(
        getattr(pywsgi.WSGIServer("127.0.0.1:0", None), "do_handle", None), ["args"]
    )
    wanted["pywsgi.WSGIServer._spawn"] = hasattr(pywsgi.WSGIServer, "_spawn")
    wanted["gevent socket._sock, detach()"] = _gevent_socket_has_os_socket()
    missing += [name for name, present in wanted.items() if not present]
    return missing


def _takes(function: Any, names: list[str]) -> bool:
    """True when ``function`` is a callable whose parameters are exactly ``names``."""
    if not callable(function):
        return False
    return list(inspect.signature(function).parameters) == names


def _gevent_socket_has_os_socket() -> bool:
    import gevent.socket

    a, b = gevent.socket.socketpair()
    try:
        raw = getattr(a, "_sock", None)  # the OS socket, non-blocking, that Outbox writes on
        fd = a.fileno()
        if raw is None or raw.fileno() != fd or raw.gettimeout() != 0.0:
            return False
        detached = a.detach()  # and it can be taken from gevent, descriptor and all
        os.close(detached)
        return detached == fd
    finally:
        a.close()
        b.close()


def connection_socket(environ: dict) -> Any:
    """The client's socket under a pywsgi request: gevent's, with the OS socket as ``_sock``."""
    wsgi_input = environ.get("wsgi.input")
    rfile = getattr(wsgi_input, "rfile", wsgi_input)
    raw = getattr(rfile, "raw", None)
    sock = getattr(raw, "_sock", None)
    if sock is None:
        raise RuntimeError("not gevent's pywsgi: cannot find the connection's socket")
    return sock


class WebSocketDriver:
    """engineio's ``_async['websocket']`` for gevent, writing through an :class:`Outbox`.

    Called as ``WebSocketDriver(handler, server)(environ, start_response)`` by
    ``engineio.Socket._upgrade_websocket``; ``handler`` is the Engine.IO socket's bound
    ``_websocket_handler``. A websocket from the start does without it (:meth:`_serve_direct`);
    a session upgrading from polling runs it, and it reads with :meth:`wait` and writes with
    :meth:`send`.
    """

    __slots__ = (
        "app",
        "budget",
        "connected",
        "eio_socket",
        "frames",
        "max_message",
        "outbox",
        "partial",
        "partial_size",
        "partial_text",
        "peer",
        "reader",
        "received",
        "sock",
        "ticket",
        "watcher",
    )
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
        self.eio_socket: Any = None
        self.watcher: Any = None
        self.reader: gevent.Greenlet | None = None
        self.budget = InputBudget()
        self.peer = "-"
        self.ticket: Ticket | None = None

    def __call__(self, environ: dict, start_response: Callable) -> list:
        self.peer = environ.get("REMOTE_ADDR") or "-"
        sock = self._accept(environ)
        if sock is None:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"not a websocket request"]
        eio_socket = self.app.__self__
        if eio_socket.connected:
            return self._serve_upgrade(sock, eio_socket)
        # Socket.IO keeps this environ for the session's life; the request body it names
        # (pywsgi's reader over the connection, and its buffer) is no longer readable.
        environ["wsgi.input"] = io.BytesIO()
        # The connection outlives the request: its place under the connection caps
        # (web/connections.py) is given back when the websocket ends, not when pywsgi is done.
        self.ticket = environ.get(TICKET)
        if self.ticket is not None:
            self.ticket.taken = True
        return self._serve_direct(sock, eio_socket)

    def _serve_upgrade(self, sock: Any, eio_socket: Any) -> list:
        """A session upgrading from long-polling: Engine.IO's own handler runs the upgrade and
        the reading, in this request's greenlet; its queue and writer stay (what goes to the
        viewer still ends up in the outbox)."""
        self.sock = sock
        self.outbox = Outbox(sock._sock, self.outboxes, eio_socket.sid)
        self.outbox.direct = False
        self.outboxes.add(eio_socket.sid, self.outbox)
        try:
            return self.app(self)
        finally:
            # pywsgi closes its socket once this request returns (web/server.py's Handler
            # keeps no connection alive after a websocket).
            self.connected = False
            self.outbox.close()

    def _serve_direct(self, sock: Any, eio_socket: Any) -> list:
        """A websocket from the start (no polling to upgrade from), the usual case.

        The connection is taken from pywsgi and the request returns at once: its greenlet,
        parsed headers and read buffer go, and an idle viewer costs no greenlet at all. A
        watcher on the descriptor starts a short-lived reader when the client sends something
        (a pong every 25 s, a watch). Engine.IO's packets go straight to the outbox, in order,
        instead of through its queue and a writer greenlet.
        """
        self.sock = _socket.socket(fileno=sock.detach())  # pywsgi's close is now a no-op
        self.sock.setblocking(False)
        self.outbox = Outbox(self.sock, self.outboxes, eio_socket.sid)
        queued = eio_socket.queue
        eio_socket.queue = _CloseOnlyQueue(self)
        eio_socket.send = self._send_packet_to(eio_socket)
        eio_socket.schedule_ping = self._schedule_ping_of(eio_socket)
        while not queued.empty():  # the OPEN packet, queued before the upgrade
            pkt = queued.get_nowait()
            if pkt is not None:
                self.outbox.send(ws_frame(pkt.encode()))
        eio_socket.connected = eio_socket.upgraded = True  # as Engine.IO's handler does
        self.eio_socket = eio_socket
        self.outboxes.add(eio_socket.sid, self.outbox)
        self.watcher = gevent.get_hub().loop.io(self.sock.fileno(), 1)
        self.watcher.start(self._readable)
        return []

    def _readable(self) -> None:
        """In the hub: the client sent something (or went away); read it in a greenlet."""
        if self.reader is None:
            self.reader = gevent.spawn(self._read)

    def _read(self) -> None:
        """What the client has sent, handed to Engine.IO message by message, in turns of at
        most READS_PER_WAKEUP chunks; the end of the session once the connection is over."""
        try:
            for _ in range(READS_PER_WAKEUP):
                if not self.connected or not self._take():
                    break
            if not self.connected:
                self._end()
        finally:
            self.reader = None

    def _take(self) -> bool:
        """One chunk from the socket into Engine.IO; False when nothing more is waiting."""
        try:
            if not self._receive():
                return False
        except BlockingIOError:
            return False
        while self.received and self.connected:
            if not self._deliver(self.received.pop(0)):
                self.connected = False
        return True

    def _deliver(self, message: str | bytes) -> bool:
        """One message to Engine.IO, as its own websocket handler would; False: it is over."""
        try:
            self.eio_socket.receive(eio_packet.Packet(encoded_packet=message))
        except eio_exceptions.UnknownPacketError:
            pass
        except eio_exceptions.SocketIsClosedError:
            return False
        except Exception:
            log.exception("viewer %s: Engine.IO could not take a packet: closing", self.outbox.name)
            return False
        return True

    def _end(self) -> None:
        """The connection is over: end the Engine.IO session, free the descriptor."""
        self.watcher.stop()
        eio_socket = self.eio_socket
        eio_socket.close(wait=False, abort=True, reason=eio_socket.server.reason.TRANSPORT_CLOSE)
        flusher = self.outbox.flusher
        self.outbox.close()
        if flusher is not None:  # it waits on this descriptor: let it go before closing it
            flusher.join(1.0)
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.ticket is not None:
            self.ticket.release()

    def _accept(self, environ: dict) -> Any:
        """The websocket handshake (wsproto), answered on the request's own socket.

        No permessage-deflate is offered back: every viewer gets the very same bytes.
        """
        sock = connection_socket(environ)
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
        """The next message from the client, or None once the connection is closed (Engine.IO's
        handler reads with this while a session upgrades from polling)."""
        while not self.received:
            if not self.connected or not self._receive():
                return None
        return self.received.pop(0)

    def _receive(self) -> bool:
        """One chunk from the client parsed into ``received``; False once the connection is
        over. On the taken-over (non-blocking) socket, BlockingIOError says nothing is
        waiting: the caller's to handle."""
        try:
            data = self.sock.recv(RECEIVE_BYTES)
        except BlockingIOError:
            raise
        except OSError:
            data = b""
        if not data:
            self.connected = False
            return False
        self._parse(data)
        return True

    def _parse(self, data: bytes) -> None:
        """Bytes from the client into whole messages (``received``), answering pings and
        closes and refusing what is not a websocket or Engine.IO packet, or over budget."""
        if not self.budget.spend(0, len(data)):
            self._over_budget()
            return
        try:
            self.frames.receive_bytes(data)
            for frame in self.frames.received_frames():
                self._on_frame(frame)
        except ParseFailed as exc:  # bad UTF-8, an unmasked frame, reserved bits, …
            self._refuse(f"bad websocket frame: {exc}", exc.code)

    def _refuse(self, problem: str, code: int) -> None:
        """Close at once on input we cannot read: the session ends now (left to Engine.IO, an
        exception would leave it to the ping timeout, ~45 s)."""
        log.info("viewer %s from %s: %.160s: closing", self.outbox.name, self.peer, problem)
        self.received.clear()
        self.close(code)

    def _over_budget(self) -> None:
        self._refuse(f"sent more than its input budget ({self.budget.describe()})", 1008)

    def _on_frame(self, frame: Frame) -> None:
        if not self.connected:
            return
        if not self.budget.spend(1, 0):
            self._over_budget()
            return
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
        if self.connected:
            self.connected = False
            if not self.outbox.closed:
                with contextlib.suppress(OSError):
                    self.outbox.send(ws_frame_close(code))
            self.outbox.close()
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)


class _CloseOnlyQueue:
    """Engine.IO's queue when its packets go straight to the outbox: nothing is ever queued,
    and the ``None`` that Engine.IO puts here when the session ends closes the websocket."""

    def __init__(self, driver: WebSocketDriver) -> None:
        self.driver = driver

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        raise gevent.queue.Empty

    def put(self, item: Any) -> None:
        if item is None:
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


def install(engineio_server: Any, stall_timeout: float) -> Outboxes:
    """Make ``engineio_server`` use :class:`WebSocketDriver`; return its outboxes."""
    outboxes = Outboxes(stall_timeout)
    attributes = {"outboxes": outboxes, "__slots__": ()}
    driver = type("HostpulseWebSocketDriver", (WebSocketDriver,), attributes)
    # A copy: the driver table is shared by every server in the process.
    engineio_server._async = {**engineio_server._async, "websocket": driver}
    return outboxes


def intercept(
    server: Any,
    on_message: Callable[[Callable], Callable],
    on_event: Callable[[Callable], Callable],
) -> None:
    """Put checks in front of python-socketio's entry points for client data.

    ``on_message(handle)`` gets the handler of every Engine.IO message (``handle(eio_sid,
    data)``) and returns its replacement; ``on_event(handle)`` likewise for every decoded
    event (``handle(eio_sid, namespace, ack_id, data)``).
    """
    checked = on_message(server._handle_eio_message)
    server._handle_eio_message = checked
    server.eio.on("message", checked)  # Engine.IO holds the bound method itself
    server._handle_event = on_event(server._handle_event)
