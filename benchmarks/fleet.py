"""Fleet benchmark (prints numbers, asserts nothing; stops by itself).

N agents (each its own host id, publishing a real-sized synthetic sample every second
through the real Publisher and its thread) into one loopback redis-server, W
`serve --redis` workers, V overview viewers (raw websockets, spread over P processes) and a
few probe viewers of one host. Reports delivery delay from the agent's `ts` to the viewer,
Redis CPU and memory, worker CPU.

The overview delay is broken into stages, joined on (host, ts): agent `ts` (sample start) →
Redis has the entry (the stream entry id is Redis' clock, in ms) → a probe reader process
following every stream the way the worker's reader does has it → the overview message built
(its `ts`) → the probe viewer received it. The agents run in ``--agent-procs`` processes
(default 4; a real agent is a process of its own). With all 100 in one process, as before,
agent `ts` → Redis measured the same (p99 4 ms): that process was not what viewers waited for.

    .venv/bin/python benchmarks/fleet.py --agents 100 --workers 2 --viewers 500 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hostpulse.remote import wire
from hostpulse.remote.client import make_client
from hostpulse.remote.publisher import Publisher
from hostpulse.remote.reader import BLOCK_MS, READ_COUNT
from hostpulse.sample import Sample
from redis_support import RedisServer
from support import Server

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def fake_values(i: int) -> dict:
    values = {f"cpu.core.{c}": random.uniform(0, 100) for c in range(4)}
    values.update({"cpu.total": random.uniform(0, 100), "mem.percent": random.uniform(20, 80)})
    values.update({f"fs./m{k}.percent": random.uniform(0, 100) for k in range(4)})
    values.update({f"fs./m{k}.used": random.uniform(1e9, 1e11) for k in range(4)})
    values.update({f"net.eth{k}.rx_bps": random.uniform(0, 1e7) for k in range(4)})
    values.update({f"net.eth{k}.tx_bps": random.uniform(0, 1e7) for k in range(4)})
    values.update({"net.total.rx_bps": 1e6, "net.total.tx_bps": 5e5, "load.1": 0.5})
    values.update({f"disk.sd{k}.read_bps": random.uniform(0, 1e7) for k in "abcdefgh"})
    values.update({f"x.pad{k}": random.uniform(0, 1e3) for k in range(20)})  # ~65 keys
    return values


def agents(url: str, ids: list[str], seconds: float, ready) -> None:
    """``ids`` published once a second each at a random phase, from this one process."""
    pubs = [Publisher(url, host_id, interval=1.0, maxlen=300) for host_id in ids]
    for host_id, p in zip(ids, pubs, strict=True):
        p.on_facts({"hostname": host_id})
        p.start()
    ready.set()
    phase = [random.random() for _ in pubs]
    start = time.time()
    seq = 0
    while time.time() - start < seconds:
        t0 = time.time()
        for p, ph in sorted(zip(pubs, phase, strict=True), key=lambda x: x[1]):
            wait = t0 + ph - time.time()
            if wait > 0:
                time.sleep(wait)
            ts = time.time()  # the sample's start, as the sampler stamps it
            p.on_sample(Sample(seq, ts, fake_values(seq)))
        seq += 1
        time.sleep(max(0, t0 + 1 - time.time()))
    for p in pubs:
        p.stop(1)


def follow(url: str, ids: list[str], seconds: float, out) -> None:
    """A probe reader: the worker reader's XREAD over every stream; when each entry was
    in Redis (its id) and here, by (host, ts)."""
    client = make_client(url)
    last = {wire.stream_key(h): "$" for h in ids}
    seen: dict[tuple[str, float], tuple[float, float]] = {}
    end = time.time() + seconds
    while time.time() < end:
        for key, entries in client.xread(last, count=READ_COUNT, block=BLOCK_MS) or ():
            now = time.time()
            key = key.decode()
            for entry_id, fields in entries:
                last[key] = entry_id.decode()
                decoded = wire.decode(fields)
                if decoded and decoded[0] == "s":
                    in_redis = int(entry_id.split(b"-")[0]) / 1000
                    seen[(key[len(wire.stream_key("")) :], decoded[1].ts)] = (in_redis, now)
    out.put(("stream", seen))


def viewers(url, count, seconds, auth, event, out, tag, measure=True) -> None:
    """``count`` viewers in threads; only ``measure`` ones parse frames (load ones drain)."""
    import websocket

    delays: list[float] = []
    lock = threading.Lock()

    def one() -> None:
        ws_url = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        try:
            ws = websocket.create_connection(ws_url, timeout=30, skip_utf8_validation=True)
            ws.recv()
            ws.send("40/live," + json.dumps(auth))
        except Exception:
            return
        prefix = f'42/live,["{event}",'
        end = time.time() + seconds
        ws.settimeout(5)
        while time.time() < end:
            try:
                frame = ws.recv()
            except Exception:
                continue
            now = time.time()
            if frame == "2":
                ws.send("3")
                continue
            if not measure or not frame.startswith(prefix):
                continue
            payload = json.loads(frame[len("42/live,") :])[1]
            if event == "overview":
                if payload.get("full"):
                    continue
                hosts = payload["hosts"].items()
                got = [(h, s["last_seen"], payload["ts"], now) for h, s in hosts if s["last_seen"]]
            else:
                got = [(now, now - payload["ts"])]
            with lock:
                delays.extend(got)
        ws.close()

    threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
        time.sleep(0.002)
    for t in threads:
        t.join(seconds + 40)
    out.put((tag, delays))


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


STAGES = (
    "agent ts -> in redis (entry id)",
    "in redis -> probe reader has it",
    "probe reader -> overview built (worker reader + tick)",
    "overview built -> viewer",
    "total",
)


def stages(overview: list[tuple], stream: dict) -> None:
    """Each overview entry's delay, stage by stage (entries the probe reader saw)."""
    rows: list[list[float]] = [[] for _ in STAGES]
    for host, ts, built, now in overview:
        if (host, ts) not in stream:
            continue
        in_redis, read = stream[(host, ts)]
        for row, value in zip(
            rows, (in_redis - ts, read - in_redis, built - read, now - built, now - ts), strict=True
        ):
            row.append(value)
    print(f"overview stages ({len(rows[0])} of {len(overview)} entries joined):")
    print("| stage | p50 ms | p90 ms | p99 ms | max ms |\n|---|---|---|---|---|")
    for name, row in zip(STAGES, rows, strict=True):
        cells = " | ".join(f"{pct(row, p) * 1000:.0f}" for p in (50, 90, 99, 100))
        print(f"| {name} | {cells} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--viewers", type=int, default=500)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--agent-procs", type=int, default=4)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hp-fleet-"))
    redis = RedisServer(tmp / "redis").start()
    workers = []
    try:
        run_for = args.seconds + 25
        ids = [f"bench-{i:03d}" for i in range(args.agents)]
        groups = [ids[i :: args.agent_procs] for i in range(args.agent_procs)]
        readies = [mp.Event() for _ in groups]
        agent_procs = [
            mp.Process(target=agents, args=(redis.url(), g, run_for, r))
            for g, r in zip(groups, readies, strict=True)
        ]
        for p in agent_procs:
            p.start()
        for r in readies:
            r.wait(30)
        for i in range(args.workers):
            (tmp / f"w{i}").mkdir()
            env = {"HOSTPULSE_MEMORY_ONLY": "true", "HOSTPULSE_LOG_LEVEL": "WARNING"}
            workers.append(
                Server(tmp / f"w{i}", 1.0, extra_env=env, args=["--redis", redis.url()]).start()
            )
        time.sleep(5)  # discovery and backfill
        out: mp.Queue = mp.Queue()
        procs = []
        per = args.viewers // args.procs
        for i in range(args.procs):
            url = workers[i % len(workers)].url
            procs.append(
                mp.Process(
                    target=viewers,
                    args=(url, per, args.seconds, {"overview": True}, "overview", out, "load"),
                    kwargs={"measure": False},
                )
            )
        # Delay is measured on a few probe viewers in processes of their own (FIELD-NOTES).
        for w in workers:
            probe = (w.url, 5, args.seconds, {"overview": True}, "overview", out, "overview")
            procs.append(mp.Process(target=viewers, args=probe))
        host_probe = (workers[0].url, 5, args.seconds, {"host": "bench-000"}, "sample", out, "host")
        procs.append(mp.Process(target=viewers, args=host_probe))
        procs.append(mp.Process(target=follow, args=(redis.url(), ids, args.seconds + 5, out)))
        for p in procs:
            p.start()
        time.sleep(5)  # connect
        r0 = cpu_seconds(redis.process.pid)
        w0 = [cpu_seconds(w.process.pid) for w in workers]
        t0 = time.time()
        time.sleep(args.seconds - 8)
        elapsed = time.time() - t0
        rcpu = (cpu_seconds(redis.process.pid) - r0) / elapsed
        wcpu = [
            (cpu_seconds(w.process.pid) - c) / elapsed for w, c in zip(workers, w0, strict=True)
        ]
        import redis as redis_py

        info = redis_py.Redis.from_url(redis.url()).info("memory")
        results = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(10)
        overview = [d for tag, r in results if tag == "overview" for d in r]
        received = [d for tag, r in results if tag == "host" for d in r]
        probe = [delay for _, delay in received]
        # While 500 viewers connect (each is sent the full overview) vs afterwards.
        connecting = [delay for at, delay in received if at < t0]
        steady = [delay for at, delay in received if at >= t0]
        stream = next(r for tag, r in results if tag == "stream")
        print(f"load average at the end: {os.getloadavg()}")
        print(
            f"agents {args.agents} at 1 s, workers {args.workers}, overview viewers "
            f"{per * args.procs} in {args.procs} processes + 5 probes per worker, "
            f"{args.seconds:.0f} s"
        )
        total = [now - ts for _, ts, _, now in overview]
        print(
            f"overview delay agent ts -> viewer: p50 {pct(total, 50) * 1000:.0f} ms, "
            f"p99 {pct(total, 99) * 1000:.0f} ms (n={len(total)}; includes the 1 s tick)"
        )
        stages(overview, stream)
        print(
            f"one-host probe viewers (sample event): p50 {pct(probe, 50) * 1000:.0f} ms, "
            f"p99 {pct(probe, 99) * 1000:.0f} ms (n={len(probe)}); while the viewers connect: "
            f"p50 {pct(connecting, 50) * 1000:.0f} ms, max {pct(connecting, 100) * 1000:.0f} ms; "
            f"after: p50 {pct(steady, 50) * 1000:.0f} ms, max {pct(steady, 100) * 1000:.0f} ms"
        )
        print(
            f"redis CPU {rcpu * 100:.1f} % of a core, used_memory "
            f"{info['used_memory'] / 2**20:.1f} MiB (rss {info['used_memory_rss'] / 2**20:.1f} MiB)"
        )
        print("worker CPU " + ", ".join(f"{c * 100:.1f} %" for c in wcpu) + " of a core")
        for p in agent_procs:
            p.join(60)
    finally:
        for w in workers:
            w.stop()
        redis.stop()


if __name__ == "__main__":
    main()
