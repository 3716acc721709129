"""A monitored host as everything above the sampler sees it, whichever side its samples come
from: this machine's :class:`~hostpulse.sampler.Sampler`, or a
:class:`~hostpulse.remote.reader.RemoteFeed` that the Redis reader fills from an agent.

The web layer, the REST API and ``/metrics`` only ever hold a :class:`Host`: an id, its facts,
its latest sample, its feed (to subscribe to), its history, its status and its on-demand
tables. :class:`Hosts` is the one list of them a process serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from hostpulse.history import History
from hostpulse.history.processes import NoProcessHistory, ProcessHistory, ProcessMoment
from hostpulse.sample import Sample, Table
from hostpulse.sampler import SamplerStats

__all__ = ["Feed", "Host", "Hosts", "ProcessMoment"]

#: No sample for this many intervals: stale; for OFFLINE_AFTER: offline.
STALE_AFTER = 3
OFFLINE_AFTER = 10


class Feed(Protocol):
    """Where a host's samples, facts and on-demand tables come from."""

    interval: float
    latest: Sample | None
    stats: SamplerStats

    @property
    def facts(self) -> dict[str, Any]: ...

    def subscribe(self, listener: Callable[[Sample], None]) -> Callable[[], None]: ...

    def subscribe_facts(self, listener: Callable[[dict], None]) -> Callable[[], None]: ...

    def subscribe_tables(self, listener: Callable[[Table], None]) -> Callable[[], None]: ...

    def want(self, table: str, who: Any, wanted: bool = True) -> None: ...

    def is_wanted(self, table: str) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(eq=False)
class Host:
    id: str
    feed: Feed
    history: History
    #: A second agent that tried to publish under this id lately (set by the Redis reader).
    conflict: dict[str, Any] | None = None
    #: Its top-process tables: ``at(ts)`` (history/processes.py); none unless built with one.
    process_history: ProcessHistory | NoProcessHistory = field(default_factory=NoProcessHistory)

    @property
    def facts(self) -> dict[str, Any]:
        return self.feed.facts

    @property
    def latest(self) -> Sample | None:
        return self.feed.latest

    @property
    def interval(self) -> float:
        return self.feed.interval

    @property
    def stats(self) -> SamplerStats:
        return self.feed.stats

    def status(self, now: float | None = None) -> str:
        """``starting`` (never sampled), ``online``, ``stale`` (3 intervals), ``offline`` (10)."""
        last = self.stats.last_tick_monotonic
        if last is None:
            return "starting"
        late = (time.monotonic() if now is None else now) - last
        if late <= STALE_AFTER * self.interval:
            return "online"
        return "stale" if late <= OFFLINE_AFTER * self.interval else "offline"

    def want(self, table: str, who: Any, wanted: bool = True) -> None:
        """Ask for (or release) an on-demand table such as ``processes`` on behalf of ``who``."""
        self.feed.want(table, who, wanted)

    def start(self) -> None:
        self.feed.start()

    def stop(self) -> None:
        """Stop the feed, then write what history still holds in memory."""
        self.feed.stop()
        self.history.close()
        self.process_history.close()


class Hosts:
    """The hosts a process serves, by id, and who wants to hear of each new one."""

    def __init__(self) -> None:
        self._by_id: dict[str, Host] = {}
        self._listeners: list[Callable[[Host], None]] = []

    def add(self, host: Host) -> None:
        self._by_id[host.id] = host
        for listener in list(self._listeners):
            listener(host)

    def on_added(self, listener: Callable[[Host], None]) -> Callable[[], None]:
        """Call ``listener(host)`` for every host there is and every one added later."""
        self._listeners.append(listener)
        for host in list(self._by_id.values()):
            listener(host)
        return lambda: self._listeners.remove(listener)

    def get(self, host_id: str | None) -> Host | None:
        return self._by_id.get(host_id) if host_id is not None else None

    def __contains__(self, host_id: object) -> bool:
        return host_id in self._by_id

    def __iter__(self) -> Iterator[Host]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)
