"""The agent's side: a sampler's samples and facts, published to Redis in order.

The sampler never waits on Redis: its listener appends the encoded entry to a bounded
:class:`Backlog` and returns. A publisher thread drains the backlog in order, pipelining up
to ``BATCH`` entries per round trip, and removes entries only once Redis accepted them. While
Redis is unreachable the backlog fills up to its bound (the oldest samples are then dropped and
counted) and the publisher retries with capped, jittered exponential backoff. Nothing here
raises out of the thread: the agent keeps sampling whatever Redis does.

The top-process table read every 10 s for the history (collect/topprocs.py) is history like
the samples: it goes into the same backlog and stream (entry type ``p``), so an outage
buffers it and a new worker's backfill finds the last few.

On-demand tables (processes) ride the same round trip: the pipeline that adds the samples
also adds the newest table read (to its own short stream) and asks whether any worker still
wants each table (its want key exists); the answer turns the collector on or off through
``on_want``. Tables are live only: never queued, and not collected while Redis is away.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import redis

from hostpulse import hostid
from hostpulse.collect import topprocs
from hostpulse.config import redact_url
from hostpulse.remote import wire
from hostpulse.remote.client import BACKOFF_MAX, Backoff, make_client, run_id
from hostpulse.sample import Sample, Table

log = logging.getLogger("hostpulse.agent")

BATCH = 200
#: A lease outlives this many intervals (at least LEASE_MIN seconds) without a renewal.
LEASE_INTERVALS = 5
LEASE_MIN = 5.0

# Take the lease if it is free or ours; otherwise answer who holds it.
_LEASE = """
local v = redis.call('GET', KEYS[1])
if (not v) or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return v
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Backlog:
    """A bounded FIFO of encoded entries; thread-safe; the oldest go first when full."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: deque[tuple[int, dict[str, str], float]] = deque()
        self._next = 0
        self._lock = threading.Lock()
        self.ready = threading.Event()
        self.dropped = 0

    def put(self, entry: dict[str, str]) -> None:
        with self._lock:
            self._items.append((self._next, entry, time.monotonic()))
            self._next += 1
            while len(self._items) > self.limit:
                self._items.popleft()
                self.dropped += 1
        self.ready.set()

    def peek(self, count: int) -> list[tuple[int, dict[str, str], float]]:
        """The oldest ``count`` entries as (number, entry, monotonic time queued)."""
        with self._lock:
            return [self._items[i] for i in range(min(count, len(self._items)))]

    def ack(self, upto: int) -> None:
        """Forget every entry numbered ``upto`` or lower (Redis has them)."""
        with self._lock:
            while self._items and self._items[0][0] <= upto:
                self._items.popleft()
            if not self._items:
                self.ready.clear()

    def __len__(self) -> int:
        return len(self._items)


class Publisher:
    def __init__(
        self,
        url: str,
        host_id: str,
        *,
        interval: float,
        maxlen: int = 300,
        backlog: int = 3600,
        tables: Iterable[str] = (),
        on_want: Callable[[str, bool], None] = lambda table, wanted: None,
    ) -> None:
        if not hostid.is_valid(host_id):
            raise ValueError(f"host id {host_id!r}: {hostid.RULE}")
        self.url = url
        self.host_id = host_id
        self.interval = interval
        self.maxlen = maxlen
        self.backlog = Backlog(backlog)
        self.run = run_id()
        self.published = 0
        self.connected = False
        self.duplicate_of: str | None = None
        self._facts: dict[str, Any] | None = None
        self._facts_dirty = False
        self._client: redis.Redis | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream = wire.stream_key(host_id)
        self._lease_ms = int(1000 * max(LEASE_MIN, LEASE_INTERVALS * interval))
        self._last_duplicate_log = -1e9
        #: The on-demand tables this agent can collect, those some worker wants now, and
        #: the newest one read of each (with when it was read) not yet published.
        self.tables = tuple(tables)
        self.wanted: set[str] = set()
        self._on_want = on_want
        self._unsent: dict[str, tuple[Table, float]] = {}
        self._want_ttl_ms = wire.want_ttl_ms(interval)

    # --- the sampler's side: never blocks ------------------------------------------------

    def on_sample(self, sample: Sample) -> None:
        for name in self.tables:  # before the put, so the same round publishes both
            if name in sample.tables:
                table = Table(name, sample.seq, sample.ts, sample.tables[name])
                self._unsent[name] = (table, time.monotonic())
        self.backlog.put(wire.encode_sample(sample, self.run))
        top = sample.tables.get(topprocs.TABLE)
        if top is not None:  # history, not live: in the sample stream, buffered like samples
            self.backlog.put(wire.encode_top(sample.ts, top["rows"]))

    def on_facts(self, facts: dict[str, Any]) -> None:
        self._facts = facts
        self._facts_dirty = True
        self.backlog.put(wire.encode_facts(facts))

    # --- the publisher thread ------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="hostpulse-publisher")
        self._thread.daemon = True
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Publish what can be published within ``timeout``, release the lease, stop."""
        self._stop.set()
        self.backlog.ready.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._client is not None:
            with contextlib.suppress(redis.RedisError):
                self._client.eval(_RELEASE, 1, wire.lease_key(self.host_id), self.run)

    def _loop(self) -> None:
        backoff = Backoff()
        while True:
            try:
                self._round()
                backoff.reset()
            except (redis.RedisError, OSError) as exc:
                if self.connected:
                    log.warning(
                        "redis %s unreachable (%s); buffering, %d samples held",
                        redact_url(self.url),
                        exc,
                        len(self.backlog),
                    )
                self.connected = False
                self._client = None
                self._want(set())  # nobody can receive them: stop collecting
                if self._stop.wait(backoff.next()):
                    return
                continue
            except Exception:  # never let the agent die on a bug here: log and retry
                log.exception("publisher round failed")
                if self._stop.wait(BACKOFF_MAX):
                    return
                continue
            if self._stop.is_set() and not len(self.backlog):
                return
            if self.duplicate_of is not None:
                if self._stop.wait(self._lease_ms / 1000 / 2):
                    return
            elif not len(self.backlog):
                self.backlog.ready.wait(self.interval)

    def _round(self) -> None:
        client = self._client
        if client is None:
            client = make_client(self.url)
            client.ping()
            self._client = client
            self._facts_dirty = self._facts is not None
            log.info("publishing host %s to redis %s", self.host_id, redact_url(self.url))
            self.connected = True
        if not self._hold_lease(client):
            self._want(set())
            return
        pipe = client.pipeline(transaction=False)
        if self._facts_dirty and self._facts is not None:
            pipe.hset(
                wire.host_key(self.host_id),
                mapping={
                    "facts": wire.encode_facts(self._facts)["d"],
                    "interval": self.interval,
                    "run": self.run,
                },
            )
        batch = self.backlog.peek(BATCH)
        late = time.monotonic() - 2 * self.interval
        for _, entry, queued in batch:
            if queued < late:  # held back by an outage: history, not live (wire.LATE)
                entry = {**entry, wire.LATE: "1"}
            pipe.xadd(self._stream, entry, maxlen=self.maxlen, approximate=True)
        self._add_tables(pipe, late)
        pipe.zadd(wire.HOSTS, {self.host_id: time.time()})
        for name in self.tables:
            pipe.exists(wire.want_key(self.host_id, name))
        answers = pipe.execute()
        self._facts_dirty = False
        wanted = answers[len(answers) - len(self.tables) :]
        self._want({name for name, n in zip(self.tables, wanted, strict=True) if n})
        if batch:
            self.backlog.ack(batch[-1][0])
            self.published += len(batch)

    def _add_tables(self, pipe: Any, late: float) -> None:
        """The newest table of each kind read since the last round, unless already old."""
        unsent, self._unsent = self._unsent, {}
        for name, (table, read_at) in unsent.items():
            if read_at < late:
                continue
            key = wire.table_key(self.host_id, name)
            pipe.xadd(key, wire.encode_table(table), maxlen=wire.TABLE_MAXLEN, approximate=False)
            pipe.pexpire(key, self._want_ttl_ms)

    def _want(self, wanted: set[str]) -> None:
        """Turn each on-demand collector on or off as workers want it (logged on change)."""
        for name in self.tables:
            now = name in wanted
            if now != (name in self.wanted):
                state = "wanted by a viewer: collecting" if now else "no longer wanted: stopped"
                log.info("%s %s", name, state)
                self._on_want(name, now)
        self.wanted = set(wanted)

    def _hold_lease(self, client: redis.Redis) -> bool:
        """True while this agent owns its host id; reports a second agent with the same id."""
        answer = client.eval(_LEASE, 1, wire.lease_key(self.host_id), self.run, self._lease_ms)
        if answer == 1:
            if self.duplicate_of is not None:
                log.info("host id %s is ours again; publishing", self.host_id)
            self.duplicate_of = None
            return True
        other = answer.decode() if isinstance(answer, bytes) else str(answer)
        self.duplicate_of = other
        now = time.monotonic()
        if now - self._last_duplicate_log >= 60:
            self._last_duplicate_log = now
            log.error(
                "duplicate host id %r: agent %s already publishes it; this agent (%s) holds "
                "its samples back until that one stops (give each agent its own --host-id)",
                self.host_id,
                other,
                self.run,
            )
        client.hset(
            wire.host_key(self.host_id),
            "conflict",
            wire.encode_facts({"run": self.run, "holder": other, "ts": time.time()})["d"],
        )
        return False
