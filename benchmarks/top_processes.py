"""What the top-process table kept with the history costs (docs/HISTORY.md, "Process tables").

1. CPU: one read of the table (collect/topprocs.py: every process's /proc/<pid>/stat, the
   owner and command line of the ~20 selected) measured with time.process_time over many
   reads, at this machine's process count and again with ``--spawn`` idle `sleep` processes
   more (500 by default; killed at the end). The table is read every 10 s, so its share of
   a core is the per-read time / 10 s.
2. Storage: a history file filled with 30 days of tables (the 1-minute tier, 43,200 tables)
   and 24 hours of 10 s tables (8,640), each 20 rows drawn from a generated host of 500
   processes with realistic command lines, written through ProcessHistory's own writer;
   the file size is measured, not extrapolated. Then the cost of ``at()`` on that file.

Usage: ``.venv/bin/python benchmarks/top_processes.py [--reads 200] [--gap 0.05]
[--spawn 500] [--days 30] [--cmd-max 120] [--storage-only]``
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hostpulse.collect.topprocs import TopProcesses
from hostpulse.history.processes import ProcessHistory, ProcessMoment, encode

PERIOD = 10.0

PROGRAMS = [
    "/usr/lib/jvm/java-17-openjdk-amd64/bin/java -Xms2g -Xmx8g -XX:+UseG1GC "
    "-Dlog4j.configurationFile=/etc/app/log4j2.xml -cp /opt/app/lib/*:/opt/app/conf "
    "com.example.billing.Main --spring.profiles.active=prod",
    "/usr/bin/python3 /srv/shop/.venv/bin/gunicorn shop.wsgi:application --workers 8 "
    "--bind 127.0.0.1:8000 --timeout 60 --access-logfile -",
    "postgres: 15/main: shop shop 10.0.0.{n}(5{n}12) SELECT",
    "postgres: 15/main: checkpointer",
    "postgres: 15/main: autovacuum worker shop",
    "nginx: worker process",
    "/usr/sbin/mysqld --basedir=/usr --datadir=/var/lib/mysql --plugin-dir=/usr/lib/mysql/plugin",
    "node /srv/frontend/node_modules/.bin/next start -p 30{n}",
    "/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock",
    "/usr/bin/containerd-shim-runc-v2 -namespace moby -id {h} "
    "-address /run/containerd/containerd.sock",
    "/opt/google/chrome/chrome --type=renderer --crashpad-handler-pid={n} --enable-crash-reporter"
    " --field-trial-handle={h} --lang=en-US --num-raster-threads=4 --renderer-client-id={n}",
    "/usr/bin/redis-server 127.0.0.1:6379",
    "sshd: deploy@pts/{n}",
    "-bash",
    "/usr/lib/systemd/systemd-journald",
    "/usr/bin/prometheus --config.file=/etc/prometheus/prometheus.yml "
    "--storage.tsdb.path=/var/lib/prometheus --storage.tsdb.retention.time=30d",
    "/usr/local/bin/celery -A shop worker -l info -Q default,emails --concurrency=4 -n w{n}@%h",
    "python3 manage.py runserver 0.0.0.0:8000",
    "pg_dump -Fc -f /backup/shop-{h}.dump shop",
    "rsync -a --delete /srv/media/ backup@10.0.0.{n}:/srv/media/",
    "[kworker/{n}:1-events]",
    "/usr/bin/ffmpeg -i /srv/uploads/{h}.mov -c:v libx264 -preset medium -crf 23 /srv/out/{h}.mp4",
]
USERS = ["root", "postgres", "www-data", "deploy", "mysql", "redis", "prometheus", "nobody"]


# --- 1. CPU per read ---------------------------------------------------------------------


def cpu_per_read(reads: int, gap: float) -> float:
    """CPU ms per read (process_time around each read only), averaged over ``reads`` reads
    ``gap`` s apart: CPU deltas over a real window keep the selection (and its cached owners
    and command lines) about as stable as every 10 s."""
    top = TopProcesses()
    top.read_now()  # the baseline
    spent = 0.0
    for _ in range(reads):
        time.sleep(gap)
        start = time.process_time()
        top.read_now()
        spent += time.process_time() - start
    return 1000 * spent / reads


def processes_now() -> int:
    return sum(1 for e in os.listdir("/proc") if e.isdigit())


def spawn_idle(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen(["sleep", "600"]) for _ in range(n)]


def kill_all(children: list[subprocess.Popen]) -> None:
    for child in children:
        child.kill()
    for child in children:
        child.wait()


# --- 2. storage ------------------------------------------------------------------------------


def fleet(rng: random.Random, n: int, cmd_max: int) -> list[dict]:
    """A host's ``n`` processes as the collector would show them."""
    procs = []
    for i in range(n):
        text = rng.choice(PROGRAMS).format(n=rng.randrange(1, 64), h=f"{rng.getrandbits(64):016x}")
        name = os.path.basename(text.split()[0]).strip("[]-:")[:15]
        cmd = text if len(text) <= cmd_max else text[: cmd_max - 1] + "…"
        procs.append({"pid": 300 + i * 7 + rng.randrange(7), "name": name,
                      "user": rng.choice(USERS), "cmd": cmd})  # fmt: skip
    return procs


def table(rng: random.Random, procs: list[dict], ts: float) -> ProcessMoment:
    """20 rows: 10 busy and 10 large processes of the host, realistic numbers."""
    rows = []
    for p in rng.sample(procs, 20):
        cpu = round(
            rng.choice([0.0, 0.1, 0.3, 1.2, 4.7, 12.5, 38.9, 99.8, 187.3]) * rng.random(), 2
        )
        rows.append({**p, "cpu": cpu, "rss": rng.randrange(2, 4000) << 20})
    return ProcessMoment.of(ts, rows)


def fill(path: Path, days: int, cmd_max: int, processes: int) -> dict[str, float]:
    rng = random.Random(16)
    procs = fleet(rng, processes, cmd_max)
    now = time.time() // 60 * 60
    store = ProcessHistory(path, background=False, clock=lambda: now)
    started = time.process_time()
    raw = packed = 0
    minutes, batch = days * 1440, []
    for i in range(minutes):  # the 1-minute tier: 30 days, a table a minute
        start = now - (minutes - i) * 60
        m = table(rng, procs, start + 7.3)
        blob = encode(m)
        raw += len(str(m.rows))
        packed += len(blob)
        batch.append((int(start), round(m.ts * 1000), blob))
        if len(batch) == 1440:
            store.write([], batch)
            batch = []
    store.write([], batch)
    tens = [table(rng, procs, now - 86400 + 10 * i + 0.5) for i in range(8640)]
    for i in range(0, len(tens), 360):
        store.write([(round(m.ts * 1000), encode(m)) for m in tens[i : i + 360]], [])
    fill_s = time.process_time() - started
    store.close()
    size = sum(os.path.getsize(f"{path}{s}") for s in ("", "-wal") if os.path.exists(f"{path}{s}"))
    reopened = ProcessHistory(path, background=False, clock=lambda: now)
    asks = [now - rng.uniform(0, days * 86400) for _ in range(2000)]
    started = time.perf_counter()
    found = sum(reopened.at(ts) is not None for ts in asks)
    at_ms = 1000 * (time.perf_counter() - started) / len(asks)
    reopened.close()
    return {
        "tables written": minutes + 8640,
        "bytes per table, encoded (mean)": packed / minutes,
        "file size (MiB)": size / 2**20,
        "fill CPU (s)": fill_s,
        "at() mean (ms), 2000 random times": at_ms,
        "at() found": found,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between reads")
    parser.add_argument("--spawn", type=int, default=500, help="idle processes to add (0: none)")
    parser.add_argument("--days", type=int, default=30, help="days of 1-min tables (>= 1)")
    parser.add_argument("--cmd-max", type=int, default=120, help="command length (truncated)")
    parser.add_argument("--storage-only", action="store_true")
    args = parser.parse_args()
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}"
    )
    if not args.storage_only:
        ms = cpu_per_read(args.reads, args.gap)
        n = processes_now()
        print(f"{'processes':<44}{'CPU ms/read':>12}{'% of a core at 10 s':>22}")
        print(f"{n:<44}{ms:>12.3f}{100 * ms / 1000 / PERIOD:>21.4f}%")
        if args.spawn:
            children = spawn_idle(args.spawn)
            try:
                time.sleep(0.5)
                ms = cpu_per_read(args.reads, args.gap)
                n = processes_now()
            finally:
                kill_all(children)
            print(f"{n:<44}{ms:>12.3f}{100 * ms / 1000 / PERIOD:>21.4f}%")
    with tempfile.TemporaryDirectory() as tmp:
        figures = fill(Path(tmp) / "history.sqlite", args.days, args.cmd_max, 500)
    print(f"\nstorage: {args.days} d of 1-min tables + 24 h of 10 s tables, 20 rows each, "
          f"from 500 processes, commands cut at {args.cmd_max}")  # fmt: skip
    for name, value in figures.items():
        print(f"{name:<44}{value:>12.3f}" if isinstance(value, float) else f"{name:<44}{value:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
