"""Generated history for tests: 30 days written through ``hostpulse.history.History`` into
the file a real ``hostpulse serve`` then opens.

Samples go in at 5 min for the days before the last 24 h, at 10 s for the last day and at
1 s for the last hour, so every tier is as dense as it would be for real (a query never
falls between sparse points) while 30 days take seconds, not the 2.6 million adds of a
1 s month. The values follow a daily wave with one known CPU burst (``BURST_AGO``), so a
test can ask for a moment and know what the charts and the process tables there hold.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from hostpulse.history import History
from hostpulse.metrics import parse, unit_of
from hostpulse.sample import Sample

DAY = 86400
#: The burst: CPU near 95 % for two minutes, this many seconds before the seed's end.
BURST_AGO = 3 * 3600
BURST_SECONDS = 120


def real_sample() -> dict[str, float | None]:
    """What this machine's collectors read now (two ticks: rates need a previous one)."""
    from hostpulse.collect.registry import default_collectors
    from hostpulse.sampler import Sampler

    sampler = Sampler(default_collectors())
    sampler.tick()
    return dict(sampler.tick().values)


def real_keys() -> list[str]:
    """The keys this machine's collectors produce."""
    return sorted(real_sample())


def fake_cores(keys: Iterable[str], cores: int) -> list[str]:
    """``keys`` with the per-core keys replaced by ``cores`` of them (a 64-core host)."""
    rest = [k for k in keys if not k.startswith("cpu.core.")]
    return sorted(rest + [f"cpu.core.{i}" for i in range(cores)])


def profile(key: str) -> tuple[str, float, float, float]:
    """(kind, base, span, phase) of a key: how its generated values move."""
    k = parse(key)
    unit = unit_of(key)
    phase = (stable_hash(key) % 628) / 100
    if k.family == "cpu":
        if k.instance == "core":  # every fourth core takes part in the burst
            kind = "cpu-burst" if int(k.field) % 4 == 0 else "cpu"
            return kind, 10 + 50 * ((int(k.field) * 7) % 10) / 10, 0, phase
        base = {"user": 18, "system": 6, "iowait": 2, "steal": 0.5}.get(k.field, 26)
        return ("cpu-burst" if k.field in ("total", "user") else "cpu"), base, 0, phase
    if k.family == "load":
        return "load", 0, 0, phase
    if unit == "B":
        return ("bytes-total" if k.field == "total" else "bytes"), 8 * 1024**3, 0, phase
    if unit == "/s" and ("err" in k.field or "drop" in k.field):
        return "errors", 0, 0, phase
    scale = {"%": (20, 40), "B/s": (0, 2e6), "/s": (0, 300), "°C": (40, 20), "rpm": (1200, 800)}
    low, span = scale.get(unit, (0, 1))
    return ("burst-rate" if unit == "B/s" else "plain"), low, span, phase


def stable_hash(key: str) -> int:
    """A small hash that is the same in every process (Python's hash() is not)."""
    return sum((i + 1) * ord(c) for i, c in enumerate(key))


def generator(
    keys: Iterable[str], end: float, like: dict | None = None
) -> Callable[[float], dict[str, float]]:
    """ts -> {key: value}: a daily wave per key (busier by day), deterministic, with the CPU
    burst ``BURST_AGO`` before ``end``. Sizes (memory, filesystems) move around those of
    ``like`` (a real sample), so the seeded past meets the live present."""
    like = like or {}

    def sized(key: str, kind: str, base: float) -> float:
        real = like.get(key)
        return float(real) if kind.startswith("bytes") and isinstance(real, int | float) else base

    profiles = [
        (k, kind, sized(k, kind, base), span, phase)
        for k in keys
        for kind, base, span, phase in [profile(k)]
    ]
    burst_at = end - BURST_AGO
    tau = 2 * math.pi / DAY

    def values(ts: float) -> dict[str, float]:
        burst = 0 <= ts - burst_at < BURST_SECONDS
        hourly = int(ts) % 3600 < 60
        out = {}
        for key, kind, base, span, phase in profiles:
            # the day's wave, and some wobble so that five minutes are not a flat line
            wobble = 0.08 * math.sin(ts / 7.3 + phase) + 0.05 * math.sin(ts / 2.9 + 2 * phase)
            w = min(1.0, max(0.0, 0.5 + 0.45 * math.sin(tau * ts + phase) + wobble))
            if kind == "cpu":
                v = base * (0.4 + w)
            elif kind == "cpu-burst":
                v = 95.0 if burst else base * (0.4 + w)
            elif kind == "load":
                v = 0.3 + 2.5 * w + (6 if burst else 0)
            elif kind == "bytes-total":
                v = base
            elif kind == "bytes":
                v = base * (0.85 + 0.3 * w) if key in like else base * (0.1 + 0.3 * w)
            elif kind == "errors":
                v = 1.0 if hourly else 0.0
            elif kind == "burst-rate":
                v = span * w + (5e7 if burst else 0)
            else:
                v = base + span * w
            out[key] = v
        return out

    return values


#: (step, seconds before the end where it stops): 5 min beyond the last day, 10 s within
#: it, 1 s within the last hour. Past a day the page asks for steps of 10 min and more, so
#: 5 min points leave no gaps there, and 30 days take ~20,000 adds instead of 2.6 million.
STEPS = ((300, DAY), (10, 3600), (1, 0))


def schedule(end: float, days: float) -> Iterable[float]:
    """The sample times of a seed, oldest first."""
    t = float(math.ceil((end - days * DAY) / 300) * 300)
    for step, before in STEPS:
        t = math.ceil(t / step) * step
        while t < end - before:
            yield t
            t += step


def seed(
    path: Path,
    keys: Iterable[str],
    days: float = 30,
    end: float | None = None,
    values: Callable[[float], dict[str, float]] | None = None,
    like: dict | None = None,
) -> dict:
    """Write ``days`` of history of ``keys`` ending at ``end`` (default: now) into ``path``;
    figures of the run (samples, seconds of CPU)."""
    end = time.time() if end is None else end
    keys = list(keys)
    cpu = time.process_time()
    values = values or generator(keys, end, like)
    # Large batches, and retention at each (the 1 s and 10 s tiers keep only their span).
    # Batches of at most an hour of sample time (the 1 s ring must still hold a bucket's
    # rows when it is aggregated), retention at each (the 1 s and 10 s tiers keep only
    # their span).
    history = History(path, background=False, batch_seconds=3600, retention_seconds=0)
    # Moving rows into per-key chunks once per batch costs ~0.3 s each time in a seed that
    # fast-forwards a month (a live server spreads it over the month): it is done once, at
    # the end, by flush() instead.
    store_compact = history._store.compact
    history._store.compact = lambda: False
    count = 0
    for seq, ts in enumerate(schedule(end, days)):
        history.add(Sample(seq=seq, ts=ts, values=values(ts)))
        count += 1
    history._store.compact = store_compact
    history.flush()  # everything written, and moved into the chunks queries read
    history.close()
    return {"samples": count, "keys": len(keys), "cpu_s": time.process_time() - cpu}


#: The process the burst belongs to, in the seeded tables of the minutes around it.
BURST_PROCESS = "burst-job"


def process_rows(busy: bool) -> list[dict]:
    """A top-process table: three steady processes, and the burst's when ``busy``."""
    rows = [
        {
            "pid": 101,
            "name": "postgres",
            "user": "postgres",
            "cpu": 12.5,
            "rss": 300 << 20,
            "cmd": "postgres -D /var/lib/pg",
        },
        {
            "pid": 202,
            "name": "nginx",
            "user": "www-data",
            "cpu": 3.0,
            "rss": 40 << 20,
            "cmd": "nginx: worker process",
        },
        {
            "pid": 303,
            "name": "python3",
            "user": "app",
            "cpu": 8.0,
            "rss": 120 << 20,
            "cmd": "python3 -m app",
        },
    ]
    if busy:
        rows.append(
            {
                "pid": 4242,
                "name": BURST_PROCESS,
                "user": "batch",
                "cpu": 180.0,
                "rss": 900 << 20,
                "cmd": "burst-job --all",
            }
        )
    return sorted(rows, key=lambda r: -r["cpu"])


def seed_processes(path: Path, end: float, around: float = 1800) -> int:
    """Top-process tables every 10 s for ``around`` seconds either side of the burst, through
    ``ProcessHistory`` (the store issue 16's processes-at API reads); how many."""
    from hostpulse.history.processes import ProcessHistory, ProcessMoment

    burst_at = end - BURST_AGO
    store = ProcessHistory(path, background=False)
    count = 0
    t = math.floor((burst_at - around) / 10) * 10
    while t < burst_at + around:
        busy = 0 <= t - burst_at < BURST_SECONDS
        store.add(ProcessMoment.of(float(t), process_rows(busy)))
        t += 10
        count += 1
    store.close()
    return count
