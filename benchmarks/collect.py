"""How much one tick costs: per collector, whole sample with and without processes, and the
worker's CPU share at a 1 s interval. Prints a table; asserts nothing.

    make bench-collect            # or: python benchmarks/collect.py --ticks 300 --cpu-seconds 60
    python benchmarks/collect.py --gpu-only   # the GPU readers per GPU, and the whole sample

The GPU rows are CPU time (the machine may be shared): the NVML reader against the stub of
tests/gpu_fakes.py (the reader's own cost: a real NVML call adds the driver's, measured where
a GPU is present), and the sysfs readers against a fake AMD and Intel tree on disk.

With ``--containers 1 10 100`` it also starts that many busybox ``sleep`` containers in a
Podman of its own (tests/podman_support.py: its own storage, names hp13-bench-*, all removed
at the end) and measures the containers collector per container per tick, and the whole
sample without processes with 10 of them. CPU time (process_time), not wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import gpu_fakes
from hostpulse.collect import host as host_facts
from hostpulse.collect import registry
from hostpulse.collect.battery import BatteryCollector
from hostpulse.collect.containers import ContainerCollector
from hostpulse.collect.gpu import GpuCollector
from hostpulse.collect.gpu_nvml import NvmlGpus
from hostpulse.collect.gpu_sysfs import DrmGpus
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


def cpu_per_call(call, n: int, batch: int = 100) -> list[float]:
    """CPU µs (this thread's) per call: n calls in batches, one figure per batch."""
    out = []
    for _ in range(max(1, n // batch)):
        t0 = time.thread_time()
        for _ in range(batch):
            call()
        out.append((time.thread_time() - t0) * 1e6 / batch)
    return out


def gpu_rows(n: int) -> list[str]:
    """The GPU readers' CPU time per tick for one GPU (two GPUs, halved, for NVML)."""
    rows = []
    stub = GpuCollector([NvmlGpus(nvml=gpu_fakes.StubNvml([gpu_fakes.StubGpu()] * 2))])
    stub.read()
    per_two = cpu_per_call(stub.read, n * 10)
    rows.append(row("gpu NVML reader, stub, per GPU", [us / 2 for us in per_two]))
    real = GpuCollector([NvmlGpus()])
    real.read()
    count = len(real.read().tables.get("gpus", {}))
    if count:
        per = cpu_per_call(real.read, n, batch=10)
        rows.append(row(f"gpu NVML real, per GPU ({count})", [us / count for us in per]))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        gpu_fakes.amd_card(root / "amd", 0)
        gpu_fakes.intel_igpu(root / "intel", 0)
        for name in ("amd", "intel"):
            collector = GpuCollector([DrmGpus(str(root / name))])
            collector.read()
            rows.append(
                row(f"gpu sysfs {name}, fake tree, 1 GPU", cpu_per_call(collector.read, n * 10))
            )
    here = registry.gpu_collector()  # NVML (if installed) and sysfs, as serve runs them
    found = len(here.read().tables["gpus"])
    rows.append(row(f"gpu collector, this host ({found} GPUs)", cpu_per_call(here.read, n * 10)))
    battery = BatteryCollector()
    battery.read()
    rows.append(row("battery collector, this host", cpu_per_call(battery.read, n * 10)))
    return rows


def whole_sample_cpu(n: int, pause: float, skip: tuple[str, ...] = ()) -> list[float]:
    """CPU µs of the process per tick, no processes (statfs runs in threads: process time);
    ``skip``: collectors left out, to see what they add."""
    collectors = [c for c in registry.default_collectors() if c.name not in skip]
    sampler = Sampler(collectors, read_facts=host_facts.FactsReader().read)
    sampler.tick()
    out = []
    for _ in range(n):
        t0 = time.process_time()
        sampler.tick()
        out.append((time.process_time() - t0) * 1e6)
        time.sleep(pause)
    return out


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


def cpu_calls(call, n: int, pause: float) -> list[float]:
    """CPU microseconds per call (user + system of this thread: the containers collector's
    engine thread is measured apart), n calls."""
    out = []
    for _ in range(n):
        t0 = time.thread_time()
        call()
        out.append((time.thread_time() - t0) * 1e6)
        if pause:
            time.sleep(pause)
    return out


def containers_rows(counts: list[int], n: int, pause: float) -> list[str]:
    from podman_support import Podman, podman_missing

    missing = podman_missing()
    if missing:
        return [f"containers: skipped ({missing})"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="hp13-bench-") as tmp:
        podman = Podman(Path(tmp))
        try:
            socket_path = podman.start_service()
            running = 0
            for count in sorted(counts):
                started = time.monotonic()
                while running < count:
                    podman.run(f"bench-{running}", "exec sleep 3600")
                    running += 1
                print(f"  {count} containers running ({time.monotonic() - started:.0f} s to start)",
                      file=sys.stderr)  # fmt: skip
                collector = ContainerCollector(socket_path)
                try:
                    first = cpu_calls(collector.refresh_once, 1, 0)  # every container inspected
                    rows.append(row(f"CPU: {count} ctrs, engine ask, inspecting", first))
                    asks = cpu_calls(collector.refresh_once, 5, 0)  # the list only (5 s)
                    rows.append(row(f"CPU: {count} ctrs, engine ask, list only", asks))
                    collector.read()
                    followed = len(collector._entries)
                    us = cpu_calls(collector.read, n, pause)
                    per = [u / max(followed, 1) for u in us]
                    rows.append(row(f"CPU: {followed} containers, per container", per))
                    rows.append(row(f"CPU: {followed} containers, collector", us))
                    if count == 10:
                        without = whole_with(None, n, pause)
                        rows.append(row("CPU: whole sample, no processes", without))
                        with_ten = whole_with(collector, n, pause)
                        rows.append(row("CPU: same, with 10 containers", with_ten))
                finally:
                    collector.close()
        finally:
            podman.close()
    return rows


def whole_with(collector, n: int, pause: float) -> list[float]:
    """CPU µs of a whole tick without processes, with ``collector`` (None: without it)."""
    extra = [] if collector is None else [collector]
    sampler = Sampler(
        [*registry.default_collectors(), *extra], read_facts=host_facts.FactsReader().read
    )
    sampler.tick()
    return cpu_calls(sampler.tick, n, pause)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=300, help="reads per measurement (>= 200)")
    parser.add_argument("--pause", type=float, default=0.01, help="seconds between reads")
    parser.add_argument("--cpu-seconds", type=float, default=60, help="worker CPU window")
    parser.add_argument("--gpu-only", action="store_true", help="GPU readers and whole sample")
    parser.add_argument(
        "--containers", type=int, nargs="*", default=[], help="numbers of containers to measure"
    )
    args = parser.parse_args()

    print(
        f"hostpulse collect benchmark — {os.cpu_count()} cores, {len(os.listdir('/proc'))} "
        f"/proc entries, python {sys.version.split()[0]}, {args.ticks} ticks\n"
    )
    print("| what                               | median µs  | p95 µs     |")
    print("|------------------------------------|-----------:|-----------:|")
    for line in gpu_rows(args.ticks):
        print(line)
    print(row("whole sample, no processes, CPU", whole_sample_cpu(args.ticks, args.pause)))
    without = whole_sample_cpu(args.ticks, args.pause, skip=("gpus", "battery"))
    print(row("  the same without gpus, battery", without))
    if args.gpu_only:
        return 0
    for line in per_collector(args.ticks, args.pause):
        print(line)
    print(row("whole sample, no processes", whole_sample(args.ticks, args.pause, False)))
    print(row("whole sample, with processes", whole_sample(args.ticks, args.pause, True)))
    if args.containers:
        for line in containers_rows(args.containers, args.ticks, args.pause):
            print(line)
    if args.cpu_seconds > 0:
        percent, ticks = worker_cpu(args.cpu_seconds)
        print(
            f"\nworker at 1 s interval, no processes, SQLite history: {percent:.2f} % of one "
            f"core over {args.cpu_seconds:g} s ({ticks} ticks)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
