"""A worker's side of on-demand tables (processes) of remote hosts (docs/REDIS.md).

While at least one viewer on this worker watches a remote host's processes, the worker keeps
that host's want key alive (``SET`` with a TTL, refreshed every ``1/REFRESHES`` of it) and
follows the host's processes stream in the reader's one ``XREAD``. Each table received goes,
with this worker's ``process_cmdline`` applied, to the host's feed and from there to the
viewers watching it. When the last viewer here stops, the key is left to expire: another
worker may still want the table, and a worker that crashed cannot delete anything either.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from hostpulse.collect.processes import restrict_rows
from hostpulse.host import Host
from hostpulse.remote import wire
from hostpulse.remote.inbound import Boundary

#: A want key is set again after this fraction of its TTL: it survives a refresh or two lost
#: to a busy reader (which refreshes between reads, at least every BLOCK_MS).
REFRESHES = 4


class Demand:
    def __init__(self, cmd_mode: str, worker: str, boundary: Boundary) -> None:
        self.cmd_mode = cmd_mode
        self.boundary = boundary
        #: The want keys' value: which worker asked, for someone looking at Redis.
        self.worker = worker
        #: (host id, table) -> the id of the last stream entry read
        self._positions: dict[tuple[str, str], str] = {}
        self._refreshed: dict[tuple[str, str], float] = {}
        self._routes: dict[str, tuple[str, str]] = {}

    def update(self, client: Any, hosts: Iterable[Host]) -> None:
        """Follow what this worker's viewers want now; set the want keys that are due."""
        wanted = {
            (host.id, name): host
            for host in hosts
            for name in wire.ON_DEMAND
            if host.feed.is_wanted(name)
        }
        for pair in [p for p in self._positions if p not in wanted]:
            del self._positions[pair]
            self._refreshed.pop(pair, None)
        now = time.monotonic()
        pipe = None
        for pair, host in wanted.items():
            # From the stream's start: it holds only the last few tables, and a table the
            # agent read for another worker's viewers is shown here at once.
            self._positions.setdefault(pair, "0-0")
            ttl = wire.want_ttl_ms(host.interval)
            if now - self._refreshed.get(pair, -1e9) < ttl / 1000 / REFRESHES:
                continue
            pipe = pipe or client.pipeline(transaction=False)
            pipe.set(wire.want_key(*pair), self.worker, px=ttl)
            self._refreshed[pair] = now
        if pipe is not None:
            pipe.execute()

    def streams(self) -> dict[str, str]:
        """The table streams to read, with the position to read each from."""
        self._routes = {wire.table_key(*pair): pair for pair in self._positions}
        return {key: self._positions[pair] for key, pair in self._routes.items()}

    def route(self, key: str) -> tuple[str, str] | None:
        """(host id, table) of a stream :meth:`streams` returned; None for any other key."""
        return self._routes.get(key)

    def apply(self, host: Host, name: str, entries: list) -> None:
        """Hand the newest current table among ``entries`` to the host's feed."""
        pair = (host.id, name)
        if pair not in self._positions:
            return  # no longer wanted here while the read was under way
        newest = None
        for entry_id, fields in entries:
            self._positions[pair] = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            table = wire.decode_table(name, fields)
            if table is None:
                self.boundary.reject(host.id, f"a {name} entry that is not a table")
            else:
                newest = table
        if newest is None or _stale(host, newest.ts):
            return
        for rows in wire.ROW_LISTS:
            newest.data[rows] = self.boundary.rows(host.id, newest.data[rows])
        restrict_rows(newest.data, self.cmd_mode)
        host.feed.receive_table(newest)


def _stale(host: Host, ts: float) -> bool:
    # Older than the host's newest sample by two intervals: from before a pause in collecting.
    latest = host.latest
    return latest is not None and ts < latest.ts - 2 * host.interval
