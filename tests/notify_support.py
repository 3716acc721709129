"""Real notification receivers on loopback ports, for Apprise's ``json://`` and ``mailto://``.

- :class:`JsonReceiver`: an HTTP server recording each POSTed JSON body (Apprise's
  ``json://127.0.0.1:PORT/path``); it can be stopped and started again on the same port (a
  service down for a while).
- :class:`SmtpReceiver`: an aiosmtpd server recording each mail (Apprise's
  ``mailto://127.0.0.1:PORT?…&mode=insecure``: plain SMTP, no STARTTLS, no login).

Both are context managers; ``wait_for(n)`` waits until n messages have arrived.
:data:`ALWAYS_FIRING` is an alert rule that fires on any machine, for the tests to notify.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from support import free_port

#: Always true on any machine (it has memory): fires within a second or two.
ALWAYS_FIRING = """
[[alerts]]
name = "has-memory"
key = "mem.total"
above = 0
for = 1
severity = "critical"
"""


class _Received:
    def __init__(self) -> None:
        self.messages: list[dict] = []
        self._arrived = threading.Condition()

    def _add(self, message: dict) -> None:
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        """The messages once ``count`` have arrived (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.messages)} messages arrived, not {count}")
                self._arrived.wait(left)
            return list(self.messages)


class JsonReceiver(_Received):
    """Records Apprise's JSON posts: dicts with ``title``, ``message``, ``type`` and the
    ``path`` posted to."""

    def __init__(self, port: int | None = None, status: int = 200, delay: float = 0.0) -> None:
        super().__init__()
        self.port = port or free_port()
        self.status = status
        #: Seconds each answer waits after the body was read (a slow service).
        self.delay = delay
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def start(self) -> JsonReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                receiver._add({**body, "path": self.path})
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def __enter__(self) -> JsonReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class SmtpReceiver(_Received):
    """Records mails: dicts with ``from``, ``to``, ``subject`` and ``body`` (the text part)."""

    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()
        self._controller = None

    def url(self, to: str = "ops@example.com") -> str:
        # mailto:// with an IP host is plain SMTP; mode=insecure says so (no STARTTLS).
        return f"mailto://127.0.0.1:{self.port}?from=hostpulse@example.com&to={to}&mode=insecure"

    def start(self) -> SmtpReceiver:
        from aiosmtpd.controller import Controller

        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
                part = parsed.get_body(preferencelist=("plain",))
                receiver._add(
                    {
                        "from": envelope.mail_from,
                        "to": list(envelope.rcpt_tos),
                        "subject": str(parsed["Subject"]),
                        "body": part.get_content() if part is not None else "",
                    }
                )
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
