"""SQLite persistence: layouts, one table per tier of rows as packed float32 blobs (what is
written), and ``chunks``: the coarse tiers per key, moved there from the rows hourly (see
chunks.py), which is what queries mostly read.

A file that cannot be used (garbage bytes, another schema version, no permission) is logged,
renamed to ``<name>.corrupt-<timestamp>`` and replaced by a fresh one; if even that fails,
history carries on in an in-memory database. Opening never raises for a bad file.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from hostpulse.history import chunks as ch
from hostpulse.history.aggregate import trim_values
from hostpulse.history.chunks import DIRECT, ROLLUPS, SEAL, Resolution
from hostpulse.history.tiers import COARSE, TIERS

log = logging.getLogger("hostpulse.history")

SCHEMA_VERSION = 1
#: (ts, layout, avg) for the 1 s tier; (ts, layout, avg, min, max) for the coarse tiers.
Row = tuple

_SCHEMA = [
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE layouts (id INTEGER PRIMARY KEY, keys TEXT NOT NULL)",
    "CREATE TABLE t1 (ts INTEGER PRIMARY KEY, layout INTEGER NOT NULL, avg BLOB NOT NULL)",
    *(
        f"CREATE TABLE {t.table} (ts INTEGER PRIMARY KEY, layout INTEGER NOT NULL,"
        " avg BLOB NOT NULL, min BLOB NOT NULL, max BLOB NOT NULL)"
        for t in COARSE
    ),
]
#: Added without a new schema version: a file of the first layout gets the table on open
#: and its rows move into it as the writer goes (no history is lost, nothing is rewritten
#: at once). An older hostpulse opening the file again still reads its rows.
_CHUNKS = (
    "CREATE TABLE IF NOT EXISTS chunks (step INTEGER NOT NULL, key TEXT NOT NULL,"
    " start INTEGER NOT NULL, avg BLOB NOT NULL, min BLOB NOT NULL, max BLOB NOT NULL,"
    " PRIMARY KEY (step, key, start))"
)


class UnusableFile(Exception):
    """The file opened as SQLite but is not a history database this code can read."""


Connect = Callable[..., sqlite3.Connection]


class Store:
    def __init__(self, path: str | os.PathLike | None, connect: Connect | None = None):
        self.path = Path(path) if path is not None else None
        self._connect = connect or sqlite3.connect
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._wconn, self._rconn = self._open()
        #: Why moving rows into chunks failed, or None (one log line per failing streak).
        self.compact_error: str | None = None

    # --- opening --------------------------------------------------------------------------

    def _open(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        if self.path is None:
            return self._memory()
        try:
            return self._open_file()
        except (sqlite3.Error, OSError, UnusableFile) as exc:
            log.error("history file %s is unusable (%s); starting a new one", self.path, exc)
        try:
            aside = set_aside(self.path)
            if aside is not None:
                log.error("history file %s moved aside to %s", self.path, aside)
            return self._open_file()
        except (sqlite3.Error, OSError, UnusableFile) as exc:
            log.error("cannot start history file %s (%s); keeping it in memory", self.path, exc)
            self.path = None
            return self._memory()

    def _memory(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        conn = self._connect(":memory:", check_same_thread=False, isolation_level=None)
        _create(conn)
        # One connection: reads and writes share it, so they share one lock.
        self._read_lock = self._write_lock
        return conn, conn

    def _open_file(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect(str(self.path), check_same_thread=False, isolation_level=None)
        try:
            _prepare(conn)
            # A second connection for queries: in WAL mode a reader never waits for the writer.
            reader = self._connect(str(self.path), check_same_thread=False, isolation_level=None)
            reader.execute("PRAGMA query_only = 1")
        except BaseException:
            conn.close()
            raise
        return conn, reader

    # --- reading --------------------------------------------------------------------------

    def layouts(self) -> list[tuple[int, list[str]]]:
        with self._read_lock:
            rows = self._rconn.execute("SELECT id, keys FROM layouts").fetchall()
        return [(layout, json.loads(keys)) for layout, keys in rows]

    def newest_second(self) -> int | None:
        with self._read_lock:
            return self._rconn.execute("SELECT max(ts) FROM t1").fetchone()[0]

    def read(self, table: str, start: int, end: int) -> list[Row]:
        """Rows of ``table`` with start <= ts < end, oldest first."""
        assert table in {t.table for t in TIERS}
        columns = "ts, layout, avg" if table == "t1" else "ts, layout, avg, min, max"
        sql = f"SELECT {columns} FROM {table} WHERE ts >= ? AND ts < ? ORDER BY ts"
        with self._read_lock:
            return self._rconn.execute(sql, (start, end)).fetchall()

    def layout_spans(self) -> list[tuple[int, int, int]]:
        """(layout, oldest ts, newest ts) of the rows of every tier."""
        with self._read_lock:
            return [
                row
                for tier in TIERS
                for row in self._rconn.execute(
                    f"SELECT layout, min(ts), max(ts) FROM {tier.table} GROUP BY layout"
                )
            ]

    def read_window(
        self, resolution: Resolution, keys: Sequence[str], start: int, end: int
    ) -> tuple[dict[str, list[tuple]], list[Row]]:
        """Chunks of ``keys`` at ``resolution`` overlapping [start, end), and the rows of its
        row table in that range, in one read transaction: rows moved into chunks meanwhile
        are seen once, in one place or the other."""
        sql = (
            "SELECT start, avg, min, max FROM chunks WHERE step = ? AND key = ?"
            " AND start > ? AND start < ? ORDER BY start"
        )
        rows_sql = (
            f"SELECT ts, layout, avg, min, max FROM {resolution.table}"
            " WHERE ts >= ? AND ts < ? ORDER BY ts"
        )
        low = start - resolution.chunk
        with self._read_lock:
            conn = self._rconn
            conn.execute("BEGIN")
            try:
                found = {
                    k: conn.execute(sql, (resolution.step, k, low, end)).fetchall() for k in keys
                }
                rows = conn.execute(rows_sql, (start, end)).fetchall()
            finally:
                conn.execute("COMMIT")
        return found, rows

    def key_extents(
        self, keys: Iterable[str], need_last: set[str]
    ) -> dict[str, tuple[int | None, int | None]]:
        """key -> (first, last) bucket start holding a value in the chunks; ``last`` only for
        ``need_last`` (for the others the rows hold newer points). The 1 min chunks start no
        later than the 10 s ones and the 10 s ones end no earlier, so each end is read from
        one resolution, the other only when the first has nothing."""
        sql = "SELECT start, avg FROM chunks WHERE step = ? AND key = ? ORDER BY start"
        out: dict[str, tuple[int | None, int | None]] = {}
        with self._read_lock:
            for key in keys:
                first = last = None
                for resolution in (ch.R60, ch.R10):
                    head = self._rconn.execute(sql + " LIMIT 1", (resolution.step, key)).fetchone()
                    if head is not None:
                        first = _held(resolution, head, reverse=False)
                        break
                for resolution in (ch.R10, ch.R60) if key in need_last else ():
                    args = (resolution.step, key)
                    tail = self._rconn.execute(sql + " DESC LIMIT 1", args).fetchone()
                    if tail is not None:
                        last = _held(resolution, tail, reverse=True)
                        break
                if first is not None or last is not None:
                    out[key] = (first, last)
        return out

    # --- writing --------------------------------------------------------------------------

    def write(
        self,
        layouts: Iterable[tuple[int, Sequence[str]]],
        rows: dict[str, list[Row]],
    ) -> str | None:
        """One transaction for a batch; None when written, else SQLite's reason (the caller
        keeps the batch and says so)."""
        try:
            with self._write_lock:
                conn = self._wconn
                conn.execute("BEGIN")
                try:
                    conn.executemany(
                        "INSERT OR REPLACE INTO layouts VALUES (?, ?)",
                        [(i, json.dumps(list(keys))) for i, keys in layouts],
                    )
                    for table, batch in rows.items():
                        marks = ", ".join("?" * (3 if table == "t1" else 5))
                        conn.executemany(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", batch)
                    conn.execute("COMMIT")
                except BaseException:
                    # A failed COMMIT (a full disk) has already rolled back: a second
                    # ROLLBACK would raise "no transaction is active" over the real reason.
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            return str(exc)
        return None

    def retain(self, now: float) -> None:
        """Delete what each tier no longer covers (a step of slack keeps the boundary row);
        a chunk goes when all of it is older (so up to one chunk more is kept)."""
        try:
            with self._write_lock:
                for tier in TIERS:
                    cutoff = int(now) - tier.span - tier.step
                    self._wconn.execute(f"DELETE FROM {tier.table} WHERE ts < ?", (cutoff,))
                for r in ch.RESOLUTIONS:
                    cutoff = int(now) - r.span - r.step
                    self._wconn.execute(
                        "DELETE FROM chunks WHERE step = ? AND start + ? <= ?",
                        (r.step, r.chunk, cutoff),
                    )
        except sqlite3.Error as exc:
            log.error("history file %s: retention failed (%s)", self.path, exc)

    def compact(self) -> bool:
        """Move the rows of one chunk that the seal line has passed into ``chunks`` (and
        their rollups), in one transaction; True when something was moved (call again)."""
        try:
            with self._write_lock:
                for table, resolution in DIRECT.items():
                    if self._compact_one(table, resolution):
                        self._compacted()
                        return True
        except (sqlite3.Error, ValueError) as exc:  # ValueError: a row of the wrong width
            if self.compact_error is None:
                log.error("history file %s: cannot move rows into chunks (%s)", self.path, exc)
            self.compact_error = str(exc)
            return False
        self._compacted()
        return False

    def _compacted(self) -> None:
        if self.compact_error is not None:
            log.warning("history file %s: moving rows into chunks works again", self.path)
            self.compact_error = None

    def _compact_one(self, table: str, resolution: Resolution) -> bool:
        conn = self._wconn
        oldest, newest = conn.execute(f"SELECT min(ts), max(ts) FROM {table}").fetchone()
        if newest is None:
            return False
        seal = newest - newest % SEAL
        if oldest >= seal:
            return False
        start = oldest - oldest % resolution.chunk
        end = min(start + resolution.chunk, seal)
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute(
                f"SELECT ts, layout, avg, min, max FROM {table} WHERE ts < ? ORDER BY ts", (end,)
            ).fetchall()
            layouts = {i: json.loads(k) for i, k in conn.execute("SELECT id, keys FROM layouts")}
            _move(conn, resolution, start, rows, layouts)
            conn.execute(f"DELETE FROM {table} WHERE ts < ?", (end,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return True

    def close(self) -> None:
        with self._write_lock:
            if self._rconn is not self._wconn:
                self._rconn.close()
            self._wconn.close()


_CHUNK_SQL = "SELECT avg, min, max FROM chunks WHERE step = ? AND key = ? AND start = ?"
_PUT_SQL = "INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?)"


def _load(conn: sqlite3.Connection, resolution: Resolution, key: str, start: int) -> ch.Series:
    found = conn.execute(_CHUNK_SQL, (resolution.step, key, start)).fetchone()
    return ch.empty(resolution) if found is None else ch.decode(resolution, found)


def _move(
    conn: sqlite3.Connection,
    resolution: Resolution,
    start: int,
    rows: list[Row],
    layouts: dict[int, list[str]],
) -> None:
    """Lay the rows (all within the chunk at ``start``) into each key's chunk and, for 1 min,
    recompute the rollup buckets they fall in from that chunk; write them. A row replaces
    its bucket for every key of its layout, as INSERT OR REPLACE did. One key at a time, so
    only that key's values are Python floats at once (the rows stay packed)."""
    step = resolution.step
    decoded = [
        ((ts - start) // step, layout, _floats(avg), _floats(low), _floats(high))
        for ts, layout, avg, low, high in rows
    ]
    index = {layout: {k: i for i, k in enumerate(layouts.get(layout, ()))} for layout in
             dict.fromkeys(row[1] for row in decoded)}  # fmt: skip
    keys = dict.fromkeys(k for positions in index.values() for k in positions)
    rollups = ROLLUPS if resolution is ch.R60 else ()
    puts = []
    for key in keys:
        present = [
            (slot, i, avg, low, high)
            for slot, layout, avg, low, high in decoded
            if (i := index[layout].get(key)) is not None and i < len(avg)
        ]
        columns = [[row[n][row[1]] for row in present] for n in (2, 3, 4)]
        if not any(v == v for v in columns[0]):
            continue  # never a value in these rows: no chunk for it
        if resolution.exact:
            columns = [trim_values(c) for c in columns]
        slots = [row[0] for row in present]
        series = _load(conn, resolution, key, start)
        for dest, values in zip(series, columns, strict=True):
            if slots[-1] - slots[0] == len(slots) - 1:  # consecutive: one slice
                dest[slots[0] : slots[-1] + 1] = values
            else:
                for slot, value in zip(slots, values, strict=True):
                    dest[slot] = value
        puts.append((step, key, start, *ch.encode(resolution, series)))
        for rollup in rollups:
            puts.append(_rolled(conn, rollup, key, start, series, slots[0], slots[-1]))
    conn.executemany(_PUT_SQL, puts)


def _rolled(
    conn: sqlite3.Connection,
    rollup: Resolution,
    key: str,
    start: int,
    source: ch.Series,
    first_minute: int,
    last_minute: int,
) -> tuple:
    """The rollup record of ``key`` holding the 1 min chunk at ``start``, its buckets over
    minutes [first_minute, last_minute] of that chunk recomputed from ``source``."""
    home = start - start % rollup.chunk
    offset = (start - home) // rollup.step
    per = rollup.step // ch.R60.step
    first, last = first_minute // per, last_minute // per
    part = ch.rollup(source, rollup, first, last - first + 1)
    series = _load(conn, rollup, key, home)
    for dest, values in zip(series, part, strict=True):
        dest[offset + first : offset + last + 1] = values
    return (rollup.step, key, home, *ch.encode(rollup, series))


def _floats(blob: bytes) -> array:
    values = array("f")
    values.frombytes(blob)
    return values


def _held(resolution: Resolution, found: tuple, reverse: bool) -> int | None:
    """The start of the first (or last) bucket of a chunk that holds a value."""
    start, blob = found
    values = array(resolution.typecode)
    values.frombytes(blob)
    order = range(len(values) - 1, -1, -1) if reverse else range(len(values))
    for i in order:
        if values[i] == values[i]:
            return start + i * resolution.step
    return None


def _prepare(conn: sqlite3.Connection) -> None:
    """Check (or create) the schema; raise for anything that is not our format."""
    # The first statement that reads the file: garbage bytes fail here ("not a database").
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise UnusableFile(f"cannot use WAL journal (got {mode!r})")
    conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: no fsync per commit
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if version == 0 and tables == 0:
        _create(conn)
        return
    if version != SCHEMA_VERSION:
        raise UnusableFile(f"schema version {version}, expected {SCHEMA_VERSION}")
    order = conn.execute("SELECT value FROM meta WHERE name = 'byteorder'").fetchone()
    if order is None or order[0] != sys.byteorder:
        raise UnusableFile(f"rows are {order and order[0]}-endian, this host is {sys.byteorder}")
    check = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    if check != "ok":
        raise UnusableFile(f"integrity check: {check}")
    conn.execute(_CHUNKS)  # a file written before chunks existed: its rows move in later


def _create(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")
    for statement in (*_SCHEMA, _CHUNKS):
        conn.execute(statement)
    # Blobs are native float32 (array('f')): a file moved to a host of the other byte order
    # would read as noise, so the order is recorded and checked.
    conn.execute("INSERT INTO meta VALUES ('byteorder', ?)", (sys.byteorder,))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.execute("COMMIT")


def set_aside(path: Path) -> Path | None:
    """Rename ``path`` (and its WAL side files) to ``<name>.corrupt-<timestamp>``."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    moved = None
    # The side files belong to the bad file: a fresh database must not replay its WAL.
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists() or source.is_symlink():
            os.replace(source, f"{target}{suffix}")
            moved = moved or target
    return moved
