"""History: the sampler adds one sample per tick, the web layer queries series.

In memory: the last hour at 1 s (a ring of float32 rows) plus rows not yet written. On disk
(or in an in-memory SQLite database when ``path`` is None): all three tiers. The 10 s and
1 min buckets are computed from the 1 s rows when they close, so their averages are true
means of the samples and their min/max the samples' extremes.
"""

from __future__ import annotations

import math
import os
import threading
import time
from array import array
from collections.abc import Callable, Sequence

from hostpulse.history import chunks as ch
from hostpulse.history import tiers
from hostpulse.history.aggregate import NAN, bucket, finish, fold, to_row, trim_values
from hostpulse.history.chunks import Resolution
from hostpulse.history.layouts import Layouts
from hostpulse.history.ring import Ring
from hostpulse.history.store import Store, log
from hostpulse.history.tiers import COARSE, MINUTE, SECOND, Tier
from hostpulse.history.writer import Writer
from hostpulse.sample import Sample

#: _slot_for's answer for a sample whose second already holds one (a sub-second sampler).
FILLED = object()
#: Rows of each tier kept in memory while the file cannot be written (an hour of 1 s rows).
MAX_HELD_ROWS = 3600
#: 1 min rows kept trimmed in memory: the two hours rows may stay before the hourly move.
_TRIMMED_ROWS = 120
#: (step, span) of the stored coarse resolutions, coarsest first (tiers.settle_step).
_SETTLE = tuple((r.step, r.span) for r in reversed(ch.RESOLUTIONS))
Dense = tuple[list[float], list[float], list[float]]


class History:
    """Tiered metric history. Thread-safe: add() and query() may run on different threads."""

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        max_points: int = 2000,
        batch_seconds: int = 15,
        retention_seconds: int = 600,
        background: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_points = max_points
        self._batch_seconds = batch_seconds
        self._retention_seconds = retention_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._layouts = Layouts()
        self._ring = Ring(SECOND.span)
        self._store = Store(path)
        self._pending: dict[str, list] = {"t1": [], **{t.table: [] for t in COARSE}}
        self._last_slot: int | None = None
        self._newest_ts = -math.inf
        self._written_at: int | None = None
        self._retained_at = -math.inf
        self._closed = False
        #: 1 min rows as a query answers them (float64, trimmed), by bucket start, made on
        #: the writer thread: the hour not yet in chunks is read without formatting floats.
        self._trimmed: dict[int, tuple[int, array, array, array]] = {}
        #: (tier, bucket start) closed by add() and not yet aggregated.
        self._due: list[tuple[Tier, int]] = []
        #: Samples refused because their time was not after the newest one (clock stepped back).
        self.dropped = 0
        #: Why the file cannot be written now (a full disk…), or None: /healthz says so.
        self.write_error: str | None = None
        #: Rows given up while the file could not be written, past MAX_HELD_ROWS.
        self.lost_rows = 0
        self._reload()
        # Closing buckets and writing SQLite cost milliseconds: a writer thread does it so
        # add() stays cheap. Without it (tests, tools) add() does it inline when a batch is due.
        self._writer = Writer("hostpulse-history", self._write_behind) if background else None

    @property
    def path(self) -> str | None:
        """The SQLite file in use; None when memory-only (asked for, or after a bad file)."""
        return None if self._store.path is None else str(self._store.path)

    # --- the sampler's side ---------------------------------------------------------------

    def add(self, sample: Sample) -> None:
        """Record one sample (hot path: no SQLite unless a batch is due)."""
        keys = tuple(sample.values)
        row = to_row(sample.values.values())
        with self._lock:
            if self._closed:
                return
            slot = self._slot_for(sample.ts)
            if slot is None:
                self.dropped += 1
                return
            if slot is FILLED:
                self._newest_ts = sample.ts
                return
            layout = self._layouts.id_for(keys)
            if self._last_slot is not None:
                self._close_buckets(self._last_slot, slot)
            self._ring.put(slot, layout, row)
            self._pending["t1"].append((slot, layout, row))
            self._last_slot = slot
            self._newest_ts = sample.ts
            if self._written_at is None:
                self._written_at = slot
            elif slot - self._written_at >= self._batch_seconds:
                self._written_at = slot
                if self._writer is None:
                    self._maintain()
                    if self.write_error is None:
                        self._store.compact()  # one step per batch
                else:
                    self._writer.wake()

    def _slot_for(self, ts: float) -> int | object | None:
        """The second a sample fills; None to drop it; FILLED when its second is taken.

        A sample not newer than the newest one is dropped: the clock stepped back (or it is
        a duplicate), and rewriting seconds already aggregated would corrupt the tiers. The
        history resumes once the clock passes the newest second again.

        Ticks jitter around whole seconds (x.49 then x+1.51); rounding alone would put two
        samples in one second and leave a false gap next to it. So a sample that follows the
        previous one by about a second takes the next second when that second is within a
        second of its own time: a steady 1 Hz stream fills every slot without drifting.
        A faster sampler (interval under 1 s) keeps the first sample of each second.
        """
        if not ts > self._newest_ts or not math.isfinite(ts):
            return None
        natural = math.floor(ts + 0.5)
        if self._last_slot is None:
            return natural
        following = self._last_slot + 1
        gap = ts - self._newest_ts
        if 0.75 <= gap < 1.5 and abs(natural - following) <= 1 and abs(following - ts) < 1:
            return following
        return natural if natural > self._last_slot else FILLED

    def _close_buckets(self, previous: int, slot: int) -> None:
        for tier in COARSE:
            start = previous - previous % tier.step
            if slot - slot % tier.step != start:
                self._due.append((tier, start))

    def _queue_bucket(self, tier: Tier, start: int) -> None:
        rows = list(self._ring.range(start, start + tier.step))
        if not rows:
            return
        layouts = {layout for _, layout, _ in rows}
        if len(layouts) == 1:
            layout = layouts.pop()
            values: list[array] = [row for _, _, row in rows]
        else:  # the key set changed inside the bucket: align the rows first
            layout = self._layouts.union(layouts)
            values = [self._layouts.remap(row, lid, layout) for _, lid, row in rows]
        avg, low, high = bucket(values)
        packed = (array("f", avg), array("f", low), array("f", high))
        self._pending[tier.table].append((start, layout, *packed))
        if tier is MINUTE:
            exact = [array("d", trim_values(part)) for part in packed]
            self._trimmed.pop(start, None)  # a bucket written again moves to the end
            self._trimmed[start] = (layout, *exact)
            while len(self._trimmed) > _TRIMMED_ROWS:
                del self._trimmed[next(iter(self._trimmed))]

    def _write_behind(self) -> None:
        """The writer thread's job, each time add() closes a batch."""
        with self._lock:
            if not self._closed:
                self._maintain()
        self._move_sealed_rows()

    def _move_sealed_rows(self) -> None:
        """Move sealed rows into chunks until none is left, the file refuses or close()
        begins. It touches only SQLite (its own lock): add() and queries go on meanwhile.
        One chunk per step, so close() waits at most for one."""
        while not self._closed and self.write_error is None and self._store.compact():
            pass

    def _maintain(self) -> None:
        """Aggregate closed buckets, then write; called with the lock held."""
        for tier, start in self._due:
            self._queue_bucket(tier, start)
        self._due.clear()
        self._write()

    def _write(self) -> None:
        """Write pending rows in one transaction; called with the lock held. When SQLite
        refuses (a full disk), the rows stay pending, and queries still see them, until a
        later write succeeds; past MAX_HELD_ROWS the oldest are given up."""
        batch = {
            table: [(ts, layout, *(a.tobytes() for a in arrays)) for ts, layout, *arrays in rows]
            for table, rows in self._pending.items()
            if rows
        }
        error = self._store.write(self._layouts.unsaved, batch)
        if error is not None:
            self._hold(error)
            return
        if self.write_error is not None:
            log.warning("history file %s: written again (%s rows caught up)", self.path,
                        sum(len(rows) for rows in batch.values()))  # fmt: skip
            self.write_error = None
        self._layouts.unsaved = []
        for rows in self._pending.values():
            rows.clear()
        now = self._clock()
        if now - self._retained_at >= self._retention_seconds:
            self._store.retain(now)
            self._retained_at = now

    def _hold(self, error: str) -> None:
        if self.write_error is None:  # one line when it starts, one when it ends
            log.error(
                "history file %s: cannot write (%s); keeping up to %d rows in memory and "
                "trying again every %ds",
                self.path,
                error,
                MAX_HELD_ROWS,
                self._batch_seconds,
            )
        self.write_error = error
        for rows in self._pending.values():
            excess = len(rows) - MAX_HELD_ROWS
            if excess > 0:
                del rows[:excess]
                self.lost_rows += excess

    def flush(self) -> None:
        """Write everything pending, including the still-open 10 s and 1 min buckets, then
        move every sealed row into chunks (all of an older file's rows, the first time)."""
        self._write_all()
        self._move_sealed_rows()

    def _write_all(self) -> None:
        with self._lock:
            if self._closed:
                return
            if self._last_slot is not None:
                for tier in COARSE:
                    # Written as it stands; replaced when the bucket closes (same ts).
                    self._due.append((tier, self._last_slot - self._last_slot % tier.step))
            self._maintain()

    def close(self) -> None:
        """Write what is pending and stop the writer; later add() calls are ignored. Rows
        not yet in chunks stay rows (moved after the next start), so stopping stays quick."""
        self._write_all()
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._writer is not None:
            self._writer.stop()
        self._store.close()

    def _reload(self) -> None:
        """Bring back layouts and the last hour at 1 s from the file, so charts survive."""
        for layout, keys in self._store.layouts():
            self._layouts.load(layout, keys)
        newest = self._store.newest_second()
        if newest is None:
            return
        since = max(newest, int(self._clock())) - SECOND.span
        for slot, layout, data in self._store.read("t1", since, newest + 1):
            row = array("f")
            row.frombytes(data)
            self._ring.put(slot, layout, row)
        self._last_slot = newest
        # The earliest time that rounds to the newest slot: a sample from before it is stale.
        self._newest_ts = newest - 0.5
        log.info("history: reloaded from %s up to %s", self.path, newest)

    # --- the web's side -------------------------------------------------------------------

    def query(
        self,
        keys: Sequence[str],
        since: float,
        until: float | None = None,
        step: float | None = None,
        *,
        max_points: int | None = None,
    ) -> dict:
        """Series of ``keys`` from ``since`` to ``until`` (negative: seconds before now).

        Answered from the finest tier whose span reaches ``since``; ``step`` (rounded up to a
        multiple of that tier's step, and raised so at most ``max_points`` come back) groups
        points: avg of avgs, min of mins, max of maxes. At 1 s, min and max equal avg.
        ``ts`` are bucket starts; a bucket without data is None in every list.
        """
        now = self._clock()
        since = now + since if since < 0 else since
        until = now if until is None else (now + until if until < 0 else until)
        tier = tiers.choose(since, now)
        out = tiers.plan_step(tier, since, until, step, max_points or self.max_points)
        asked = tiers.plan_step(tier, since, until, step, 2**62)
        out = tiers.settle_step(tier, out, asked, _SETTLE, since, now)
        start = math.floor(since / out) * out
        count = (math.floor(until / out) * out - start) // out + 1 if until >= since else 0
        end = start + count * out
        keys = list(keys)
        if tier is SECOND:
            dense, exact, res = self._ring_series(keys, start, end), False, 1
        else:
            resolution = _source(tier, out, since, now)
            dense = self._stored_series(resolution, keys, start, end)
            exact, res = resolution.exact, resolution.step
        k = out // res
        series = {}
        for key in keys:
            avg, low, high = dense[key]
            trim = not (exact and k == 1)
            if low is avg and high is avg and k == 1:  # 1 s: min and max are the value
                same = finish(avg, trim)
                series[key] = {"avg": same, "min": list(same), "max": list(same)}
                continue
            avg, low, high = fold(avg, low, high, k)
            series[key] = {"avg": finish(avg, trim), "min": finish(low, trim),
                           "max": finish(high, trim)}  # fmt: skip
        return {
            "step": out,
            "tier": tier.name,
            "ts": [start + i * out for i in range(count)],
            "series": series,
        }

    def _ring_series(self, keys: list[str], start: int, end: int) -> dict[str, Dense]:
        """Dense 1 s lists (NaN: no sample) from the ring; min and max are the avg list."""
        with self._lock:
            rows = list(self._ring.range(start, end))
            index = {layout: self._layouts.index(layout) for layout in {r[1] for r in rows}}
        n = end - start
        out: dict[str, Dense] = {}
        for key in keys:
            values = [NAN] * n
            for slot, layout, row in rows:
                i = index[layout].get(key)
                if i is not None:
                    values[slot - start] = row[i]
            out[key] = (values, values, values)
        return out

    def _stored_series(
        self, resolution: Resolution, keys: list[str], start: int, end: int
    ) -> dict[str, Dense]:
        """Dense lists at ``resolution`` over [start, end): its chunks, then the rows not yet
        moved into chunks (the file's, then those still in memory) laid over them."""
        with self._lock:
            # Pending first, then the file: a row written (or moved) in between is read
            # twice, never missed.
            pending = [r for r in self._pending[resolution.table] if start <= r[0] < end]
            trimmed = {}
            if resolution is ch.R60:
                trimmed = {ts: v for ts, v in self._trimmed.items() if start <= ts < end}
        found, rows = self._store.read_window(resolution, keys, start, end)
        merged = {r[0]: (r[0], r[1], *(_floats(b) for b in r[2:])) for r in rows}
        merged.update((r[0], r) for r in pending)
        with self._lock:
            index = {r[1]: self._layouts.index(r[1]) for r in merged.values()}
        step = resolution.step
        n = (end - start) // step
        out: dict[str, Dense] = {}
        for key in keys:
            dense = ([NAN] * n, [NAN] * n, [NAN] * n)
            for chunk_start, *blobs in found[key]:
                lo, hi = max(start, chunk_start), min(end, chunk_start + resolution.chunk)
                if lo >= hi:
                    continue
                d0, d1 = (lo - start) // step, (hi - start) // step
                s0 = (lo - chunk_start) // step
                part = ch.decode(resolution, blobs, s0, s0 + d1 - d0)
                for dest, values in zip(dense, part, strict=True):
                    dest[d0:d1] = values
            out[key] = dense
        if merged:
            rows_in_order = [merged[ts] for ts in sorted(merged)]
            if resolution.table == ch.DIRECT_TABLE[step]:
                _overlay(out, resolution, rows_in_order, index, start, trimmed)
            else:
                _overlay_rollup(out, resolution, rows_in_order, index, start)
        return out

    def unknown_keys(self, keys: Sequence[str]) -> list[str]:
        """Those of ``keys`` this history never stored (layouts are never deleted): keys the
        host never had, so a query for one is a mistake, not a gap."""
        with self._lock:
            return self._layouts.unknown(keys)

    def key_ranges(self) -> dict[str, tuple[int, int]]:
        """key -> (first, last): epoch seconds of the oldest and newest point held, over
        every tier (coarse points are bucket starts). Keys with nothing held are absent."""
        spans: dict[int, list[int]] = {}

        def seen(layout: int, first: int, last: int) -> None:
            span = spans.setdefault(layout, [first, last])
            span[0], span[1] = min(span[0], first), max(span[1], last)

        with self._lock:
            for slot, layout, _ in self._ring.range(self._ring_start(), self._ring_end()):
                seen(layout, slot, slot)
            for rows in self._pending.values():
                for ts, layout, *_ in rows:
                    seen(layout, ts, ts)
            index = {layout: self._layouts.keys_of(layout) for layout in self._layouts.ids()}
            known = self._layouts.all_keys()
        for layout, first, last in self._store.layout_spans():
            seen(layout, first, last)
        rows: dict[str, tuple[int, int]] = {}
        for layout, (first, last) in spans.items():
            for key in index.get(layout, ()):
                held = rows.get(key)
                rows[key] = (first, last) if held is None else (
                    min(held[0], first), max(held[1], last))  # fmt: skip
        chunked = self._store.key_extents(sorted(known), need_last=known - set(rows))
        ranges = dict(rows)
        for key, (first, last) in chunked.items():
            held = ranges.get(key)
            if held is None:
                if first is not None and last is not None:
                    ranges[key] = (first, last)
                continue
            ranges[key] = (held[0] if first is None else min(held[0], first), held[1])
        return ranges

    def _ring_start(self) -> int:
        return -1 if self._last_slot is None else self._last_slot + 1 - self._ring.size

    def _ring_end(self) -> int:
        return -1 if self._last_slot is None else self._last_slot + 1

    def recent(self, keys: Sequence[str], seconds: int = 300) -> dict:
        """The last ``seconds`` at 1 s: what a browser draws when it connects."""
        return self.query(keys, -seconds, step=1)


def _floats(blob: bytes) -> array:
    values = array("f")
    values.frombytes(blob)
    return values


def _source(tier: Tier, out: int, since: float, now: float) -> Resolution:
    """The coarsest stored resolution that makes the buckets of ``out`` exactly (its step
    divides it) and still holds ``since``; the tier's own at worst."""
    for resolution in reversed(ch.RESOLUTIONS):
        step = resolution.step
        if step < tier.step or out % step or since < now - resolution.span - step:
            continue
        return resolution
    return ch.BY_STEP[tier.step]


def _overlay(
    out: dict[str, Dense], resolution: Resolution, rows, index, start: int, trimmed: dict
) -> None:
    """Rows of the resolution's own table replace what the chunks hold for their bucket;
    ``trimmed``: rows already trimmed (by bucket start), used as they are."""
    n = len(next(iter(out.values()))[0]) if out else 0
    step = resolution.step
    for key, dense in out.items():
        slots, parts = [], ([], [], [])
        for ts, layout, avg, low, high in rows:
            i = index[layout].get(key)
            slot = (ts - start) // step
            if i is None or not 0 <= slot < n:
                continue
            ready = trimmed.get(ts)
            if ready is not None and ready[0] == layout:
                dense[0][slot], dense[1][slot], dense[2][slot] = (
                    ready[1][i],
                    ready[2][i],
                    ready[3][i],
                )
                continue
            slots.append(slot)
            parts[0].append(avg[i])
            parts[1].append(low[i])
            parts[2].append(high[i])
        if not slots:
            continue
        for dest, values in zip(dense, parts, strict=True):
            if resolution.exact:  # the chunk's values are trimmed: these must be too
                values = trim_values(values)
            for slot, value in zip(slots, values, strict=True):
                dest[slot] = value


def _overlay_rollup(out: dict[str, Dense], resolution: Resolution, rows, index, start: int) -> None:
    """1 min rows not yet rolled up: folded into the rollup's buckets the chunks leave empty
    (the hour after the seal line, or a file whose rows are still being moved)."""
    step = resolution.step
    first = rows[0][0] - (rows[0][0] - start) % step
    last = rows[-1][0] - (rows[-1][0] - start) % step + step
    k = step // ch.R60.step
    width = (last - first) // ch.R60.step
    offset = (first - start) // step
    for key, dense in out.items():
        fine = ([NAN] * width, [NAN] * width, [NAN] * width)
        seen = False
        for ts, layout, avg, low, high in rows:
            i = index[layout].get(key)
            if i is None or avg[i] != avg[i]:
                continue
            j = (ts - first) // ch.R60.step
            fine[0][j], fine[1][j], fine[2][j] = avg[i], low[i], high[i]
            seen = True
        if not seen:
            continue
        folded = fold(*fine, k)
        for j in range(len(folded[0])):
            slot = offset + j
            if 0 <= slot < len(dense[0]) and dense[0][slot] != dense[0][slot]:
                ch.place(resolution, dense, slot, folded[0][j], folded[1][j], folded[2][j])
