"""Who sends a message, and whether it was sent: exactly once across workers and restarts.

A message is known by its key (``Transition.id``, the target, a repeat's number): the same on
every worker that evaluated the same samples. Before sending, a worker *claims* the key;
after, it marks it *done*.

- :class:`RedisLedger` (several workers): the claim is ``SET NX PX`` with a lease, renewed
  while the message is being delivered; the done marker stays 31 days (longer than any
  episode's events are kept). A worker that finds the key claimed by another parks its job
  until the lease would run out and asks again: done, it drops the job; unclaimed (the sender
  died before it was done), it takes the job over.
- :class:`LocalLedger` (one process, no Redis): a SQLite table in the data dir, so a restart
  does not send again what was sent.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from hostpulse.remote.client import make_client, run_id

#: How long a done marker is kept: a transition is not sent again for this long.
DONE_KEEP = 31 * 86400
#: A claim's lease: a sender that dies leaves the key to the others after this long.
LEASE = 60.0
PREFIX = "hostpulse:notify:"

MINE, DONE, HELD = "mine", "done", "held"


class LedgerError(Exception):
    """The ledger cannot be read or written (Redis unreachable, a disk error)."""


@dataclass(frozen=True, slots=True)
class Claim:
    #: MINE: send it; DONE: sent (or given up) already; HELD: another worker is at it.
    status: str
    #: With HELD: seconds until its lease runs out (when to ask again).
    wait: float = 0.0


class LocalLedger:
    """Done markers in SQLite (``path`` None: in memory, for ``memory_only``)."""

    lease = float("inf")

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(path) if path else ":memory:", check_same_thread=False, timeout=5
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS sent (key TEXT PRIMARY KEY, result TEXT, ts REAL)"
            )
            self._db.execute("DELETE FROM sent WHERE ts < ?", (time.time() - DONE_KEEP,))
            self._db.commit()
        except sqlite3.Error as exc:
            raise LedgerError(f"notification ledger {path}: {exc}") from None

    def claim(self, key: str) -> Claim:
        with self._lock:
            try:
                row = self._db.execute("SELECT 1 FROM sent WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as exc:
                raise LedgerError(str(exc)) from None
        return Claim(DONE if row else MINE)

    def renew(self, key: str) -> bool:
        return True

    def finish(self, key: str, result: str) -> None:
        with self._lock:
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO sent VALUES (?, ?, ?)", (key, result, time.time())
                )
                self._db.commit()
            except sqlite3.Error as exc:
                raise LedgerError(str(exc)) from None

    def result(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT result FROM sent WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()


# KEYS: claim, done. ARGV: owner, lease ms. -1: done; 0: ours (claimed or renewed);
# > 0: another's, its lease's milliseconds left.
_CLAIM = """
if redis.call('exists', KEYS[2]) == 1 then return -1 end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 0
end
local left = redis.call('pttl', KEYS[1])
if left < 1 then return 1 end
return left
"""
# KEYS: claim. ARGV: owner, lease ms. 1: renewed; 0: not ours any more.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
# KEYS: claim, done. ARGV: owner, result, keep s. The done marker, then our claim let go.
_FINISH = """
redis.call('set', KEYS[2], ARGV[2], 'EX', ARGV[3])
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
return 1
"""


class RedisLedger:
    """Claims and done markers in Redis, shared by every worker on it."""

    def __init__(self, url: str, lease: float = LEASE, owner: str | None = None) -> None:
        self.lease = lease
        self.owner = owner or run_id()
        self._redis = make_client(url)
        self._claim = self._redis.register_script(_CLAIM)
        self._renew = self._redis.register_script(_RENEW)
        self._finish = self._redis.register_script(_FINISH)

    @staticmethod
    def keys(key: str) -> list[str]:
        return [f"{PREFIX}claim:{key}", f"{PREFIX}done:{key}"]

    def claim(self, key: str) -> Claim:
        answer = self._call(self._claim, self.keys(key), [self.owner, self._lease_ms])
        if answer < 0:
            return Claim(DONE)
        if answer == 0:
            return Claim(MINE)
        return Claim(HELD, answer / 1000)

    def renew(self, key: str) -> bool:
        return bool(self._call(self._renew, self.keys(key)[:1], [self.owner, self._lease_ms]))

    def finish(self, key: str, result: str) -> None:
        self._call(self._finish, self.keys(key), [self.owner, result, DONE_KEEP])

    def result(self, key: str) -> str | None:
        value = self._redis.get(self.keys(key)[1])
        return value.decode() if value is not None else None

    def close(self) -> None:
        self._redis.close()

    @property
    def _lease_ms(self) -> int:
        return max(1, int(self.lease * 1000))

    @staticmethod
    def _call(script, keys: list[str], args: list) -> int:
        try:
            return int(script(keys=keys, args=args))
        except redis.RedisError as exc:
            raise LedgerError(f"Redis: {exc}") from None
