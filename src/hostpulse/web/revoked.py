"""Sessions ended by ``POST /logout``, kept until they would have expired anyway.

A session cookie is signed, not stored: clearing it in the browser does not stop a copy of
it from working until it expires. Each session carries a random id, and a logout writes that
id here. The list is a file in the credentials directory (``revoked_sessions``, mode 0600)
so that every worker sharing the directory refuses the cookie on its next request; each
worker re-reads it when it changes, as it does the credentials file.

One line per session, ``<id> <expiry, epoch seconds>``, appended under an exclusive
``flock``; expired lines are dropped when the file is rewritten (under the same lock, once
most of its lines are expired). A line that is only half written when another worker reads
is skipped and read whole on the next change.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import threading
import time
from pathlib import Path

FILENAME = "revoked_sessions"
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
#: Rewrite the file once it has this many lines and more than half of them have expired.
COMPACT_AFTER = 1000

log = logging.getLogger("hostpulse.auth")


class RevokedSessions:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._revoked: dict[str, float] = {}
        self._signature: tuple | None = None
        self._lines = 0
        self._lock = threading.Lock()

    def is_revoked(self, session_id: str) -> bool:
        with self._lock:
            self._refresh()
            return session_id in self._revoked

    def revoke(self, session_id: str, expires: float) -> None:
        """Refuse this session from now on, in every worker reading the file. Kept in memory
        (and logged) when the file cannot be written: this worker still refuses it."""
        if not SESSION_ID.match(session_id):
            return
        with self._lock:
            self._revoked[session_id] = expires
            try:
                self._append(f"{session_id} {expires:.0f}\n")
            except OSError as exc:
                log.error(
                    "revoked sessions %s: cannot write it (%s); this worker alone refuses the "
                    "session",
                    self.path,
                    exc.strerror or exc,
                )

    # --- the file --------------------------------------------------------------------------

    def _stat(self) -> tuple | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _refresh(self) -> None:
        signature = self._stat()
        if signature == self._signature:
            return
        self._signature = signature
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            text = ""
        except OSError as exc:
            log.error("revoked sessions %s: cannot read it (%s)", self.path, exc.strerror)
            return
        now = time.time()
        lines = text.splitlines()
        self._lines = len(lines)
        for line in lines:
            session_id, _, expires = line.partition(" ")
            try:
                until = float(expires)
            except ValueError:
                continue  # half written by another worker: read whole on the next change
            if until > now and SESSION_ID.match(session_id):
                self._revoked[session_id] = until
        self._revoked = {k: v for k, v in self._revoked.items() if v > now}

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for _ in range(5):
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_ino != self._inode():
                    continue  # another worker rewrote the file while we waited: the new one
                os.write(fd, line.encode("ascii"))
                self._lines += 1
                if self._lines >= COMPACT_AFTER:
                    self._compact()
                return
            finally:
                os.close(fd)  # and with it the lock
        raise OSError(f"{self.path} kept being replaced")

    def _inode(self) -> int | None:
        try:
            return self.path.stat().st_ino
        except OSError:
            return None

    def _compact(self) -> None:
        """Rewrite without expired lines (the caller holds the file's lock)."""
        self._signature = None
        self._refresh()
        if len(self._revoked) * 2 > self._lines:
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.writelines(f"{k} {v:.0f}\n" for k, v in self._revoked.items())
            os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self._lines = len(self._revoked)
