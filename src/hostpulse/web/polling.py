"""Checks on every HTTP request of an Engine.IO session (long-polling GETs and POSTs, and the
request that upgrades a polling session to a websocket), in front of Engine.IO.

- **A session id is no credential.** Engine.IO names a session by the ``sid`` in the query
  string; with only the handshake checked, anyone holding an authenticated viewer's sid
  (a shared log, a proxy's access log) could poll its samples or upgrade it. With a password
  set, every request that names a sid must carry a valid login session cookie too (the same
  check as the page's; a logged-out or expired cookie fails it), else ``401``. The handshake
  itself (no sid yet) is left to the Socket.IO connect handler, which refuses it with a
  ``CONNECT_ERROR`` (web/auth.py).
- **A polling POST must decode.** Engine.IO logs a full traceback for a body that is no
  Engine.IO payload (and answers ``200``); here it is refused with ``400`` and one log line.
  guard.py has already refused bodies over the size cap, so reading it whole is bounded.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from engineio import payload as eio_payload
from flask import Flask

from hostpulse.web.auth import Auth

log = logging.getLogger("hostpulse.guard")


def install(server: Any, app: Flask, auth: Auth) -> None:
    """Wrap ``server.handle_request`` (python-socketio's, which the Flask-SocketIO
    middleware calls for every ``/socket.io/`` request) with the checks above."""
    handle_request = server.handle_request

    def checked(environ: dict, start_response: Callable) -> Any:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "sid" in query and not _logged_in(app, auth, environ):
            return _answer(start_response, "401 Unauthorized", b"authentication required")
        if environ.get("REQUEST_METHOD") == "POST" and "sid" in query:
            problem = _read_body(environ)
            if problem is not None:
                client = auth.client_address(environ)
                log.info("refused a polling POST from %s: %s", client, problem)
                return _answer(start_response, "400 Bad Request", b"not an Engine.IO payload")
        return handle_request(environ, start_response)

    server.handle_request = checked


def _logged_in(app: Flask, auth: Auth, environ: dict) -> bool:
    if not auth.enabled:
        return True
    with app.request_context(environ):
        return auth.session_ok()


def _read_body(environ: dict) -> str | None:
    """Read the POST body and put it back for Engine.IO; what is wrong with it, or None."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return "bad Content-Length"
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        eio_payload.Payload(encoded_payload=body.decode("utf-8"))
    except (ValueError, TypeError, IndexError) as exc:
        return f"{type(exc).__name__}: {str(exc)[:120]}"
    return None


def _answer(start_response: Callable, status: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
