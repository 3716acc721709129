"""Everything a worker reads from Redis, checked once, here, against docs/REDIS.md.

Anything in Redis may be wrong: written by an old agent, a bug, or someone with access. What
does not have the documented shape is dropped — a bad field alone, a bad entry alone, never a
whole host or every host — counted by cause (``hostpulse_redis_rejected_total`` on
/metrics) and logged once per host and cause. What passes is plain: host ids by the one
host-id rule, sample values finite numbers or null under valid keys, facts a small JSON
object, process rows of the documented types, times close to now.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from hostpulse import hostid, metrics
from hostpulse.history.processes import ProcessMoment
from hostpulse.sample import Sample
from hostpulse.sampler import MAX_INTERVAL, MIN_INTERVAL

log = logging.getLogger("hostpulse.reader")

#: A sample stamped further ahead of this worker's clock is refused (an agent's clock off by
#: more than this is broken, and a future time would hide the host's real samples).
MAX_SKEW_SECONDS = 60.0
#: Older than anything history keeps: refused.
MAX_AGE_SECONDS = 31 * 86400.0
#: Larger magnitudes are no measurement (the largest real ones, byte counts, are ~1e15).
MAX_VALUE = 1e18
MAX_KEYS = 4096
MAX_FACTS_BYTES = 64 * 1024
MAX_CONFLICT_BYTES = 4096
#: (host, cause) pairs remembered for logging once; past this, causes are only counted.
MAX_LOGGED = 10_000

#: A process row's fields and the types each may have (docs/REDIS.md).
_NUMBER = (int, float)
ROW_FIELDS: dict[str, tuple[type, ...]] = {
    "pid": (int,),
    "name": (str,),
    "user": (str, type(None)),
    "cpu": (*_NUMBER, type(None)),
    "rss": (int, type(None)),
    "mem_percent": (*_NUMBER, type(None)),
    "state": (str, type(None)),
    "cmd": (str, type(None)),
}
#: Fields a row has only where the agent knows them (NVML's per-process GPU memory).
OPTIONAL_ROW_FIELDS: dict[str, tuple[type, ...]] = {"gpu_mem": (int, type(None))}
MAX_TEXT = 4096
#: A top-process table's row (history, entry type ``p``): exactly these fields and types.
TOP_ROW_FIELDS: dict[str, tuple[type, ...]] = {
    "pid": (int,),
    "name": (str,),
    "user": (str,),
    "cpu": _NUMBER,
    "rss": (int,),
    "cmd": (str,),
}
#: Rows accepted in a top-process table (an agent sends at most 20).
MAX_TOP_ROWS = 50


def finite(value: Any) -> float | None:
    """``value`` as a float when it is a real, finite, sane number, else None."""
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return number if math.isfinite(number) and abs(number) <= MAX_VALUE else None


class Boundary:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        #: cause -> entries or fields dropped.
        self.rejected: Counter[str] = Counter()
        self._logged: set[tuple[str, str]] = set()

    def reject(self, host: str, cause: str, detail: str = "") -> None:
        self.rejected[cause] += 1
        if (host, cause) in self._logged or len(self._logged) >= MAX_LOGGED:
            return
        self._logged.add((host, cause))
        more = f" ({detail[:160]})" if detail else ""
        log.warning("host %.128s: %s in redis, dropped%s; logged once", host, cause, more)

    # --- hosts -----------------------------------------------------------------------------

    def host_ids(self, raw: Iterable[Any]) -> list[str]:
        """The members of the hosts set that are host ids."""
        ids = []
        for member in raw:
            try:
                text = member.decode() if isinstance(member, bytes) else member
            except UnicodeDecodeError:
                self.reject("?", "a host id that is not UTF-8", repr(member[:64]))
                continue
            if hostid.is_valid(text):
                ids.append(text)
            else:
                self.reject("?", "a host id that breaks the host-id rule", repr(text)[:64])
        return ids

    def interval(self, host: str, raw: Any) -> float | None:
        try:
            value = float(raw)
        except (TypeError, ValueError, OverflowError):
            value = math.nan
        if MIN_INTERVAL <= value <= MAX_INTERVAL:
            return value
        self.reject(host, "an interval that is no number of seconds in range", repr(raw)[:40])
        return None

    def facts(self, host: str, data: Any) -> dict[str, Any] | None:
        """A facts object: a JSON object of at most MAX_FACTS_BYTES, with text keys; ``data``
        is its JSON text (the host hash) or already decoded (a stream entry)."""
        if isinstance(data, bytes | str):
            size = len(data)  # measured before it is parsed
            if size <= MAX_FACTS_BYTES:
                try:
                    data = json.loads(data)
                except ValueError:
                    self.reject(host, "facts that are not JSON")
                    return None
        else:
            size = len(json.dumps(data, default=str))
        if size > MAX_FACTS_BYTES:
            self.reject(host, "facts larger than 64 KiB")
            return None
        if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
            self.reject(host, "facts that are not an object")
            return None
        return data

    def conflict(self, host: str, raw: Any) -> dict[str, Any] | None:
        """An agent's report that its id was taken: a small object with a time."""
        try:
            data = json.loads(raw) if len(raw) <= MAX_CONFLICT_BYTES else None
        except (TypeError, ValueError):
            data = None
        if isinstance(data, dict) and finite(data.get("ts")) is not None:
            return data
        self.reject(host, "a conflict that is not an object with a time")
        return None

    # --- samples and tables ----------------------------------------------------------------

    def sample(self, host: str, item: Sample) -> Sample | None:
        """The sample with its bad fields dropped, or None when it cannot be used at all."""
        seq, ts = item.seq, finite(item.ts)
        if ts is None or isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            self.reject(host, "a sample without a usable seq and time")
            return None
        now = self.clock()
        if ts > now + MAX_SKEW_SECONDS:
            self.reject(host, "a sample from the future", f"{ts - now:.0f}s ahead")
            return None
        if ts < now - MAX_AGE_SECONDS:
            self.reject(host, "a sample older than history keeps")
            return None
        if len(item.values) > MAX_KEYS:
            self.reject(host, f"a sample of more than {MAX_KEYS} keys")
            return None
        values: dict[str, float | None] = {}
        for key, value in item.values.items():
            if not isinstance(key, str) or not metrics.is_valid(key):
                self.reject(host, "a sample field that is no metric key", repr(key)[:80])
            elif value is None:
                values[key] = None
            elif (number := finite(value)) is not None:
                values[key] = number
            else:
                self.reject(host, "a sample value that is no finite number", f"{key}={value!r}")
        return Sample(seq=seq, ts=ts, values=values)

    def process_table(self, host: str, data: dict[str, Any]) -> ProcessMoment | None:
        """A top-process table for the history: a time like a sample's and at most
        MAX_TOP_ROWS rows of TOP_ROW_FIELDS; a bad row alone is dropped."""
        ts, rows = finite(data.get("ts")), data.get("rows")
        if ts is None or not isinstance(rows, list) or len(rows) > MAX_TOP_ROWS:
            self.reject(host, "a process table without a time and a list of rows")
            return None
        now = self.clock()
        if not now - MAX_AGE_SECONDS <= ts <= now + MAX_SKEW_SECONDS:
            self.reject(host, "a process table from the future or older than history keeps")
            return None
        good = self._kept(host, rows, top_row, "a process-table row of the wrong shape")
        return ProcessMoment.of(ts, good)

    def rows(self, host: str, rows: list[Any]) -> list[dict[str, Any]]:
        """The process rows of the documented shape; others dropped."""
        return self._kept(host, rows, process_row, "a process row of the wrong shape")

    def _kept(
        self, host: str, rows: list[Any], clean: Callable[[Any], dict | None], cause: str
    ) -> list[dict[str, Any]]:
        """``clean(row)`` of every row it accepts; each one it refuses counted as ``cause``."""
        good = []
        for row in rows:
            kept = clean(row)
            if kept is None:
                self.reject(host, cause, repr(row)[:80])
            else:
                good.append(kept)
        return good


def process_row(row: Any) -> dict[str, Any] | None:
    """``row`` with the documented fields only, or None when one has the wrong type."""
    if not isinstance(row, dict):
        return None
    clean = {}
    optional = {n: t for n, t in OPTIONAL_ROW_FIELDS.items() if n in row}
    for name, types in {**ROW_FIELDS, **optional}.items():
        value = row.get(name)
        if not isinstance(value, types):
            return None
        if isinstance(value, str) and len(value) > MAX_TEXT:
            return None
        if isinstance(value, _NUMBER) and finite(value) is None:
            return None  # a bool, an infinity, an absurd size
        clean[name] = value
    return clean


def top_row(row: Any) -> dict[str, Any] | None:
    """A top-process row with TOP_ROW_FIELDS only, or None when one is missing or wrong:
    numbers finite and not negative, text at most MAX_TEXT characters."""
    if not isinstance(row, dict):
        return None
    clean = {}
    for name, types in TOP_ROW_FIELDS.items():
        value = row.get(name)
        if not isinstance(value, types) or isinstance(value, bool):
            return None
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                return None
        elif (number := finite(value)) is None or number < 0:
            return None
        clean[name] = value
    return clean
