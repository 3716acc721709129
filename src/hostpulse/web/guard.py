"""What a Socket.IO client may send: origins, message size, packets and events.

Everything a client sends passes here before it reaches a namespace handler:

- **Origin.** A browser page on another site must not open our websocket with the user's
  cookie (cross-site websocket hijacking). Engine.IO refuses a handshake whose ``Origin``
  is neither this server's own origin nor one of the ``allowed_origins`` setting.
- **Size.** Engine.IO checks ``max_http_buffer_size`` only after a whole websocket message
  has been buffered; our websocket driver (web/driver.py) applies the same cap itself, so an
  oversized message closes that one connection as soon as its first bytes over the cap
  arrive. A long-polling POST over it is refused before Engine.IO reads it.
- **Packets.** Binary packets (we never use them; a client could declare any number of
  attachments and make us keep them) and packets that do not decode are dropped with one
  log line, never a traceback.
- **Events.** Only the events a namespace declares (its ``on_*`` handlers other than
  connect/disconnect) with at most one payload that is an object (or nothing) reach the
  handler. Anything else gets an ``error`` event back and a log line. A client that sends
  an event named ``disconnect`` or ``connect`` cannot make the server run those handlers.
- **Handler failures** are logged on one line and answered with an ``error`` event; the
  connection and every other viewer carry on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import request
from flask_socketio import SocketIO

from hostpulse.web import driver

log = logging.getLogger("hostpulse.guard")

LIFECYCLE_EVENTS = frozenset({"connect", "disconnect"})
MAX_EVENT_NAME = 64


def install(socketio: SocketIO, max_message_bytes: int, extra_origins: Iterable[str]) -> None:
    """Apply every check above to this Socket.IO server (call once, after creating it)."""
    server = socketio.server
    server.eio.cors_allowed_origins = OriginCheck(extra_origins)
    _check_requests(server, max_message_bytes)
    _check_packets(server)
    socketio.on_error_default(_handler_failed)


class OriginCheck:
    """Engine.IO's ``cors_allowed_origins`` callable: own origin or a configured one.

    A request without an Origin header (not a browser) is not checked here: it carries no
    ambient browser credentials that a hostile page could borrow.
    """

    def __init__(self, extra: Iterable[str]) -> None:
        self.extra = frozenset(o.rstrip("/") for o in extra)

    def __call__(self, origin: str | None, environ: dict | None = None) -> bool:
        if not origin:
            return True
        if origin in self.extra:
            return True
        environ = environ or {}
        host = environ.get("HTTP_HOST")
        if not host:
            return False
        # Behind a proxy the browser's origin is the proxy's; browsers cannot add
        # X-Forwarded-* headers to a websocket request, so a hostile page cannot fake them.
        own = {f"{environ.get('wsgi.url_scheme', 'http')}://{host}"}
        proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip()
        fwd_host = environ.get("HTTP_X_FORWARDED_HOST", "").split(",")[0].strip()
        if proto or fwd_host:
            own.add(f"{proto or environ.get('wsgi.url_scheme', 'http')}://{fwd_host or host}")
        if origin not in own:
            log.warning("websocket refused: origin %r is not allowed", origin[:200])
            return False
        return True


def _check_requests(server: Any, limit: int) -> None:
    """Refuse an oversized long-polling POST before Engine.IO sees it, and keep a websocket
    that sends a frame Engine.IO cannot decode from ending in a traceback.

    (Engine.IO itself answers an oversized POST only after waiting for the session's queue
    to drain, which for a polling client can take until the ping timeout.)
    """
    handle_request = server.handle_request

    def checked_request(environ: dict, start_response: Callable) -> Any:
        if environ.get("REQUEST_METHOD") == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = limit + 1
            if length > limit:
                log.info("refused a %s-byte polling POST (limit %d)", length, limit)
                start_response("413 Payload Too Large", [("Content-Type", "text/plain")])
                return [b"payload too large"]
        try:
            return handle_request(environ, start_response)
        except Exception as exc:
            if environ.get("HTTP_UPGRADE", "").lower() != "websocket":
                raise
            # The websocket is already answered. The fan-out reader ends a session on input it
            # cannot decode itself; what still lands here is a failed upgrade from polling,
            # whose polling session carries on.
            log.info("websocket ended on a bad frame: %s: %.120s", type(exc).__name__, exc)
            return []

    server.handle_request = checked_request


def _check_packets(server: Any) -> None:
    """Checks in front of python-socketio's two entry points for client data (see the module
    docstring)."""
    driver.intercept(
        server,
        on_message=_checked_message,
        on_event=lambda handle_event: _checked_event(server, handle_event),
    )


def _checked_message(handle_message: Callable) -> Callable:
    def checked_message(eio_sid: str, data: Any) -> None:
        if isinstance(data, bytes | bytearray) or str(data)[:1] in ("5", "6"):
            log.info("dropped a binary packet from %s: not accepted", eio_sid)
            return
        try:
            handle_message(eio_sid, data)
        except Exception as exc:  # a packet that does not decode, an unknown packet type
            log.info("dropped a bad packet from %s: %s: %.120s", eio_sid, type(exc).__name__, exc)

    return checked_message


def _checked_event(server: Any, handle_event: Callable) -> Callable:
    def checked_event(eio_sid: str, namespace: str | None, ack: Any, data: Any) -> None:
        namespace = namespace or "/"
        event, problem = _event_problem(server, namespace, data)
        if problem is None:
            handle_event(eio_sid, namespace, ack, data)
            return
        sid = server.manager.sid_from_eio_sid(eio_sid, namespace)
        log.info("bad event %.64r from %s on %s: %s", event, sid or eio_sid, namespace, problem)
        if sid is not None and server.manager.is_connected(sid, namespace):
            reply = {"event": event, "message": problem}
            # the sender is on this worker: no round trip through a message queue
            server.emit("error", reply, to=sid, namespace=namespace, ignore_queue=True)

    return checked_event


def _event_problem(server: Any, namespace: str, data: Any) -> tuple[str | None, str | None]:
    """(event name if readable, what is wrong or None)."""
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        return None, "an event needs a name"
    event = data[0][:MAX_EVENT_NAME]
    handler = server.namespace_handlers.get(namespace)
    if event in LIFECYCLE_EVENTS or handler is None or not hasattr(handler, "on_" + event):
        return event, "unknown event"
    if len(data) > 2:
        return event, "an event takes at most one payload"
    if len(data) == 2 and data[1] is not None and not isinstance(data[1], dict):
        return event, "the payload must be an object"
    return event, None


def _handler_failed(exc: Exception) -> None:
    """Flask-SocketIO's default error handler: one log line and an ``error`` reply."""
    event = getattr(request, "event", None) or {}
    name = event.get("message") if isinstance(event, dict) else None
    log.error(
        "handler for %r from %s failed: %s: %.200s",
        name,
        getattr(request, "sid", "?"),
        type(exc).__name__,
        exc,
    )
    from flask_socketio import emit

    message = {"event": name, "message": "the server could not handle this event"}
    emit("error", message, ignore_queue=True)
