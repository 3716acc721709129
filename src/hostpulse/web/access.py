"""WSGI middleware writing one access-log line per HTTP request."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable

from hostpulse.web.clientaddr import ClientAddress

access_log = logging.getLogger("hostpulse.access")
#: Engine.IO's session id in a query string: it names a viewer's session, so it stays out of
#: the log (whoever reads the log must not be able to take the session over).
SESSION_ID = re.compile(r"(^|&)sid=[^&]*")


class AccessLog:
    def __init__(self, app: Callable, client_address: ClientAddress) -> None:
        self.app = app
        self.client_address = client_address

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.monotonic()
        seen: dict[str, str] = {}

        def recording_start_response(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            for name, value in headers:
                if name.lower() == "content-length":
                    seen["length"] = value
            return start_response(status, headers, exc_info)

        # A websocket upgrade is logged as a connect/disconnect by the /live namespace.
        if environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            return self.app(environ, start_response)
        try:
            return self.app(environ, recording_start_response)
        finally:
            self._log(environ, seen, time.monotonic() - started)

    def _log(self, environ: dict, seen: dict[str, str], elapsed: float) -> None:
        path = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            path += "?" + SESSION_ID.sub(r"\1sid=-", environ["QUERY_STRING"])
        access_log.info(
            '%s - "%s %s %s" %s %s %.1fms "%s"',
            self.client_address(environ),
            environ.get("REQUEST_METHOD", "-"),
            path,
            environ.get("SERVER_PROTOCOL", "-"),
            seen.get("status", "-"),
            seen.get("length", "-"),
            elapsed * 1000,
            environ.get("HTTP_USER_AGENT", "-"),
        )
