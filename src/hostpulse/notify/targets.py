"""Where messages go: one Apprise URL each, with the severities it is told of.

Each URL gets an Apprise object of its own, so that every send has one result per URL (a
mail server down does not hide that the webhook got it) and its own error text. Apprise
does the talking; the only things asked of it are its documented ones: ``Apprise.add`` /
``notify``, ``AppriseAsset(async_mode=False)``, ``log_callback`` (the reason a send failed), a
plugin's ``url(privacy=True)`` (the URL fit for logs, its secrets masked). Apprise is imported
only when URLs are configured: loading it and its plugins costs about half a second of CPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hostpulse.alerts.transition import CRITICAL, WARNING
from hostpulse.config import ConfigError, Settings
from hostpulse.notify.message import Message

#: Seconds to connect and to wait for each answer: a send is bounded, a dead service costs
#: the delivery thread this long at most (Apprise's ``cto`` / ``rto`` URL options; a URL
#: that names its own keeps them).
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 15


@dataclass(frozen=True, eq=False)
class Target:
    url: str
    severities: frozenset[str]
    #: The URL as logs and ``alerts test`` show it (Apprise masks its secrets).
    shown: str
    #: A short stable name for the ledger: the same URL is the same target on every worker.
    key: str
    _apprise: Any = field(repr=False)
    _log: AppriseLog = field(repr=False)
    #: What Apprise said during this target's send (its log_callback): one send at a time.
    _said: list[str] = field(repr=False, default_factory=list)

    def wants(self, severity: str) -> bool:
        return severity in self.severities

    def send(self, message: Message) -> str | None:
        """Send once: None when delivered, else why not (Apprise's own words)."""
        import apprise

        said = self._said
        said.clear()
        with self._log.during_send():
            try:
                ok = bool(
                    self._apprise.notify(
                        title=message.title,
                        body=message.body,
                        notify_type=message.kind,
                        body_format=apprise.NotifyFormat.TEXT,
                    )
                )
            except Exception as exc:  # a plugin's bug must not end the delivery thread
                return f"{type(exc).__name__}: {exc}"
        if ok:
            return None
        return said[-1] if said else "the service did not accept the message"


class AppriseLog:
    """Apprise logs every failed try; hostpulse one line per URL and error (notifier.py), with
    the reason Apprise gave to the send's ``log_callback``. While any send runs (several, one
    per target), Apprise's own records do not reach the log."""

    def __init__(self) -> None:
        self._running = 0
        self._guard = threading.Lock()
        self._propagate = True

    @contextlib.contextmanager
    def during_send(self) -> Iterator[None]:
        logger = logging.getLogger("apprise")
        with self._guard:
            if self._running == 0:
                self._propagate = logger.propagate
                logger.propagate = False
            self._running += 1
        try:
            yield
        finally:
            with self._guard:
                self._running -= 1
                if self._running == 0:
                    logger.propagate = self._propagate


def build_targets(settings: Settings) -> list[Target]:
    """One Target per configured URL; a URL Apprise cannot use is a ConfigError naming its
    setting (checked when ``serve`` starts and by ``config check``)."""
    every = frozenset((WARNING, CRITICAL))
    wanted: dict[str, set[str]] = {}
    names: dict[str, str] = {}
    for name, severities in (
        ("notify_urls", every),
        ("notify_warning", {WARNING}),
        ("notify_critical", {CRITICAL}),
    ):
        for url in getattr(settings, name):
            wanted.setdefault(url, set()).update(severities)
            names.setdefault(url, name)
    log = AppriseLog()  # one for the targets built together: they send side by side
    return [_target(url, frozenset(sev), names[url], log) for url, sev in wanted.items()]


def _target(url: str, severities: frozenset[str], setting: str, log: AppriseLog) -> Target:
    import apprise

    bounded = _with_timeouts(url)
    said: list[str] = []

    def heard(entry, service=None) -> None:
        if entry.level in ("WARNING", "ERROR", "CRITICAL"):
            said.append(entry.message)

    client = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False), log_callback=heard)
    if not client.add(bounded) or len(client) != 1:
        scheme = url.split("://", 1)[0]
        raise ConfigError(
            f"setting {setting!r}: Apprise cannot use the {scheme}:// URL "
            f"(unknown service, or a part missing; see Apprise's page for {scheme}://)"
        )
    shown = client[0].url(privacy=True).split("?", 1)[0]
    key = hashlib.sha256(url.encode()).hexdigest()[:12]
    return Target(url, severities, shown, key, client, log, said)


def _with_timeouts(url: str) -> str:
    head, _, query = url.partition("?")
    names = {part.split("=", 1)[0] for part in query.split("&") if part}
    wanted = (("cto", CONNECT_TIMEOUT), ("rto", READ_TIMEOUT))
    extra = [f"{k}={v}" for k, v in wanted if k not in names]
    if not extra:
        return url
    return head + "?" + "&".join(([query] if query else []) + extra)
