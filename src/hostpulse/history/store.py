"""SQLite persistence: layouts plus one table per tier, rows as packed float32 blobs.

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
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

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
        """Delete what each tier no longer covers (a step of slack keeps the boundary row)."""
        try:
            with self._write_lock:
                for tier in TIERS:
                    cutoff = int(now) - tier.span - tier.step
                    self._wconn.execute(f"DELETE FROM {tier.table} WHERE ts < ?", (cutoff,))
        except sqlite3.Error as exc:
            log.error("history file %s: retention failed (%s)", self.path, exc)

    def close(self) -> None:
        with self._write_lock:
            if self._rconn is not self._wconn:
                self._rconn.close()
            self._wconn.close()


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


def _create(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")
    for statement in _SCHEMA:
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
