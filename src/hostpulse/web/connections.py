"""How many connections the server holds: at most ``total``, and at most ``per_client`` from
one client address, so that neither one client nor many idle ones can take every descriptor;
how fast one address may open them (:data:`CONNECTS_PER_SECOND`: each new viewer costs a
handshake and a hello with minutes of history, which a client reconnecting in a loop would
otherwise buy as fast as it likes) and how many HTTP requests it may make over all of them
(:data:`REQUESTS_PER_SECOND`).

Each accepted connection gets a :class:`Ticket` (web/server.py) that it gives back when it
closes; a websocket that outlives its request (web/driver.py) takes its ticket along.
Connections from a trusted proxy count toward ``total`` only: the proxy speaks for many
clients (nginx's ``limit_conn`` caps each of them; deploy/nginx does).

``total`` leaves :data:`FD_RESERVE` descriptors of the process's limit to everything else
(collectors reading /proc, history's SQLite file, log files, Redis), so those never fail for
lack of one, however many clients connect.
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable

from hostpulse.web.budget import InputBudget

log = logging.getLogger("hostpulse.connections")

#: Descriptors never given to client connections: collectors, SQLite, logs, Redis, the
#: connections accepted but not yet counted (gevent accepts up to 100 at a time).
FD_RESERVE = 256
#: Where the ticket travels in a request's environ.
TICKET = "hostpulse.connection"
#: At most one log line this often about connections closed for sending no request in time.
TIMEOUT_LOG_SECONDS = 60.0
#: New connections one client address may open: a burst (a page load, a few tabs, a
#: reload) and a steady rate. Trusted proxies are not limited here (nginx's own limits are).
CONNECTS_PER_SECOND = 10.0
CONNECT_BURST = 40.0
#: Requests one client address may make, over all its connections (a page load is a dozen).
REQUESTS_PER_SECOND = 20.0
REQUEST_BURST = 100.0
#: Addresses whose rates are remembered; past this, idle ones are forgotten.
MAX_RATED_ADDRESSES = 10_000


def total_for(open_files: int, wanted: int = 0) -> int:
    """The cap on connections for this open-files limit (``wanted``: 0 for the most that
    leaves the reserve, else that many, never more)."""
    room = max(16, open_files - FD_RESERVE)
    return room if wanted <= 0 else min(wanted, room)


def open_files_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class Ticket:
    """One connection's place; :meth:`release` gives it back (once, however often called)."""

    __slots__ = ("address", "connections", "from_proxy", "released", "taken")

    def __init__(self, connections: Connections, address: str, from_proxy: bool) -> None:
        self.connections = connections
        self.address = address
        #: From a trusted proxy: it speaks for many clients (not capped per address, and
        #: its keep-alive connections carry many clients' requests).
        self.from_proxy = from_proxy
        #: True once a websocket took the connection over from its request.
        self.taken = False
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.connections._release(self)


class Connections:
    def __init__(self, total: int, per_client: int, exempt: Callable[[str], bool]) -> None:
        self.total = total
        self.per_client = per_client
        self.exempt = exempt
        self.open = 0
        self._by_address: dict[str, int] = {}
        #: Refusals by reason ("total", "per_client", "rate", "requests"), for /metrics.
        self.refused = {"total": 0, "per_client": 0, "rate": 0, "requests": 0}
        #: address -> its budgets: new connections (frames), requests (bytes: one a request).
        self._rates: dict[str, InputBudget] = {}
        #: (reason, address) refused since last below that cap: logged once per episode.
        self._refusing: set[tuple[str, str]] = set()
        #: Connections closed for not sending a whole request head in time, for /metrics.
        self.timed_out = 0
        self._timeout_logged = -TIMEOUT_LOG_SECONDS
        self._timeouts_unlogged = 0

    def admit(self, address: str) -> Ticket | str:
        """A ticket for a connection from ``address``, or why it is refused (one line)."""
        if self.open >= self.total:
            return self._refuse("total", f"the server holds its maximum of {self.total}")
        from_proxy = self.exempt(address)
        if not from_proxy and self._by_address.get(address, 0) >= self.per_client:
            return self._refuse(
                "per_client", f"{address} holds its maximum of {self.per_client}", address
            )
        if not from_proxy and not self._rates_of(address).spend(1, 0):
            why = f"{address} opens more than {CONNECTS_PER_SECOND:g} a second"
            return self._refuse("rate", why, address)
        self.open += 1
        if not from_proxy:
            self._by_address[address] = self._by_address.get(address, 0) + 1
        return Ticket(self, address, from_proxy)

    def allow_request(self, ticket: Ticket) -> bool:
        """One more HTTP request on this connection: within its address's budget, which all
        its connections share (else ten connections a second, each with a burst of its own,
        would buy a thousand requests a second). A trusted proxy's are not counted here."""
        return ticket.from_proxy or self._rates_of(ticket.address).spend(0, 1)

    def _rates_of(self, address: str) -> InputBudget:
        rates = self._rates.get(address)
        if rates is None:
            if len(self._rates) >= MAX_RATED_ADDRESSES:
                self._forget_idle()
            rates = self._rates[address] = InputBudget(
                CONNECTS_PER_SECOND, CONNECT_BURST, REQUESTS_PER_SECOND, REQUEST_BURST
            )
        return rates

    def _forget_idle(self) -> None:
        """Drop the addresses whose burst has refilled: they are where a new one starts."""
        now = time.monotonic()
        refill = max(CONNECT_BURST / CONNECTS_PER_SECOND, REQUEST_BURST / REQUESTS_PER_SECOND)
        self._rates = {a: r for a, r in self._rates.items() if now - r.at < refill}

    def _refuse(self, reason: str, why: str, address: str = "") -> str:
        self.refused[reason] += 1
        episode = (reason, address)
        if episode not in self._refusing:  # one line when it starts, not one per refusal
            self._refusing.add(episode)
            log.warning("refusing connections: %s (counted on /metrics)", why)
        return f"too many connections: {why}"

    def _release(self, ticket: Ticket) -> None:
        self.open -= 1
        address = ticket.address
        if not ticket.from_proxy:
            left = self._by_address[address] - 1
            if left:
                self._by_address[address] = left
            else:
                del self._by_address[address]
            for reason in ("per_client", "rate", "requests"):
                self._refusing.discard((reason, address))
        if self.open < self.total:
            self._refusing.discard(("total", ""))

    def note_over_requests(self, address: str) -> None:
        """A connection closed for making more requests than its address may."""
        self._refuse(
            "requests", f"{address} makes more than {REQUESTS_PER_SECOND:g} a second", address
        )

    def note_timeout(self, address: str, seconds: float) -> None:
        """A connection from ``address`` sent no whole request head within ``seconds``."""
        self.timed_out += 1
        self._timeouts_unlogged += 1
        now = time.monotonic()
        if now - self._timeout_logged >= TIMEOUT_LOG_SECONDS:
            log.info(
                "closed %d connection(s) that sent no complete request within %gs (last from %s)",
                self._timeouts_unlogged,
                seconds,
                address,
            )
            self._timeout_logged, self._timeouts_unlogged = now, 0
