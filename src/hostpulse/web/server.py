"""Run the app on gevent's WSGI server (a production server; never Werkzeug's, never debug).

The process must have been monkey-patched by gevent before anything imported socket or
threading: ``hostpulse.cli`` does it first thing for ``serve``.
"""

from __future__ import annotations

import contextlib
import logging
import resource
import signal

import gevent
from gevent import pywsgi

from hostpulse.config import Settings
from hostpulse.runtime import Runtime
from hostpulse.web import driver
from hostpulse.web.app import CONNECTIONS, LIVE, create_app
from hostpulse.web.connections import TICKET, Connections, Ticket

log = logging.getLogger("hostpulse.server")

#: How long a stop waits for open requests before closing them.
STOP_GRACE_SECONDS = 2.0
#: Read buffer of a connection. pywsgi's default (8 KiB) stays allocated for a connection's
#: whole life (a keep-alive client, a viewer upgrading from long-polling); requests larger
#: than this still work. A websocket from the start frees it (web/driver.py).
READ_BUFFER_BYTES = 2048


class CannotListen(Exception):
    """The address or port cannot be bound (taken, not this host's, not allowed)."""


class Handler(pywsgi.WSGIHandler):
    """pywsgi's handler: a smaller read buffer, no keep-alive after a websocket, a deadline
    for each request head, and each request within its client address's budget
    (web/connections.py; a trusted proxy's, which carry many clients' requests, excepted)."""

    ticket: Ticket
    server: Server

    def __init__(self, sock, address, server, rfile=None):
        if rfile is None:
            rfile = sock.makefile("rb", READ_BUFFER_BYTES)
        super().__init__(sock, address, server, rfile)
        self.head_deadline: gevent.Timeout | None = None

    def handle_one_request(self):
        """One request, whose request line and headers must arrive within the server's
        ``header_timeout`` (the wait for a keep-alive connection's next request included):
        a client that sends nothing, or a byte at a time, cannot hold a connection."""
        address = self.ticket.address
        if not self.server.connections.allow_request(self.ticket):
            self.server.connections.note_over_requests(address)
            return None
        seconds = self.server.header_timeout
        self.head_deadline = deadline = gevent.Timeout.start_new(seconds)
        try:
            return super().handle_one_request()
        except gevent.Timeout as exc:
            if exc is not deadline:
                raise
            self.server.connections.note_timeout(address, seconds)
            return None
        finally:
            deadline.close()

    def get_environ(self):
        # Called once the head is in: what follows (the body, the app) has no such deadline.
        self.head_deadline.close()
        environ = super().get_environ()
        environ[TICKET] = self.ticket
        return environ

    def handle_one_response(self):
        super().handle_one_response()
        if self.environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            # The websocket is over, or web/driver.py took the connection over: whatever
            # the client sent after it is not a next HTTP request to answer.
            self.close_connection = True


class Server(pywsgi.WSGIServer):
    """pywsgi's server, admitting each connection under the caps of web/connections.py
    (through gevent's ``do_handle`` and ``_spawn``, checked by web/driver.py)."""

    def __init__(self, *args, connections: Connections, header_timeout: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.connections = connections
        self.header_timeout = header_timeout

    def do_handle(self, sock, address):
        """In the accept loop, before a greenlet is spawned: every accepted connection is
        counted at once (or refused and closed at once), however fast they arrive."""
        ticket = self.connections.admit(address[0] if address else "-")
        if isinstance(ticket, str):
            _refuse(sock, ticket)
        else:
            self._spawn(self._handle_admitted, sock, address, ticket)

    def _handle_admitted(self, sock, address, ticket: Ticket) -> None:
        handler = self.handler_class(sock, address, self)
        handler.ticket = ticket
        try:
            handler.handle()
        finally:
            if not ticket.taken:  # else the websocket gives it back when it ends
                ticket.release()


def _refuse(sock, why: str) -> None:
    """A short 503 on a connection over the caps. Written without waiting (this runs in the
    accept loop): a fresh socket's send buffer takes it whole, or the client gets nothing."""
    body = why.encode() + b"\n"
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 10\r\nConnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        sock.settimeout(0.0)  # gevent: fail rather than wait
        sock.send(head.encode() + body)
    with contextlib.suppress(OSError):
        sock.close()


def raise_open_files_limit() -> tuple[int, int]:
    """Soft limit of open descriptors up to the hard one; (before, after).

    Each websocket viewer holds one (its socket), so the usual soft limit of 1024 would stop
    a worker near 1,000 viewers while the hard limit (524288 under systemd, 65536 in the
    shipped unit) allows far more, as nginx's ``worker_rlimit_nofile`` does for its workers.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("open files limit stays %d: %s", soft, exc)
            return soft, soft
        return soft, target
    return soft, soft


def serve(settings: Settings, runtime: Runtime) -> None:
    """Serve ``runtime``'s hosts until SIGTERM or SIGINT, starting and stopping it with the
    server. Raises :class:`~hostpulse.web.driver.UnsupportedEngine` before anything starts
    when the installed Socket.IO stack is not the one pinned, :class:`CannotListen` when
    the address cannot be bound."""
    driver.check()
    before, after = raise_open_files_limit()
    app = create_app(settings, runtime)
    live = app.extensions[LIVE]
    connections = app.extensions[CONNECTIONS]
    server = Server(
        (settings.bind, settings.port),
        app,
        log=None,  # the AccessLog middleware writes access.log
        error_log=logging.getLogger("hostpulse.wsgi"),
        handler_class=Handler,
        connections=connections,
        header_timeout=settings.header_timeout,
    )
    try:
        server.init_socket()  # bind now: a taken port fails here, before sampling starts
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CannotListen(f"cannot listen on {settings.bind}:{settings.port}: {reason}") from exc

    def stop(signum: int) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        server.stop(timeout=STOP_GRACE_SECONDS)

    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop, signum)
    runtime.start()
    live.start()
    log.info(
        "hostpulse serving %s on http://%s:%d/ (interval %gs; open files %d%s; at most %d "
        "connections, %d per client)",
        f"host {runtime.local.id}" if runtime.local else "the hosts in redis",
        settings.bind,
        server.server_port,
        settings.interval,
        after,
        f", raised from {before}" if after != before else "",
        connections.total,
        connections.per_client,
    )
    try:
        server.serve_forever()
    finally:
        live.stop()
        runtime.stop()
        log.info("stopped; history flushed")
