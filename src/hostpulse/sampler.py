"""THE worker: one tick loop per process that reads every collector and publishes a Sample.

It derives rates from counter deltas (the collectors only read), isolates a failing collector
(its keys are absent for that tick, the error is logged once per distinct error and counted),
and ticks on a monotonic schedule: tick n is due at start + n × interval. A late tick skips
forward to the next slot instead of bunching up, and the skipped slots advance ``seq``.

The sampler knows nothing of the web: subscribers (history, the hub) are plain callables.
It runs in a thread, which is a greenlet once gevent has patched the process.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hostpulse import rates
from hostpulse.collect import Collector, Reading
from hostpulse.sample import Sample, Table

log = logging.getLogger("hostpulse.sampler")

MIN_INTERVAL = 0.25
MAX_INTERVAL = 60.0

#: Tables that rarely change travel with the host's facts, not with every sample.
FACT_TABLES = ("filesystems", "gpus", "containers")

SampleListener = Callable[[Sample], None]
FactsListener = Callable[[dict[str, Any]], None]
TableListener = Callable[[Table], None]


@dataclass
class SamplerStats:
    ticks: int = 0
    skipped: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    last_tick_monotonic: float | None = None
    last_duration: float = 0.0


class Sampler:
    def __init__(
        self,
        collectors: Iterable[Collector],
        *,
        interval: float = 1.0,
        read_facts: Callable[[], dict[str, Any]] = dict,
        facts_every: float = 30.0,
        on_demand: Iterable[Collector] = (),
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            raise ValueError(f"interval must be {MIN_INTERVAL}..{MAX_INTERVAL} s, not {interval}")
        self.interval = interval
        self._collectors = list(collectors)
        self._on_demand = {c.name: c for c in on_demand}
        self._wanted: dict[str, set[Hashable]] = {name: set() for name in self._on_demand}
        self._read_facts = read_facts
        self._facts_every = facts_every
        self._clock = clock
        self._wallclock = wallclock
        self._sample_listeners: list[SampleListener] = []
        self._facts_listeners: list[FactsListener] = []
        self._table_listeners: list[TableListener] = []
        self._prev_counters: dict[str, float] = {}
        self._prev_shares: dict[str, tuple[float, float]] = {}
        self._prev_time: float | None = None
        self._seen_errors: set[tuple[str, str]] = set()
        self._facts: dict[str, Any] = {}
        self._host_facts: dict[str, Any] = {}
        self._fact_tables: dict[str, Any] = {}
        self._facts_read_at: float | None = None
        self._seq = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.latest: Sample | None = None
        self.stats = SamplerStats()

    # --- subscribers and demand ----------------------------------------------------------

    def subscribe(self, listener: SampleListener) -> Callable[[], None]:
        """Call ``listener(sample)`` after every tick; returns a function that unsubscribes."""
        self._sample_listeners.append(listener)
        return lambda: self._sample_listeners.remove(listener)

    def subscribe_facts(self, listener: FactsListener) -> Callable[[], None]:
        """Call ``listener(facts)`` whenever the host's facts change."""
        self._facts_listeners.append(listener)
        return lambda: self._facts_listeners.remove(listener)

    def subscribe_tables(self, listener: TableListener) -> Callable[[], None]:
        """Call ``listener(table)`` for each on-demand table read, after the tick's sample."""
        self._table_listeners.append(listener)
        return lambda: self._table_listeners.remove(listener)

    def want(self, table: str, who: Hashable, wanted: bool = True) -> None:
        """Ask for (or release) an on-demand collector such as ``processes``."""
        if table not in self._wanted:
            raise KeyError(f"no on-demand collector named {table!r}")
        (self._wanted[table].add if wanted else self._wanted[table].discard)(who)

    def is_wanted(self, table: str) -> bool:
        return bool(self._wanted.get(table))

    @property
    def facts(self) -> dict[str, Any]:
        if self._facts_read_at is None:
            self._refresh_facts(self._clock())
        return self._facts

    # --- one tick ------------------------------------------------------------------------

    def tick(self, seq: int | None = None) -> Sample:
        """Read every collector once, derive rates, publish and return the sample."""
        started = self._clock()
        ts = self._wallclock()
        elapsed = None if self._prev_time is None else started - self._prev_time
        self._prev_time = started
        values: dict[str, Any] = {}
        tables: dict[str, Any] = {}
        counters: dict[str, float] = {}
        shares: dict[str, tuple[float, float]] = {}
        for collector in self._active_collectors():
            reading = self._read(collector)
            if reading is None:
                continue
            values.update(reading.values)
            tables.update(reading.tables)
            counters.update(reading.counters)
            shares.update(reading.shares)
        values.update(self._derive(counters, shares, elapsed))
        self._seq = self._seq + 1 if seq is None else seq
        sample = Sample(seq=self._seq, ts=ts, values=values, tables=tables)
        self._update_fact_tables(tables, started)
        self.latest = sample
        self.stats.ticks += 1
        self.stats.last_tick_monotonic = started
        self.stats.last_duration = self._clock() - started
        self._publish(self._sample_listeners, sample)
        for name in self._on_demand:
            if name in tables:
                self._publish(self._table_listeners, Table(name, sample.seq, ts, tables[name]))
        return sample

    def _active_collectors(self) -> list[Collector]:
        wanted = [c for name, c in self._on_demand.items() if self._wanted[name]]
        return self._collectors + wanted

    def _read(self, collector: Collector) -> Reading | None:
        try:
            return collector.read()
        except Exception as exc:  # a collector's failure must not stop the others
            self._record_error(collector.name, exc)
            return None

    def _record_error(self, name: str, exc: Exception) -> None:
        self.stats.errors[name] = self.stats.errors.get(name, 0) + 1
        signature = (name, f"{type(exc).__name__}: {exc}")
        if signature not in self._seen_errors:
            self._seen_errors.add(signature)
            log.warning("collector %s failed: %s (logged once)", name, signature[1])

    def _derive(
        self,
        counters: dict[str, float],
        shares: dict[str, tuple[float, float]],
        elapsed: float | None,
    ) -> dict[str, float | None]:
        derived: dict[str, float | None] = {}
        for key, current in counters.items():
            previous = self._prev_counters.get(key) if elapsed is not None else None
            derived[key] = rates.rate(previous, current, elapsed or 0.0)
        for key, pair in shares.items():
            derived[key] = rates.share(self._prev_shares.get(key), pair)
        # Only what was read this tick is kept: a vanished disk leaves no stale counter.
        self._prev_counters = counters
        self._prev_shares = shares
        return derived

    # --- facts ---------------------------------------------------------------------------

    def _update_fact_tables(self, tables: dict[str, Any], now: float) -> None:
        fact_tables = {name: tables.pop(name) for name in FACT_TABLES if name in tables}
        changed = fact_tables and fact_tables != self._fact_tables
        if changed:
            self._fact_tables = fact_tables
        due = self._facts_read_at is None or now - self._facts_read_at >= self._facts_every
        if due:
            self._refresh_facts(now)
        elif changed:
            self._set_facts({**self._host_facts, **self._fact_tables})

    def _refresh_facts(self, now: float) -> None:
        self._facts_read_at = now
        try:
            self._host_facts = self._read_facts()
        except Exception as exc:
            self._record_error("facts", exc)
        self._set_facts({**self._host_facts, **self._fact_tables})

    def _set_facts(self, facts: dict[str, Any]) -> None:
        if facts != self._facts:
            self._facts = facts
            self._publish(self._facts_listeners, facts)

    @staticmethod
    def _publish(listeners: list[Callable[[Any], None]], item: Any) -> None:
        for listener in list(listeners):
            try:
                listener(item)
            except Exception:  # a broken subscriber must not stop the worker
                log.exception("sampler subscriber %r failed", listener)

    # --- the loop ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the tick loop in a background thread (a greenlet under gevent)."""
        if self._thread is not None:
            raise RuntimeError("sampler already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="hostpulse-sampler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for collector in [*self._collectors, *self._on_demand.values()]:
            close = getattr(collector, "close", None)  # one with a thread or open files
            if close is not None:
                close()

    def run(self) -> None:
        """Tick until :meth:`stop`: tick n at start + n × interval, skipping missed slots."""
        start = self._clock()
        slot = 0
        while not self._stop.is_set():
            self.tick(seq=slot)
            slot, skipped = next_slot(start, self.interval, slot, self._clock())
            self.stats.skipped += skipped
            delay = start + slot * self.interval - self._clock()
            if delay > 0 and self._stop.wait(delay):
                break


def next_slot(start: float, interval: float, slot: int, now: float) -> tuple[int, int]:
    """The next slot to tick after ``slot`` at time ``now``, and how many slots were skipped.

    The next slot is ``slot + 1`` unless its time has already passed by a whole interval or
    more: then the loop skips forward to the first slot still in the future, so a stall never
    produces a burst of catch-up ticks.
    """
    due = slot + 1
    current = math.floor((now - start) / interval)  # the slot whose time span holds `now`
    if current > due:
        return current, current - due
    return due, 0
