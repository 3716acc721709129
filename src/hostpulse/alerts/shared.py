"""One start per alert episode for every worker on a Redis (docs/ALERTS.md, "Several
workers").

Every worker evaluates every host's stream and submits the same transitions; the notifier
sends one of them by ``Transition.id``, which holds the episode's start (``since``). Workers
that read the same samples find the same start, but one that started later, restarted in
the middle of an episode, or read two samples in one go (only the newest of a read is live)
may not. So the first worker to open an episode writes its start with ``SET NX`` and every
other adopts what is there; the key lives while the episode does (refreshed by the engine
every minute, gone an hour after the last worker stopped refreshing it) and the worker that
ends the episode deletes it only if it still holds that episode's start.

Redis away: the local start is used (logged once); workers may then disagree on an episode
begun during the outage.
"""

from __future__ import annotations

import logging

import redis

from hostpulse.remote import wire
from hostpulse.remote.client import make_client

log = logging.getLogger("hostpulse.alerts")

#: Seconds an episode's key outlives its last refresh.
TTL = 3600
_DELETE_IF = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)

Ident = tuple[str, str, str]


class SharedStarts:
    def __init__(self, url: str) -> None:
        self._client = make_client(url)
        self._delete_if = self._client.register_script(_DELETE_IF)
        #: (host, rule, instance) -> the shared start, for the episodes open here.
        self._known: dict[Ident, float] = {}
        self._failing = False

    def since(self, ident: Ident, local: float) -> float:
        """The episode's shared start: the one a worker wrote first, or ``local``."""
        known = self._known.get(ident)
        if known is not None:
            return known
        try:
            old = self._client.set(wire.alert_key(*ident), _text(local), nx=True, get=True,
                                   ex=TTL)  # fmt: skip
            self._ok()
        except (redis.RedisError, OSError) as exc:
            self._fail(exc)
            return local
        shared = local if old is None else _number(old, local)
        self._known[ident] = shared
        return shared

    def end(self, ident: Ident, local: float) -> float:
        """The episode is over: its shared start (for the last transition's id); the key is
        deleted if it still holds it."""
        shared = self._known.pop(ident, None)
        if shared is None:
            shared = self.since(ident, local)
            self._known.pop(ident, None)
        try:
            self._delete_if(keys=[wire.alert_key(*ident)], args=[_text(shared)])
            self._ok()
        except (redis.RedisError, OSError) as exc:
            self._fail(exc)
        return shared

    def refresh(self) -> None:
        """Keep the keys of the episodes open here alive (every minute), writing them back
        where they expired while no worker ran."""
        if not self._known:
            return
        try:
            pipe = self._client.pipeline(transaction=False)
            for ident, since in list(self._known.items()):
                pipe.set(wire.alert_key(*ident), _text(since), ex=TTL)
            pipe.execute()
            self._ok()
        except (redis.RedisError, OSError) as exc:
            self._fail(exc)

    def close(self) -> None:
        self._client.close()

    def _ok(self) -> None:
        if self._failing:
            log.info("alerts: redis reachable again; episode starts shared again")
            self._failing = False

    def _fail(self, exc: Exception) -> None:
        if not self._failing:
            log.warning("alerts: redis unreachable (%s); using this worker's episode starts",
                        exc)  # fmt: skip
            self._failing = True


def _text(since: float) -> str:
    return repr(float(since))


def _number(raw: bytes | str, default: float) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return default
