"""Redis transport benchmark: streams (the product) vs pub/sub, side by side.

Prints numbers, asserts nothing, stops by itself. For each mode a fresh redis-server on a
free loopback port; P host ids publish a real sample (this machine's, encoded by
``remote/wire.py``) once a second from a few publisher processes (one connection per host,
no thread per host, so the publishers' own GIL does not add to the delay); R reader
processes play the workers.

- ``stream``: the product. Each sample goes through the real ``Publisher`` round (lease
  EVAL, then one pipeline: XADD MAXLEN ~300, ZADD hosts); the readers issue the reader's
  commands (ZRANGE discovery every 2 s, XREVRANGE backfill, one XREAD BLOCK 1000 COUNT 1000
  over every stream, then the reader's pause, ``reader.read_pause``: 0.2 ms a stream, at
  most 100 ms, after a read that returned something, so one XREAD, which names every
  stream, carries many samples). Streams are filled to MAXLEN first: steady-state memory.
- ``stream-unpaced``: the same with no pause (the reader before the pause): reads back to
  back, one or two samples each.
- ``pubsub``: the same round with PUBLISH instead of XADD; each reader one PSUBSCRIBE.
- ``pubsub+stream``: PUBLISH for the live path plus XADD for a new worker's backfill (what
  pub/sub would need to keep the product's backfill).

Measured in a steady window: publish (the sample's ``ts``, taken just before encoding) →
reader decoded it, p50/p99; CPU of redis-server, of all publishers, of each reader (from
/proc/<pid>/stat); Redis used_memory and RSS. Then each reader drops its connection for
``--cut`` seconds and reconnects the way the product does: the samples it never gets are
counted (per-host ``seq`` gaps).

    flock /tmp/hostpulse-heavy.lock .venv/bin/python benchmarks/redis_transport.py --hosts 100
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import redis

from hostpulse.collect import registry
from hostpulse.remote import wire
from hostpulse.remote.client import make_client
from hostpulse.remote.publisher import Publisher
from hostpulse.remote.reader import BLOCK_MS, DISCOVER_EVERY, READ_COUNT, read_pause
from hostpulse.sample import Sample
from hostpulse.sampler import Sampler
from redis_support import RedisServer

MODES = ("stream", "stream-unpaced", "pubsub", "pubsub+stream")
MAXLEN = 300
TICKS = os.sysconf("SC_CLK_TCK")
MIB = 2**20


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def real_values() -> dict:
    """One real sample of this machine (two ticks, so rates are there)."""
    sampler = Sampler(registry.default_collectors(), interval=1.0)
    sampler.tick()
    time.sleep(1)
    return dict(sampler.tick().values)


def host_ids(count: int) -> list[str]:
    return [f"bench-{i:04d}" for i in range(count)]


# --- publishers ----------------------------------------------------------------------------


def pubsub_round(pub: Publisher, client: redis.Redis, sample: Sample, with_stream: bool) -> None:
    """The Publisher's round (publisher.py ``_round``) with PUBLISH as the live path."""
    if not pub._hold_lease(client):
        return
    entry = wire.encode_sample(sample, pub.run)
    pipe = client.pipeline(transaction=False)
    pipe.publish(wire.stream_key(pub.host_id), entry["d"])
    if with_stream:
        pipe.xadd(wire.stream_key(pub.host_id), entry, maxlen=pub.maxlen, approximate=True)
    pipe.zadd(wire.HOSTS, {pub.host_id: time.time()})
    pipe.execute()


def publish(url: str, mode: str, ids: list[str], values: dict, start: float, end: float) -> None:
    """Each host once a second at its own phase, until ``end``; one process, one thread."""
    pubs = [Publisher(url, h, interval=1.0, maxlen=MAXLEN) for h in ids]
    clients = [make_client(url) for _ in pubs]
    for pub, client in zip(pubs, clients, strict=True):
        pub._client = client  # the stream mode runs the real round on this connection
        pub.connected = True
    # Hosts evenly spread over the second (each publisher process the same way).
    phases = [i / len(pubs) for i in range(len(pubs))]
    slot = 0
    while start + slot < end:
        for pub, client, phase in zip(pubs, clients, phases, strict=True):
            time.sleep(max(0.0, start + slot + phase - time.time()))
            sample = Sample(slot, time.time(), values)
            if mode.startswith("stream"):
                pub.on_sample(sample)
                pub._round()
            else:
                pubsub_round(pub, client, sample, with_stream=mode == "pubsub+stream")
        slot += 1


def prefill(url: str, ids: list[str], values: dict) -> None:
    """Every stream at MAXLEN, as after five minutes of running."""
    client = redis.Redis.from_url(url)
    entry = wire.encode_sample(Sample(-1, time.time() - 3600, values), "prefill")
    for host_id in ids:
        pipe = client.pipeline(transaction=False)
        for _ in range(MAXLEN):
            pipe.xadd(wire.stream_key(host_id), entry, maxlen=MAXLEN, approximate=True)
        pipe.zadd(wire.HOSTS, {host_id: time.time()})
        pipe.execute()


# --- readers -------------------------------------------------------------------------------


class Record:
    """What one reader saw: delays in the steady window, seqs per host from then on."""

    def __init__(self, steady: float, cut: float) -> None:
        self.steady, self.cut = steady, cut
        self.delays: list[float] = []
        self.seqs: dict[str, set[int]] = {}

    def add(self, host_id: str, fields: dict) -> None:
        now = time.time()
        decoded = wire.decode(fields)
        if decoded is None or decoded[0] != "s":
            return
        sample = decoded[1]
        if sample.ts < self.steady:
            return
        if sample.ts < self.cut:
            self.delays.append(now - sample.ts)
        self.seqs.setdefault(host_id, set()).add(sample.seq)

    def missed(self, last_slot: int) -> int:
        return sum(
            last_slot + 1 - min(s) - sum(1 for q in s if q <= last_slot) for s in self.seqs.values()
        )


class StreamReader:
    """The commands of remote/reader.py: discovery, backfill, one XREAD over all streams."""

    def __init__(self, url: str, paced: bool) -> None:
        self.url = url
        self.paced = paced
        self.client = make_client(url)
        self.last_ids: dict[str, str] = {}
        self.discovered = -1e9

    def step(self, record: Record) -> None:
        if time.monotonic() - self.discovered >= DISCOVER_EVERY:
            for raw in self.client.zrange(wire.HOSTS, 0, -1):
                host_id = raw.decode()
                if host_id not in self.last_ids:
                    backfill = self.client.xrevrange(wire.stream_key(host_id), count=MAXLEN)
                    for _, fields in reversed(backfill):
                        wire.decode(fields)  # the reader decodes its backfill into history
                    self.last_ids[host_id] = backfill[0][0].decode() if backfill else "0-0"
            self.discovered = time.monotonic()
        if not self.last_ids:
            time.sleep(0.5)  # as the reader does before the first host appears
            return
        streams = {wire.stream_key(h): last for h, last in self.last_ids.items()}
        prefix = len(wire.stream_key(""))
        answer = self.client.xread(streams, count=READ_COUNT, block=BLOCK_MS)
        for key, entries in answer or ():
            host_id = key.decode()[prefix:]
            for entry_id, fields in entries:
                self.last_ids[host_id] = entry_id.decode()
                record.add(host_id, fields)
        if answer and self.paced:
            time.sleep(read_pause(len(streams)))

    def drop(self) -> None:
        self.client.close()

    def reconnect(self) -> None:
        # The reader keeps its last ids across a reconnect: it resumes where it was.
        self.client = make_client(self.url)
        self.discovered = -1e9


class PubSubReader:
    def __init__(self, url: str) -> None:
        self.url = url
        self.reconnect()

    def reconnect(self) -> None:
        self.pubsub = make_client(self.url).pubsub(ignore_subscribe_messages=True)
        self.pubsub.psubscribe(wire.stream_key("*"))

    def step(self, record: Record) -> None:
        message = self.pubsub.get_message(timeout=BLOCK_MS / 1000)
        if message is not None and message["type"] == "pmessage":
            host_id = message["channel"].decode()[len(wire.stream_key("")) :]
            record.add(host_id, {b"t": b"s", b"d": message["data"]})

    def drop(self) -> None:
        self.pubsub.close()


def read(url: str, mode: str, times: dict, cut: float, out) -> None:
    record = Record(times["steady"], times["cut"])
    if mode.startswith("stream"):
        reader = StreamReader(url, paced=mode == "stream")
    else:
        reader = PubSubReader(url)
    dropped = False
    while time.time() < times["end"]:
        if not dropped and time.time() >= times["cut"]:
            reader.drop()
            time.sleep(cut)
            reader.reconnect()
            dropped = True
        reader.step(record)
    out.put((record.delays, record.missed(times["last_slot"])))


# --- one run -------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


def run(mode: str, args, values: dict, tmp: Path) -> dict:
    server = RedisServer(tmp / mode.replace("+", "-")).start()
    try:
        url = server.url()
        ids = host_ids(args.hosts)
        if "stream" in mode:
            prefill(url, ids, values)
        start = time.time() + 2
        steady = start + args.warmup
        cut = steady + args.seconds
        end = cut + args.cut + 5
        last_slot = int(cut + args.cut + 2 - start)  # every reader has had this one
        times = {"steady": steady, "cut": cut, "end": end, "last_slot": last_slot}
        out: mp.Queue = mp.Queue()
        readers = [
            mp.Process(target=read, args=(url, mode, times, args.cut, out))
            for _ in range(args.readers)
        ]
        groups = [ids[i :: args.pub_procs] for i in range(args.pub_procs)]
        publishers = [
            mp.Process(target=publish, args=(url, mode, g, values, start, end)) for g in groups if g
        ]
        for p in readers + publishers:
            p.start()
        time.sleep(max(0, steady - time.time()))
        pids = {"redis": [server.process.pid], "publishers": [p.pid for p in publishers]}
        pids |= {f"reader{i}": [p.pid] for i, p in enumerate(readers)}
        before = {k: sum(cpu_seconds(pid) for pid in v) for k, v in pids.items()}
        time.sleep(max(0, cut - time.time()))
        after = {k: sum(cpu_seconds(pid) for pid in v) for k, v in pids.items()}
        memory = redis.Redis.from_url(url).info("memory")
        results = [out.get(timeout=args.seconds + 120) for _ in readers]
        for p in readers + publishers:
            p.join(30)
        delays = [d for r in results for d in r[0]]
        return {
            "mode": mode,
            "load": os.getloadavg(),
            "p50": pct(delays, 50),
            "p99": pct(delays, 99),
            "n": len(delays),
            "cpu": {k: (after[k] - before[k]) / args.seconds for k in pids},
            "used": memory["used_memory"],
            "rss": memory["used_memory_rss"],
            "missed": [r[1] for r in results],
        }
    finally:
        server.stop()


def report(rows: list[dict], args) -> None:
    print(
        f"\n{args.hosts} hosts at 1 s, {args.readers} readers, {args.pub_procs} publisher "
        f"processes, {args.seconds:.0f} s steady, reader cut {args.cut:.0f} s"
    )
    print("| | " + " | ".join(r["mode"] for r in rows) + " |")
    print("|---" * (len(rows) + 1) + "|")
    lines = {
        "publish → reader p50 / p99 (ms)": lambda r: f"{r['p50'] * 1e3:.1f} / {r['p99'] * 1e3:.1f}",
        "samples measured": lambda r: str(r["n"]),
        "redis-server CPU (% of a core)": lambda r: f"{r['cpu']['redis'] * 100:.1f}",
        "publishers CPU (% of a core, all)": lambda r: f"{r['cpu']['publishers'] * 100:.1f}",
        "readers CPU (% of a core, each)": lambda r: " / ".join(
            f"{v * 100:.1f}" for k, v in r["cpu"].items() if k.startswith("reader")
        ),
        "redis used_memory / RSS (MiB)": lambda r: (
            f"{r['used'] / 2**20:.1f} / {r['rss'] / 2**20:.1f}"
        ),
        f"samples missed per reader over a {args.cut:.0f} s cut": lambda r: " / ".join(
            str(m) for m in r["missed"]
        ),
        "load average (1, 5, 15 min) after": lambda r: ", ".join(f"{x:.2f}" for x in r["load"]),
    }
    for name, cell in lines.items():
        print(f"| {name} | " + " | ".join(cell(r) for r in rows) + " |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--readers", type=int, default=2)
    ap.add_argument("--pub-procs", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=6)
    ap.add_argument("--cut", type=float, default=3)
    ap.add_argument("--modes", default=",".join(MODES))
    args = ap.parse_args()
    values = real_values()
    print(
        f"sample: {len(values)} keys, {len(wire.encode_sample(Sample(0, 0, values), 'r')['d'])} B"
    )
    tmp = Path(tempfile.mkdtemp(prefix="hp-transport-"))
    rows = [run(mode, args, values, tmp) for mode in args.modes.split(",")]
    report(rows, args)


if __name__ == "__main__":
    main()
