"""The worker's side: every host's stream, read into per-host objects the web layer serves.

Each host found there is a :class:`~hostpulse.host.Host` like the local one, whose feed is a
:class:`RemoteFeed`, so the REST API, ``/metrics`` and the live layer do not care where a
host's samples come from.

One :class:`Reader` thread (a greenlet under gevent) discovers hosts from the
``hostpulse:hosts`` set, backfills each new host's history from its stream (the last
``redis_maxlen`` samples), then follows every stream with one blocking ``XREAD``. Every
entry goes into history, in order; only the newest sample of a host per read goes to the
live listeners, so a backlog an agent publishes after an outage fills history without
flooding viewers. When Redis is unreachable it retries with capped backoff; the hosts stay,
and turn stale, then offline, as their samples stop. The same ``XREAD`` follows the processes
of the hosts this worker's viewers watch (:mod:`hostpulse.remote.demand`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis

from hostpulse.collect import topprocs
from hostpulse.config import redact_url
from hostpulse.history import History
from hostpulse.history.processes import NoProcessHistory, ProcessHistory, ProcessMoment
from hostpulse.host import Host, Hosts
from hostpulse.remote import wire
from hostpulse.remote.client import BACKOFF_MAX, Backoff, make_client, run_id
from hostpulse.remote.demand import Demand
from hostpulse.remote.inbound import Boundary
from hostpulse.sample import Sample, Table
from hostpulse.sampler import SamplerStats

log = logging.getLogger("hostpulse.reader")

DISCOVER_EVERY = 2.0
BLOCK_MS = 1000
READ_COUNT = 1000
#: After a read that returned entries the reader waits this long per stream it follows (at
#: most MAX_READ_PAUSE) before reading again. Each XREAD names every stream, so reading back
#: to back with hundreds of hosts at random phases costs Redis and the reader O(hosts) per
#: one or two samples: 500 hosts took 31 % of a core in Redis and 43 % in each reader
#: (docs/REDIS.md). The wait gathers many hosts' samples into one read; with one host it is
#: 0.2 ms, with 100 hosts 20 ms, from 500 hosts on 100 ms.
READ_PAUSE_PER_STREAM = 0.0002
MAX_READ_PAUSE = 0.1
#: A conflict an agent reported this recently is shown in the API.
CONFLICT_SHOWN_FOR = 60.0


def read_pause(streams: int) -> float:
    return min(MAX_READ_PAUSE, streams * READ_PAUSE_PER_STREAM)


class RemoteFeed:
    """The read side of a sampler, fed from Redis by the :class:`Reader` instead of collectors
    (a :class:`~hostpulse.host.Feed`)."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.latest: Sample | None = None
        self.facts: dict[str, Any] = {}
        self.stats = SamplerStats()
        self._sample_listeners: list[Callable[[Sample], None]] = []
        self._facts_listeners: list[Callable[[dict[str, Any]], None]] = []
        self._table_listeners: list[Callable[[Table], None]] = []
        self._stream_listeners: list[Callable[[Sample], None]] = []
        #: table -> who wants it (viewers' sids), as Sampler.want; the reader asks the agent.
        self._wanted: dict[str, set[Any]] = {name: set() for name in wire.ON_DEMAND}

    def start(self) -> None:
        """Nothing to start: the reader feeds it."""

    def stop(self) -> None:
        """Nothing to stop: the reader feeds it."""

    def subscribe(self, listener: Callable[[Sample], None]) -> Callable[[], None]:
        self._sample_listeners.append(listener)
        return lambda: self._sample_listeners.remove(listener)

    def subscribe_stream(self, listener: Callable[[Sample], None]) -> Callable[[], None]:
        """Call ``listener(sample)`` for every sample of the stream in order, a backfill and
        a replayed backlog too (alerts evaluate each; viewers get only the newest)."""
        self._stream_listeners.append(listener)
        return lambda: self._stream_listeners.remove(listener)

    def subscribe_facts(self, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        self._facts_listeners.append(listener)
        return lambda: self._facts_listeners.remove(listener)

    def subscribe_tables(self, listener: Callable[[Table], None]) -> Callable[[], None]:
        self._table_listeners.append(listener)
        return lambda: self._table_listeners.remove(listener)

    def want(self, table: str, who: Any, wanted: bool = True) -> None:
        """Ask for (or release) an on-demand table; the reader passes it on to the agent."""
        if table not in self._wanted:
            raise KeyError(f"no on-demand table named {table!r}")
        (self._wanted[table].add if wanted else self._wanted[table].discard)(who)

    def is_wanted(self, table: str) -> bool:
        return bool(self._wanted.get(table))

    def receive_table(self, table: Table) -> None:
        if self.is_wanted(table.name):
            _publish(self._table_listeners, table)

    def receive(self, sample: Sample, *, live: bool = True) -> None:
        """A sample read from the stream (``live=False``: the reader takes every entry so),
        or the newest of a read again for the live listeners (``live=True``)."""
        self.latest = sample
        self.stats.ticks += 1
        self.stats.last_tick_monotonic = time.monotonic()
        if live:
            _publish(self._sample_listeners, sample)
        else:
            _publish(self._stream_listeners, sample)

    def set_facts(self, facts: dict[str, Any]) -> None:
        if facts != self.facts:
            self.facts = facts
            _publish(self._facts_listeners, facts)


def _publish(listeners: list, item: Any) -> None:
    for listener in list(listeners):
        try:
            listener(item)
        except Exception:
            log.exception("listener %r failed", listener)


class Reader:
    def __init__(
        self,
        url: str,
        *,
        maxlen: int = 300,
        history_dir: Path | None = None,
        hosts: Hosts | None = None,
        process_cmdline: str = "truncated",
        process_history: bool = True,
    ) -> None:
        self.url = url
        #: Keep the top-process tables agents publish (with each host's history).
        self.process_history = process_history
        self.process_cmdline = process_cmdline
        self.maxlen = maxlen
        self.history_dir = history_dir
        #: Where the hosts found in Redis go: the one list the process serves.
        self.hosts = Hosts() if hosts is None else hosts
        self.connected = False
        self.read_errors = 0
        #: Checks what is read; counts what it drops (/metrics).
        self.boundary = Boundary()
        self.demand = Demand(process_cmdline, run_id(), self.boundary)
        self._last_ids: dict[str, str] = {}
        self._discovered_at = -1e9
        self._client: redis.Redis | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="hostpulse-reader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        backoff = Backoff()
        while not self._stop.is_set():
            try:
                self._step()
                backoff.reset()
            except (redis.RedisError, OSError) as exc:
                if self.connected:
                    log.warning("redis %s unreachable: %s; retrying", redact_url(self.url), exc)
                self.connected = False
                self.read_errors += 1
                self._client = None
                self._stop.wait(backoff.next())
            except Exception:
                log.exception("reader step failed")
                self._stop.wait(BACKOFF_MAX)

    def _step(self) -> None:
        if self._client is None:
            client = make_client(self.url)
            client.ping()
            self._client = client
            self.connected = True
            self._discovered_at = -1e9
            log.info("reading hosts from redis %s", redact_url(self.url))
        client = self._client
        if time.monotonic() - self._discovered_at >= DISCOVER_EVERY:
            self._discover(client)
            self._discovered_at = time.monotonic()
        if not self._last_ids:
            self._stop.wait(0.5)
            return
        self.demand.update(client, self.hosts)
        streams = {wire.stream_key(h): last for h, last in self._last_ids.items()}
        streams.update(self.demand.streams())
        answer = client.xread(streams, count=READ_COUNT, block=BLOCK_MS)
        for key, entries in answer or ():
            key = key.decode() if isinstance(key, bytes) else key
            table = self.demand.route(key)
            host_id = table[0] if table else key[len(wire.stream_key("")) :]
            host = self.hosts.get(host_id)
            if host is None or not entries:
                continue
            if table:
                self.demand.apply(host, table[1], entries)
            else:
                self._apply(host, entries, live=True)
        if answer:
            self._stop.wait(read_pause(len(streams)))

    def _discover(self, client: redis.Redis) -> None:
        for host_id in self.boundary.host_ids(client.zrange(wire.HOSTS, 0, -1)):
            meta = client.hgetall(wire.host_key(host_id))
            host = self.hosts.get(host_id)
            if host is None and not meta:
                continue  # an id in the set without its hash: no agent publishes it
            if host is None:
                host = self._add_host(client, host_id, meta)
            else:
                self._apply_meta(host, meta)
            if host_id not in self._last_ids:
                self._backfill(client, host)

    def _add_host(self, client: redis.Redis, host_id: str, meta: dict) -> Host:
        path = None
        if self.history_dir is not None:
            self.history_dir.mkdir(parents=True, exist_ok=True)
            path = self.history_dir / f"{quote(host_id, safe='')}.sqlite"
        history = History(path)
        processes = ProcessHistory(history.path) if self.process_history else NoProcessHistory()
        host = Host(host_id, RemoteFeed(), history, process_history=processes)
        self._apply_meta(host, meta)
        log.info("host %s discovered", host_id)
        self.hosts.add(host)
        return host

    def _apply_meta(self, host: Host, meta: dict) -> None:
        """The host's hash: each field checked on its own (a bad one leaves the others)."""
        boundary = self.boundary
        if b"interval" in meta:
            interval = boundary.interval(host.id, meta[b"interval"])
            if interval is not None:
                host.feed.interval = interval
        if b"facts" in meta:
            facts = boundary.facts(host.id, meta[b"facts"])
            if facts is not None:
                host.feed.set_facts(facts)
        conflict = boundary.conflict(host.id, meta[b"conflict"]) if b"conflict" in meta else None
        if conflict and time.time() - conflict["ts"] < CONFLICT_SHOWN_FOR:
            host.conflict = conflict
        else:
            host.conflict = None

    def _backfill(self, client: redis.Redis, host: Host) -> None:
        """History from the host's stream, then follow it from its newest entry."""
        entries = client.xrevrange(wire.stream_key(host.id), count=self.maxlen)
        entries.reverse()
        self._last_ids[host.id] = "0-0"  # an empty stream: read from its first entry
        if entries:
            self._apply(host, entries, live=False)

    def _apply_processes(self, host: Host, data: dict) -> None:
        """A top-process table into the host's process history, with this worker's
        ``process_cmdline`` applied (history/processes.py ignores one not newer)."""
        moment = self.boundary.process_table(host.id, data)
        if moment is not None:
            rows = topprocs.restrict(list(moment.rows), self.process_cmdline)
            host.process_history.add(ProcessMoment(moment.ts, tuple(rows)))

    def _apply(self, host: Host, entries: list, *, live: bool) -> None:
        newest: Sample | None = None
        newest_live = False
        for entry_id, fields in entries:
            self._last_ids[host.id] = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            decoded = wire.decode(fields)
            if decoded is None:
                self.boundary.reject(host.id, "an entry that is neither a sample nor facts")
                continue
            kind, item = decoded
            if kind == "p":
                self._apply_processes(host, item)
                continue
            if kind == "f":
                facts = self.boundary.facts(host.id, item)
                if facts is not None:
                    host.feed.set_facts(facts)
                continue
            item = self.boundary.sample(host.id, item)
            if item is None:
                continue
            latest = newest or host.feed.latest
            if latest is not None and item.ts <= latest.ts:
                continue  # a duplicate from a retried pipeline, or an agent's clock going back
            host.history.add(item)
            newest = item
            newest_live = not wire.is_late(fields)
            host.feed.receive(item, live=False)
        if newest is not None and live and newest_live:
            # Only the newest goes to viewers: a replayed backlog is history, not live.
            host.feed.stats.ticks -= 1
            host.feed.receive(newest, live=True)
