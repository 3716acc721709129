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


def serve(settings: Settings) -> None:
    app = create_app(settings)
    runtime = app.extensions["hostpulse"]
    server = pywsgi.WSGIServer(
        (settings.bind, settings.port),
        app,
        log=None,  # the AccessLog middleware writes access.log
        error_log=logging.getLogger("hostpulse.wsgi"),
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
