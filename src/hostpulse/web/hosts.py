"""The Host header check: answer only requests addressed to this server (docs/SECURITY.md).

DNS rebinding: a page on ``evil.example`` rebinds its name to 127.0.0.1, and the victim's
browser then reads ``http://evil.example:8080/`` (our dashboard, the API, the websocket) as
a same-origin page of that site. The one thing such a request cannot hide is its ``Host``:
``evil.example``. So a request is served only when its Host (without the port) is one of ours:

- the bind address, ``localhost`` and names under ``.localhost``, the loopback addresses;
- the machine's host names (short and fully qualified) and the addresses of its interfaces
  (``discover``: the runtime's ``machine_names``, read at start; read again, at most every
  :data:`REFRESH_SECONDS`, when a Host is not found, so an address that came up later is
  learnt);
- the ``allowed_hosts`` setting: names (``dash.example.com``), a leading dot for a domain
  and its subdomains (``.example.com``), or ``*`` for any (the check off).

Anything else gets ``421 Misdirected Request`` with a plain message naming the Host and the
setting. ``/healthz`` is answered whatever the Host (probes use any address; it says nothing
about the host). A request without a Host header (HTTP/1.0, not a browser) is let through: a
rebinding page always runs in a browser, which always sends one.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterable

log = logging.getLogger("hostpulse.access")

LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
REFRESH_SECONDS = 30.0
OPEN_PATHS = ("/healthz",)


def host_of(header: str) -> str | None:
    """The host part of a Host header, lower-case, without port or brackets; None when it is
    not a host at all."""
    value = header.strip().lower()
    if value.startswith("["):  # [::1]:8080
        end = value.find("]")
        if end < 0 or (value[end + 1 :] and not value[end + 1 :].startswith(":")):
            return None
        value = value[1:end]
    elif value.count(":") == 1:
        value, _, port = value.partition(":")
        if port and not port.isdigit():
            return None
    value = value.rstrip(".")  # "example.com." is the same name
    if not value or any(c.isspace() or c in "/\\@?#" for c in value):
        return None
    return normalized(value)


def normalized(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value


class AllowedHosts:
    def __init__(
        self,
        bind: str,
        allowed: Iterable[str],
        discover: Callable[[], set[str]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        allowed = [a.strip().lower().rstrip(".") for a in allowed if a.strip()]
        self.any = "*" in allowed
        self.suffixes = tuple(a for a in allowed if a.startswith("."))
        self.fixed = {normalized(a) for a in allowed if not a.startswith(".") and a != "*"}
        self.fixed |= {*LOCAL_NAMES, "127.0.0.1", "::1"}
        if bind not in ("0.0.0.0", "::"):
            self.fixed.add(normalized(bind.lower()))
        self._discover = lambda: {normalized(name) for name in discover()}
        self._clock = clock
        self._machine = self._discover()
        self._refreshed = clock()

    def __call__(self, header: str | None) -> bool:
        """Whether a request with this Host header is for us."""
        if header is None or self.any:
            return True
        host = host_of(header)
        if host is None:
            return False
        if self._known(host):
            return True
        if self._clock() - self._refreshed >= REFRESH_SECONDS:
            self._machine = self._discover()
            self._refreshed = self._clock()
            return self._known(host)
        return False

    def _known(self, host: str) -> bool:
        if host in self.fixed or host in self._machine or host.endswith(".localhost"):
            return True
        if _is_loopback(host):
            return True
        return any(host.endswith(s) or host == s[1:] for s in self.suffixes)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HostCheck:
    """WSGI middleware: refuse requests whose Host is not ours, before anything else runs
    (the page, the API, the Socket.IO handshake and its polling requests)."""

    def __init__(self, app: Callable, allowed: AllowedHosts) -> None:
        self.app = app
        self.allowed = allowed
        self._refused: set[str] = set()

    def __call__(self, environ: dict, start_response: Callable):
        header = environ.get("HTTP_HOST")
        if environ.get("PATH_INFO", "") in OPEN_PATHS or self.allowed(header):
            return self.app(environ, start_response)
        shown = (header or "")[:100]
        name = host_of(shown) or shown
        if len(self._refused) < 100 and name not in self._refused:  # once per name
            self._refused.add(name)
            log.warning("refused requests for Host %r: not one of ours (allowed_hosts)", name)
        body = (
            f"421 Misdirected Request: this server does not answer for the host {shown!r}. "
            "If that is its name, add it to the allowed_hosts setting.\n"
        ).encode("utf-8", "replace")
        start_response(
            "421 Misdirected Request",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]
