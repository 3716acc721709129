"""How much one tick costs: per collector, whole sample with and without processes, and the
worker's CPU share at a 1 s interval. Prints a table; asserts nothing.

    make bench-collect            # or: python benchmarks/collect.py --ticks 300 --cpu-seconds 60
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hostpulse.collect import host as host_facts
from hostpulse.collect import registry
from hostpulse.history import History
from hostpulse.sampler import Sampler


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def time_calls(call, n: int, pause: float) -> list[float]:
    """Microseconds per call, n calls, with a pause between (counters must move)."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1e6)
        if pause:
            time.sleep(pause)
    return out


def row(name: str, us: list[float]) -> str:
    return f"| {name:<34} | {statistics.median(us):>10.0f} | {percentile(us, 95):>10.0f} |"


def per_collector(n: int, pause: float) -> list[str]:
    rows = []
    for collector in [*registry.default_collectors(), registry.process_collector()]:
        collector.read()  # warm caches (mount table, hwmon discovery, uid names)
        rows.append(row(f"collector {collector.name}", time_calls(collector.read, n, pause)))
    rows.append(row("host facts (every 30 s)", time_calls(host_facts.FactsReader().read, 20, 0)))
    return rows


def whole_sample(n: int, pause: float, processes: bool) -> list[float]:
    sampler = Sampler(
        registry.default_collectors(),
        on_demand=[registry.process_collector()],
        read_facts=host_facts.FactsReader().read,
    )
    if processes:
        sampler.want("processes", "bench")
    sampler.tick()
    return time_calls(sampler.tick, n, pause)


def worker_cpu(seconds: float) -> tuple[float, float]:
    """CPU % of one core used by the sampler (with SQLite history) ticking at 1 s."""
    with tempfile.TemporaryDirectory() as tmp:
        history = History(Path(tmp) / "history.sqlite")
        sampler = Sampler(
            registry.default_collectors(), interval=1.0, read_facts=host_facts.FactsReader().read
        )
        sampler.subscribe(history.add)
        cpu0, wall0 = time.process_time(), time.monotonic()
        sampler.start()
        time.sleep(seconds)
        sampler.stop()
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        history.close()
    return 100 * cpu / wall, sampler.stats.ticks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=300, help="reads per measurement (>= 200)")
    parser.add_argument("--pause", type=float, default=0.01, help="seconds between reads")
    parser.add_argument("--cpu-seconds", type=float, default=60, help="worker CPU window")
    args = parser.parse_args()

    print(
        f"hostpulse collect benchmark — {os.cpu_count()} cores, {len(os.listdir('/proc'))} "
        f"/proc entries, python {sys.version.split()[0]}, {args.ticks} ticks\n"
    )
    print("| what                               | median µs  | p95 µs     |")
    print("|------------------------------------|-----------:|-----------:|")
    for line in per_collector(args.ticks, args.pause):
        print(line)
    print(row("whole sample, no processes", whole_sample(args.ticks, args.pause, False)))
    print(row("whole sample, with processes", whole_sample(args.ticks, args.pause, True)))
    if args.cpu_seconds > 0:
        percent, ticks = worker_cpu(args.cpu_seconds)
        print(
            f"\nworker at 1 s interval, no processes, SQLite history: {percent:.2f} % of one "
            f"core over {args.cpu_seconds:g} s ({ticks} ticks)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
