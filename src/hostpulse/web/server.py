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
    """pywsgi's handler: a smaller read buffer (memory per idle viewer), no keep-alive after
    a websocket."""

    def __init__(self, sock, address, server, rfile=None):
        if rfile is None:
            rfile = sock.makefile("rb", READ_BUFFER_BYTES)
        super().__init__(sock, address, server, rfile)

    def handle_one_response(self):
        super().handle_one_response()
        if self.environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            # The websocket is over (web/fanout.py shut the connection down): whatever the
            # client sent after it is not a next HTTP request to answer.
            self.close_connection = True


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
        "hostpulse serving %s on http://%s:%d/ (interval %gs)",
        f"host {runtime.local.id}" if runtime.local else "the hosts in redis",
        settings.bind,
        server.server_port,
        settings.interval,
    )
    try:
        server.serve_forever()
    finally:
        runtime.stop()
        log.info("stopped; history flushed")
