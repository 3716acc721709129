"""Run the app on gevent's WSGI server (a production server; never Werkzeug's, never debug).

The process must have been monkey-patched by gevent before anything imported socket or
threading: ``hostpulse.cli`` does it first thing for ``serve``.
"""

from __future__ import annotations

import logging
import resource
import signal

import gevent
from gevent import pywsgi

from hostpulse.config import Settings
from hostpulse.runtime import Runtime
from hostpulse.web import driver
from hostpulse.web.app import LIVE, create_app

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
    """pywsgi's handler: a smaller read buffer, no keep-alive after a websocket."""

    def __init__(self, sock, address, server, rfile=None):
        if rfile is None:
            rfile = sock.makefile("rb", READ_BUFFER_BYTES)
        super().__init__(sock, address, server, rfile)

    def handle_one_response(self):
        super().handle_one_response()
        if self.environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            # The websocket is over, or web/driver.py took the connection over: whatever
            # the client sent after it is not a next HTTP request to answer.
            self.close_connection = True


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
    server = pywsgi.WSGIServer(
        (settings.bind, settings.port),
        app,
        log=None,  # the AccessLog middleware writes access.log
        error_log=logging.getLogger("hostpulse.wsgi"),
        handler_class=Handler,
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
        "hostpulse serving %s on http://%s:%d/ (interval %gs; open files %d%s, ~%d viewers)",
        f"host {runtime.local.id}" if runtime.local else "the hosts in redis",
        settings.bind,
        server.server_port,
        settings.interval,
        after,
        f", raised from {before}" if after != before else "",
        after,
    )
    try:
        server.serve_forever()
    finally:
        live.stop()
        runtime.stop()
        log.info("stopped; history flushed")
