"""The Socket.IO namespace ``/live`` (docs/PROTOCOL.md): what a viewer sends, checked, logged
and handed to :class:`~.live.Live`.

web/guard.py has already refused unknown events and payloads that are not objects; here each
event's fields are checked, and a bad one is answered with an ``error`` event and one log line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import request
from flask_socketio import ConnectionRefusedError, Namespace

from hostpulse import hostid
from hostpulse.web.clientaddr import ClientAddress
from hostpulse.web.live.live import Live
from hostpulse.web.live.sender import NAMESPACE
from hostpulse.web.live.viewers import PANELS

log = logging.getLogger("hostpulse.live")
access_log = logging.getLogger("hostpulse.access")


class LiveNamespace(Namespace):
    def __init__(
        self,
        live: Live,
        client_address: ClientAddress,
        authorize: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__(NAMESPACE)
        self.live = live
        self.client_address = client_address
        self.authorize = authorize

    def on_connect(self, auth: Any = None) -> None:
        if not self.authorize():  # web/auth.py: refused at connect time, before any data
            raise ConnectionRefusedError("authentication required")
        sid = request.sid
        self._log("WEBSOCKET CONNECT", f"transport={request.args.get('transport', '-')}")
        self.live.connect(sid)
        choice = auth if isinstance(auth, dict) else {}
        if choice.get("overview") is True:
            self.live.watch_overview(sid, True)
            return
        host = choice.get("host")
        if host is None or not isinstance(host, str):
            host = self.live.default_host
        elif not hostid.is_valid(host):
            self._error("connect", "host must be a host id")
            return
        self.live.watch_host(sid, host)

    def on_disconnect(self, reason: Any = None) -> None:
        self.live.leave(request.sid)
        self._log("WEBSOCKET DISCONNECT", f"reason={reason}")

    def on_watch(self, data: Any = None) -> None:
        if not isinstance(data, dict):
            self._error("watch", "watch takes an object")
            return
        sid = request.sid
        if "host" in data:
            if not hostid.is_valid(data["host"]):
                self._error("watch", "host must be a host id")
                return
            self.live.watch_host(sid, data["host"])
        if "overview" in data:
            if not isinstance(data["overview"], bool):
                self._error("watch", "overview must be true or false")
                return
            self.live.watch_overview(sid, data["overview"])
        if "panels" in data:
            self._watch_panels(sid, data["panels"])

    def _watch_panels(self, sid: str, panels: Any) -> None:
        if not isinstance(panels, list) or not all(isinstance(p, str) for p in panels):
            self._error("watch", "panels must be a list of strings")
            return
        unknown = set(panels) - PANELS
        if unknown:
            self._error("watch", f"unknown panels: {', '.join(sorted(unknown))}")
            return
        self.live.watch_panels(sid, frozenset(panels))

    def on_resync(self, data: Any = None) -> None:
        self.live.resync(request.sid)

    def on_ping(self, data: Any = None) -> dict[str, float]:
        return {"ts": time.time()}

    def _log(self, what: str, detail: str) -> None:
        access_log.info(
            '%s - "%s %s" sid=%s %s',
            self.client_address(request.environ),
            what,
            NAMESPACE,
            request.sid,
            detail,
        )

    def _error(self, event: str, message: str) -> None:
        log.info("bad %r event from %s: %s", event, request.sid, message)
        self.live.error(request.sid, event, message)
