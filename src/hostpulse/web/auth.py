"""Login, sessions, API tokens and login rate limiting (docs/SECURITY.md).

With no password set (``hostpulse passwd``) nothing here refuses anything. With one set:

- the page and every other route need a session (a signed cookie set by ``POST /login``);
  a browser without one is sent to ``/login``;
- ``/api/…`` and ``/metrics`` accept a session or ``Authorization: Bearer <token>`` and
  answer 401 JSON otherwise;
- the Socket.IO connection is refused in the connect handler (:meth:`Auth.allow_connect`);
- ``/healthz``, ``/login`` and the static assets stay open (they say nothing about the host).

A session holds a random id, a fingerprint of the password record and an expiry: changing or
removing the password ends every session, and ``POST /logout`` ends that one session
server-side (web/revoked.py), so a copy of its cookie no longer works either. The cookie is
HttpOnly, SameSite=Lax, and Secure when the request came over TLS (directly, or through a
trusted proxy's ``X-Forwarded-Proto``).
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
)
from flask.sessions import SecureCookieSessionInterface

from hostpulse.credentials import Credentials, Store, password_fingerprint
from hostpulse.osthreads import OSThreads
from hostpulse.web.clientaddr import ClientAddress
from hostpulse.web.revoked import RevokedSessions

SESSION_COOKIE = "hostpulse_session"
SESSION_HOURS = 12
#: Open with a password set: health, the login form and the page's static assets.
OPEN_ENDPOINTS = frozenset({"pages.healthz", "auth.login_form", "auth.login", "static"})
#: Paths where a Bearer token is accepted instead of a session.
TOKEN_PATHS = ("/api/", "/metrics")
MAX_FAILURES = 5
FAILURE_WINDOW = 300.0
#: Failed logins from all clients together per window: the bound for clients that can claim
#: any address (0.2-0.3 s of scrypt each: about 15 s of CPU per window at most).
MAX_GLOBAL_FAILURES = 50
#: Concurrent password checks (each scrypt check takes 16 MiB for about 0.2 s).
MAX_CONCURRENT_CHECKS = 2

log = logging.getLogger("hostpulse.auth")
access_log = logging.getLogger("hostpulse.access")

bp = Blueprint("auth", __name__)


class LoginLimiter:
    """At most ``max_failures`` failed logins per client, and ``global_failures`` in all, in
    ``window`` seconds.

    A try first takes a slot (:meth:`begin`) and gives it back when its password check is
    done (:meth:`end`): a check in flight counts as a failure until it is known not to be
    one. The count and the slot are taken under one lock, so concurrent tries from one
    client cannot all pass the limit while the first checks are still running. The global
    cap holds against clients that can claim a new address on every try (one on the
    proxy's own machine, whose X-Forwarded-For is believed).

    IPv6 clients are counted per /64 (one host usually owns the whole /64). The table is
    bounded: past ``max_clients`` entries the stale ones go, then the oldest.
    """

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: float = FAILURE_WINDOW,
        global_failures: int = MAX_GLOBAL_FAILURES,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.global_failures = global_failures
        self.max_clients = max_clients
        self._clock = clock
        self._failures: dict[str, collections.deque[float]] = {}
        self._pending: collections.Counter[str] = collections.Counter()
        self._all: collections.deque[float] = collections.deque(maxlen=global_failures)
        self._all_pending = 0
        self._lock = threading.Lock()

    @staticmethod
    def _key(address: str) -> str:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return str(ip)

    def _wait(self, times: collections.deque[float], pending: int, limit: int, now: float):
        """Seconds until one more try fits in ``limit``; 0 when it fits now."""
        recent = [t for t in times if now - t < self.window]
        if len(recent) + pending < limit:
            return 0.0
        if len(recent) < limit:  # full only with checks in flight: they end within seconds
            return 1.0
        return max(self.window - (now - recent[len(recent) - limit]), 1.0)

    def begin(self, address: str) -> tuple[float, str]:
        """(0, "") with a slot taken for one password check, which :meth:`end` must give
        back; else (seconds to wait, "client" or "all") and no slot."""
        key = self._key(address)
        with self._lock:
            now = self._clock()
            times = self._failures.get(key) or ()
            wait = self._wait(times, self._pending[key], self.max_failures, now)
            if wait:
                return wait, "client"
            wait = self._wait(self._all, self._all_pending, self.global_failures, now)
            if wait:
                return wait, "all"
            self._pending[key] += 1
            self._all_pending += 1
            return 0.0, ""

    def end(self, address: str, ok: bool) -> None:
        """The check that :meth:`begin` let through is over: a failure counts, a success
        clears this client's failures."""
        key = self._key(address)
        with self._lock:
            self._pending[key] -= 1
            if self._pending[key] <= 0:
                del self._pending[key]
            self._all_pending -= 1
            if ok:
                self._failures.pop(key, None)
                return
            now = self._clock()
            self._all.append(now)
            times = self._failures.pop(key, None) or collections.deque(maxlen=self.max_failures)
            times.append(now)
            self._failures[key] = times  # re-inserted: the dict stays in order of last failure
            if len(self._failures) > self.max_clients:
                self._prune()

    def retry_after(self, address: str) -> float:
        """Seconds until this client may try again; 0 when it may try now."""
        with self._lock:
            now = self._clock()
            times = self._failures.get(self._key(address)) or ()
            return max(
                self._wait(times, self._pending[self._key(address)], self.max_failures, now),
                self._wait(self._all, self._all_pending, self.global_failures, now),
            )

    def _prune(self) -> None:
        cutoff = self._clock() - self.window
        for key in [k for k, t in self._failures.items() if t[-1] < cutoff]:
            del self._failures[key]
        while len(self._failures) > self.max_clients:
            del self._failures[next(iter(self._failures))]


class TLSAwareSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with ``Secure`` decided per request."""

    def __init__(self, is_tls: Callable[[], bool]) -> None:
        self._is_tls = is_tls

    def get_cookie_secure(self, app: Flask) -> bool:
        return self._is_tls()


class Auth:
    def __init__(
        self, store: Store, client_address: ClientAddress, revoked: RevokedSessions
    ) -> None:
        self.store = store
        self.client_address = client_address
        self.revoked = revoked
        self.limiter = LoginLimiter()
        self._checks = threading.BoundedSemaphore(MAX_CONCURRENT_CHECKS)
        # scrypt releases the GIL: in real OS threads it does not freeze the event loop (the
        # sampler and every viewer) for the 0.2 s it takes; in threads of its own, a pool
        # that something else has used up (hung statfs calls, DNS) cannot delay a login.
        self._hashing = OSThreads(MAX_CONCURRENT_CHECKS, "hostpulse-password")
        self._reported_error: str | None = None

    # --- state -----------------------------------------------------------------------------

    def credentials(self) -> Credentials:
        credentials = self.store.current()
        error = self.store.last_error
        if error and error != self._reported_error:
            log.error("%s; keeping the credentials read before", error)
        self._reported_error = error
        return credentials

    @property
    def enabled(self) -> bool:
        return self.credentials().enabled

    def is_tls(self) -> bool:
        if request.is_secure:
            return True
        return self.client_address.forwarded_proto(request.environ) == "https"

    def session_ok(self) -> bool:
        credentials = self.credentials()
        if not credentials.enabled:
            return True
        fingerprint = session.get("pw")
        expires = session.get("exp")
        session_id = session.get("id")
        return (
            isinstance(fingerprint, str)
            and fingerprint == password_fingerprint(credentials.password)
            and isinstance(expires, int | float)
            and expires > time.time()
            and isinstance(session_id, str)
            and not self.revoked.is_revoked(session_id)
        )

    def bearer_ok(self) -> bool | None:
        """None without an Authorization header; else whether its token is valid."""
        header = request.headers.get("Authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        return self.credentials().token_name(token.strip()) is not None

    def allow_connect(self) -> bool:
        """For the Socket.IO connect handler: may this handshake's session connect?"""
        if self.session_ok():
            return True
        access_log.warning(
            '%s - "WEBSOCKET REFUSED" not logged in', self.client_address(request.environ)
        )
        return False

    # --- the hook --------------------------------------------------------------------------

    def before_request(self) -> Any:
        if not self.enabled or request.endpoint in OPEN_ENDPOINTS:
            return None
        if request.path.startswith(TOKEN_PATHS):
            bearer = self.bearer_ok()
            if bearer or (bearer is None and self.session_ok()):
                return None
            response = jsonify(error="authentication required: log in or send a Bearer token")
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="hostpulse"'
            return response
        if self.session_ok():
            return None
        return redirect("/login", 303)

    def check_password(self, password: str) -> bool:
        credentials = self.credentials()
        with self._checks:
            return self._hashing.apply(credentials.check_password, password)


def runtime_auth() -> Auth:
    return current_app.extensions["hostpulse.auth"]


def same_origin_post() -> bool:
    """False when a browser says the form was posted from another site.

    No Origin (curl, old browsers) or ``null`` (privacy settings) is let through: a forged
    cross-site login needs the password anyway, and the rate limit holds.
    """
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return True
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" in {request.host_url.rstrip("/"), _forwarded_url()}


def _forwarded_url() -> str:
    auth = runtime_auth()
    if not auth.client_address.from_trusted_proxy(request.environ):
        return request.host_url.rstrip("/")
    proto = auth.client_address.forwarded_proto(request.environ)
    host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
    return f"{proto or request.scheme}://{host or request.host}"


@bp.get("/login")
def login_form():
    auth = runtime_auth()
    if not auth.enabled or auth.session_ok():
        return redirect("/", 303)
    return render_template("login.html", error=None)


@bp.post("/login")
def login():
    auth = runtime_auth()
    if not auth.enabled:
        return redirect("/", 303)
    client = auth.client_address(request.environ)
    if not same_origin_post():
        access_log.warning('%s - "LOGIN REFUSED" cross-origin form', client)
        return render_template("login.html", error="Please log in from this page."), 403
    wait, who = auth.limiter.begin(client)
    if wait > 0:
        reason = "rate-limited" if who == "client" else "rate-limited (all clients)"
        access_log.warning('%s - "LOGIN REFUSED" %s for %.0fs', client, reason, wait)
        message = f"Too many failed attempts. Try again in {wait:.0f} seconds."
        response = current_app.make_response((render_template("login.html", error=message), 429))
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    ok = False
    try:
        ok = auth.check_password(request.form.get("password", ""))
    finally:
        auth.limiter.end(client, ok)
    if not ok:
        access_log.warning('%s - "LOGIN FAILED" wrong password', client)
        return render_template("login.html", error="Wrong password."), 401
    access_log.info('%s - "LOGIN OK"', client)
    session.clear()
    session.permanent = True
    session["id"] = secrets.token_urlsafe(18)
    session["pw"] = password_fingerprint(auth.credentials().password)
    session["exp"] = time.time() + SESSION_HOURS * 3600
    return redirect("/", 303)


@bp.post("/logout")
def logout():
    if not same_origin_post():
        return jsonify(error="cross-origin logout refused"), 403
    auth = runtime_auth()
    if auth.enabled and auth.session_ok():
        auth.revoked.revoke(session["id"], session["exp"])
        access_log.info('%s - "LOGOUT"', auth.client_address(request.environ))
    session.clear()
    return redirect("/login" if runtime_auth().enabled else "/", 303)


def install(
    app: Flask, store: Store, client_address: ClientAddress, revoked: RevokedSessions
) -> Auth:
    auth = Auth(store, client_address, revoked)
    app.extensions["hostpulse.auth"] = auth
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )
    app.session_interface = TLSAwareSessions(auth.is_tls)
    app.register_blueprint(bp)
    app.before_request(auth.before_request)

    @app.context_processor
    def auth_enabled() -> dict[str, bool]:
        return {"auth_enabled": auth.enabled}

    return auth
