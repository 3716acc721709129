"""Top-process tables kept with a host's history: which process did it, after the fact.

Every 10 s the sampler (or a remote host's agent) reads the top processes
(collect/topprocs.py); each table is a :class:`ProcessMoment`. :class:`ProcessHistory` keeps
them in two tables of the host's history SQLite file, beside the metric tiers and apart
from them (its own connection, its own tables, so the metric storage can change freely):

- ``proc10``: every table, for 24 h;
- ``proc60``: the busiest table of each minute (the highest summed CPU % of its rows), with
  its own time, for 30 days.

:meth:`ProcessHistory.at` answers the table nearest at or before a time from both.

A table is stored as zlib-compressed JSON of its rows as lists (no field names): ~0.6 KB a
table with 120-character command lines, so 30 days take ~35 MB (docs/HISTORY.md).
Writes happen on a writer thread of this object's, like the metric history's, so that
``add()`` (the sampler's or the Redis reader's thread) never waits on the disk.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hostpulse.history.writer import Writer
from hostpulse.sample import Sample

log = logging.getLogger("hostpulse.history")

#: The fields of a row, in the order a stored row lists them.
FIELDS = ("pid", "name", "user", "cpu", "rss", "cmd")
#: The name of the table in a Sample's ``tables`` (collect/topprocs.py).
TABLE = "top_processes"
TEN_SECONDS_SPAN = 86400
MINUTE_SPAN = 30 * 86400
#: Seconds between retention runs (on the writer thread, after a write).
RETENTION_EVERY = 600.0
#: Tables held in memory while the file cannot be written (an hour of 10 s tables).
MAX_HELD = 360

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS proc10 (ms INTEGER PRIMARY KEY, data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS proc60"
    " (minute INTEGER PRIMARY KEY, ms INTEGER NOT NULL, data BLOB NOT NULL)",
)


@dataclass(frozen=True)
class ProcessMoment:
    """The top processes at ``ts``: rows of FIELDS, sorted by ``cpu`` (% of one core)."""

    ts: float
    rows: tuple[dict, ...]

    @property
    def busy(self) -> float:
        """What "busiest" compares: the summed CPU % of the rows."""
        return sum(row["cpu"] for row in self.rows)

    @staticmethod
    def of(ts: float, rows: Iterable[dict[str, Any]]) -> ProcessMoment:
        """A moment of ``rows`` sorted by CPU, highest first (then by RSS)."""
        ordered = sorted(rows, key=lambda r: (-r["cpu"], -r["rss"]))
        return ProcessMoment(ts, tuple(ordered))


def encode(moment: ProcessMoment) -> bytes:
    rows = [[row[f] for f in FIELDS] for row in moment.rows]
    return zlib.compress(json.dumps(rows, separators=(",", ":")).encode(), 6)


def decode(ms: int, blob: bytes) -> ProcessMoment:
    rows = json.loads(zlib.decompress(blob))
    return ProcessMoment(ms / 1000, tuple(dict(zip(FIELDS, row, strict=True)) for row in rows))


class NoProcessHistory:
    """A host without process tables (switched off by ``process_history = false``)."""

    def add(self, moment: ProcessMoment) -> None:
        """Nothing is kept."""

    def on_sample(self, sample: Sample) -> None:
        """Nothing is kept."""

    def at(self, ts: float) -> ProcessMoment | None:
        return None

    def flush(self) -> None:
        """Nothing to write."""

    def close(self) -> None:
        """Nothing to close."""


class ProcessHistory:
    """The top-process tables of one host. Thread-safe: add() and at() on any thread."""

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        background: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._conn, self.path = _open(path)
        #: proc10 rows (ms, moment) and proc60 rows (minute, moment) not yet written.
        self._pending10: list[tuple[int, ProcessMoment]] = []
        self._pending60: dict[int, ProcessMoment] = {}
        self._newest = -math.inf
        #: The busiest table so far of the minute being filled (minute start, moment).
        self._minute: tuple[int, ProcessMoment] | None = self._reload_minute()
        self._retained_at = -math.inf
        self._closed = False
        #: Why the file cannot be written now, or None.
        self.write_error: str | None = None
        #: Tables given up while the file could not be written, past MAX_HELD.
        self.lost = 0
        self._writer = Writer("hostpulse-proc-history", self._write_behind) if background else None

    # --- in ------------------------------------------------------------------------------

    def on_sample(self, sample: Sample) -> None:
        """A sampler subscriber: keeps the sample's top-process table when it has one."""
        table = sample.tables.get(TABLE)
        if table is not None:
            self.add(ProcessMoment.of(sample.ts, table["rows"]))

    def add(self, moment: ProcessMoment) -> None:
        """Keep one table (cheap: memory only; the writer thread writes it). A table not
        newer than the newest one (a replay, a clock stepping back) is ignored."""
        with self._lock:
            if self._closed or not moment.ts > self._newest:
                return
            self._newest = moment.ts
            ms = _ms(moment.ts)
            # Kept to the millisecond, as stored: the same table has one time, held or read.
            moment = ProcessMoment(ms / 1000, moment.rows)
            self._pending10.append((ms, moment))
            minute = int(moment.ts // 60 * 60)
            if self._minute is None or self._minute[0] != minute:
                if self._minute is not None:
                    self._pending60[self._minute[0]] = self._minute[1]
                self._minute = (minute, moment)
            elif moment.busy > self._minute[1].busy:
                self._minute = (minute, moment)
        # One small transaction a table (every 10 s): nothing to gain from batching more.
        if self._writer is None:
            self.flush(open_minute=False)
        else:
            self._writer.wake()

    # --- out -----------------------------------------------------------------------------

    def at(self, ts: float) -> ProcessMoment | None:
        """The table nearest at or before ``ts`` (epoch seconds), None when there is none."""
        if not math.isfinite(ts):
            return None
        limit = _ms(max(-1e15, min(ts, 1e15)))  # beyond: no time, and SQLite's integers
        with self._lock:
            held = [m for ms, m in self._pending10 if ms <= limit]
            held += [m for m in self._pending60.values() if _ms(m.ts) <= limit]
            if self._minute is not None and _ms(self._minute[1].ts) <= limit:
                held.append(self._minute[1])
            best = max(held, key=lambda m: m.ts, default=None)
            stored = self._stored_at(limit)
        if stored is not None and (best is None or stored.ts > best.ts):
            return stored
        return best

    def _stored_at(self, limit: int) -> ProcessMoment | None:
        """The newest stored table at or before ``limit`` ms, in either table."""
        minute = limit // 60000 * 60
        try:
            found = [
                *self._conn.execute(
                    "SELECT ms, data FROM proc10 WHERE ms <= ? ORDER BY ms DESC LIMIT 1", (limit,)
                ),
                *self._conn.execute(
                    "SELECT ms, data FROM proc60 WHERE minute <= ? AND ms <= ?"
                    " ORDER BY minute DESC LIMIT 1",
                    (minute, limit),
                ),
            ]
        except sqlite3.Error as exc:
            log.error("process history %s: cannot read (%s)", self.path, exc)
            return None
        if not found:
            return None
        ms, blob = max(found)
        return decode(ms, blob)

    # --- writing ---------------------------------------------------------------------------

    def _write_behind(self) -> None:
        """The writer thread's job, after each add()."""
        self.flush(open_minute=False)

    def flush(self, open_minute: bool = True) -> None:
        """Write what is pending; with ``open_minute`` also the minute being filled, as it
        stands (replaced when the minute closes: same key)."""
        with self._lock:
            if self._closed:
                return
            rows10 = [(ms, encode(m)) for ms, m in self._pending10]
            minutes = dict(self._pending60)
            if open_minute and self._minute is not None:
                minutes[self._minute[0]] = self._minute[1]
            rows60 = [(minute, _ms(m.ts), encode(m)) for minute, m in minutes.items()]
            error = self.write(rows10, rows60)
            if error is not None:
                self._hold(error)
                return
            if self.write_error is not None:
                log.warning("process history %s: written again", self.path)
                self.write_error = None
            self._pending10.clear()
            self._pending60.clear()
            now = self._clock()
            if now - self._retained_at >= RETENTION_EVERY:
                self._retain(now)
                self._retained_at = now

    def write(self, rows10: list[tuple], rows60: list[tuple]) -> str | None:
        """Write encoded rows in one transaction; the reason when SQLite refuses, else None.
        (Called with the lock held, or by a tool filling a file: benchmarks/top_processes.py.)"""
        if not rows10 and not rows60:
            return None
        conn = self._conn
        try:
            with conn:
                conn.executemany("INSERT OR REPLACE INTO proc10 VALUES (?, ?)", rows10)
                conn.executemany("INSERT OR REPLACE INTO proc60 VALUES (?, ?, ?)", rows60)
        except sqlite3.Error as exc:
            return str(exc)
        return None

    def _hold(self, error: str) -> None:
        if self.write_error is None:
            log.error("process history %s: cannot write (%s); holding tables", self.path, error)
        self.write_error = error
        excess = len(self._pending10) - MAX_HELD
        if excess > 0:
            del self._pending10[:excess]
            self.lost += excess

    def _retain(self, now: float) -> None:
        """Delete what each table no longer covers (a step of slack keeps the boundary)."""
        cutoff10 = int((now - TEN_SECONDS_SPAN - 10) * 1000)
        cutoff60 = int(now) - MINUTE_SPAN - 60
        try:
            with self._conn:
                self._conn.execute("DELETE FROM proc10 WHERE ms < ?", (cutoff10,))
                self._conn.execute("DELETE FROM proc60 WHERE minute < ?", (cutoff60,))
        except sqlite3.Error as exc:
            log.error("process history %s: retention failed (%s)", self.path, exc)

    def _reload_minute(self) -> tuple[int, ProcessMoment] | None:
        """The newest minute's table, so a table after a restart competes with it."""
        try:
            row = self._conn.execute(
                "SELECT minute, ms, data FROM proc60 ORDER BY minute DESC LIMIT 1"
            ).fetchone()
            newest10 = self._conn.execute("SELECT max(ms) FROM proc10").fetchone()[0]
        except sqlite3.Error:
            return None
        if row is None:
            return None
        self._newest = max(row[1], newest10 or row[1]) / 1000
        return row[0], decode(row[1], row[2])

    def close(self) -> None:
        """Write everything (the open minute too) and stop the writer."""
        self.flush()
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._writer is not None:
            self._writer.stop()
        self._conn.close()


def _ms(ts: float) -> int:
    """A time as stored: whole milliseconds (``at()`` rounds the same way)."""
    return round(ts * 1000)


def _open(path: str | os.PathLike | None) -> tuple[sqlite3.Connection, str | None]:
    """A connection to the host's history file with our tables (created if absent); memory
    when ``path`` is None or the file cannot be used (logged). Never raises.

    The metric history (history/store.py) must have opened the file first: it creates or
    checks the file's schema, and would take a file holding only these tables for a foreign
    one."""
    if path is not None:
        try:
            return _prepare(sqlite3.connect(path, check_same_thread=False, timeout=10)), str(path)
        except sqlite3.Error as exc:
            log.error("process history %s: cannot use it (%s); keeping memory only", path, exc)
    return _prepare(sqlite3.connect(":memory:", check_same_thread=False)), None


def _prepare(conn: sqlite3.Connection) -> sqlite3.Connection:
    conn.execute("PRAGMA journal_mode = WAL")  # as the metric history has set it
    conn.execute("PRAGMA synchronous = NORMAL")
    with conn:
        for statement in _SCHEMA:
            conn.execute(statement)
    return conn
