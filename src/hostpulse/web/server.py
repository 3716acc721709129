"""Run the app on gevent's WSGI server (a production server; never Werkzeug's, never debug).

The process must have been monkey-patched by gevent before anything imported socket or
threading: ``hostpulse.cli`` does it first thing for ``serve``.
"""

from __future__ import annotations

import logging
import signal

import gevent
from gevent import pywsgi

from hostpulse.config import Settings
from hostpulse.web.app import create_app

log = logging.getLogger("hostpulse.server")

#: How long a stop waits for open requests before closing them.
STOP_GRACE_SECONDS = 2.0
#: Read buffer of a connection. pywsgi's default (8 KiB) stays allocated for a websocket's
#: whole life, unused after the upgrade request; requests larger than this still work.
READ_BUFFER_BYTES = 2048


class Handler(pywsgi.WSGIHandler):
    """pywsgi's handler with a smaller read buffer (memory per idle viewer)."""

    def __init__(self, sock, address, server, rfile=None):
        if rfile is None:
            rfile = sock.makefile("rb", READ_BUFFER_BYTES)
        super().__init__(sock, address, server, rfile)


def serve(settings: Settings) -> None:
    app = create_app(settings)
    runtime = app.extensions["hostpulse"]
    server = pywsgi.WSGIServer(
        (settings.bind, settings.port),
        app,
        log=None,  # the AccessLog middleware writes access.log
        error_log=logging.getLogger("hostpulse.wsgi"),
        handler_class=Handler,
    )
    server.init_socket()  # bind now: a taken port fails here, before sampling starts

    def stop(signum: int) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        server.stop(timeout=STOP_GRACE_SECONDS)

    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop, signum)
    runtime.start()
    log.info(
        "hostpulse serving host %s on http://%s:%d/ (interval %gs)",
        runtime.local.id,
        settings.bind,
        server.server_port,
        settings.interval,
    )
    try:
        server.serve_forever()
    finally:
        runtime.stop()
        log.info("stopped; history flushed")
