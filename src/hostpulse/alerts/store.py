"""Alert events and states in SQLite: ``alerts.sqlite`` in the data dir (each worker its own).

``events``: every transition (time, host, rule, instance, value …), kept ``RETENTION`` (30
days), keyed by the transition's id so a replay (a worker reading its backfill again after a
restart) adds nothing twice. ``states``: the alerts that are not ok now, so a restart brings
them back as they were (firing stays firing, and is not notified again). ``hosts``: up to
which sample time each host was evaluated, so a restarted worker does not evaluate its
backfill twice.

Only the engine's thread writes; the API reads through a connection of its own. A file that
cannot be opened as ours is moved aside and a new one started, like history's.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hostpulse.alerts.transition import FIRING, PENDING, Transition

log = logging.getLogger("hostpulse.alerts")

RETENTION = 30 * 86400.0
SCHEMA_VERSION = 1
_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, ts REAL NOT NULL,"
    " host TEXT NOT NULL, rule TEXT NOT NULL, instance TEXT NOT NULL, key TEXT NOT NULL,"
    " severity TEXT NOT NULL, state TEXT NOT NULL, value REAL, since REAL NOT NULL,"
    " detail TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_ts ON events (ts)",
    "CREATE TABLE IF NOT EXISTS states (host TEXT NOT NULL, rule TEXT NOT NULL,"
    " instance TEXT NOT NULL, key TEXT NOT NULL, severity TEXT NOT NULL, state TEXT NOT NULL,"
    " since REAL NOT NULL, value REAL, ts REAL NOT NULL, detail TEXT NOT NULL,"
    " PRIMARY KEY (host, rule, instance))",
    "CREATE TABLE IF NOT EXISTS hosts (host TEXT PRIMARY KEY, until REAL NOT NULL)",
]
EVENT_FIELDS = ("ts", "host", "rule", "instance", "key", "severity", "state", "value", "since",
                "detail")  # fmt: skip


class AlertStore:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        if self.path is None:
            return self._connect(":memory:")
        try:
            return self._connect(str(self.path))
        except (sqlite3.Error, OSError) as exc:
            log.error("alerts file %s is unusable (%s); starting a new one", self.path, exc)
        try:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            self.path.replace(aside)
            return self._connect(str(self.path))
        except (sqlite3.Error, OSError) as exc:
            log.error("cannot start alerts file %s (%s); keeping alerts in memory", self.path,
                      exc)  # fmt: skip
            self.path = None
            return self._connect(":memory:")

    @staticmethod
    def _connect(where: str) -> sqlite3.Connection:
        if where != ":memory:":
            Path(where).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(where, check_same_thread=False, isolation_level=None, timeout=5)
        try:
            if where != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif row[0] != str(SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"schema version {row[0]}, not {SCHEMA_VERSION}")
        except BaseException:
            conn.close()
            raise
        return conn

    # --- the engine's side ----------------------------------------------------------------

    def record(self, transitions: Iterable[tuple[Transition, str]]) -> None:
        """Each (transition, its key) as an event, and the state it leaves, in one commit."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")
            try:
                for t, key in transitions:
                    conn.execute(
                        "INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (t.id, t.ts, t.host, t.rule, t.instance, key, t.severity, t.state,
                         t.value, t.since, t.detail),
                    )  # fmt: skip
                    if t.state in (PENDING, FIRING):
                        conn.execute(
                            "INSERT OR REPLACE INTO states VALUES (?,?,?,?,?,?,?,?,?,?)",
                            (t.host, t.rule, t.instance, key, t.severity, t.state, t.since,
                             t.value, t.ts, t.detail),
                        )  # fmt: skip
                    else:
                        conn.execute(
                            "DELETE FROM states WHERE host = ? AND rule = ? AND instance = ?",
                            (t.host, t.rule, t.instance),
                        )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def save_until(self, until: dict[str, float]) -> None:
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO hosts VALUES (?, ?)", until.items())

    def retain(self, now: float) -> int:
        with self._lock:
            cursor = self._conn.execute("DELETE FROM events WHERE ts < ?", (now - RETENTION,))
            return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- reading ----------------------------------------------------------------------------

    def states(self, host: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT rule, instance, key, state, since, value, ts, detail FROM states"
                " WHERE host = ?",
                (host,),
            ).fetchall()
        names = ("rule", "instance", "key", "state", "since", "value", "ts", "detail")
        return [dict(zip(names, row, strict=True)) for row in rows]

    def evaluated_until(self, host: str) -> float | None:
        with self._lock:
            row = self._conn.execute("SELECT until FROM hosts WHERE host = ?", (host,)).fetchone()
        return None if row is None else row[0]

    def events(
        self,
        host: str | None = None,
        state: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Newest first."""
        where, args = [], []
        for column, op, value in (("host", "=", host), ("state", "=", state),
                                  ("ts", ">=", since), ("ts", "<=", until)):  # fmt: skip
            if value is not None:
                where.append(f"{column} {op} ?")
                args.append(value)
        sql = f"SELECT {', '.join(EVENT_FIELDS)} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts DESC, rowid DESC LIMIT ?"
        with self._lock:
            rows = self._conn.execute(sql, (*args, limit)).fetchall()
        return [dict(zip(EVENT_FIELDS, row, strict=True)) for row in rows]
