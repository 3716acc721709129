"""Fan-out at scale: N live viewers on one `hostpulse serve`, measured. Prints a table.

For each N a fresh server starts on a loopback port; N viewers connect (a ramp), then a steady
window is measured. A viewer is a minimal asyncio websocket client (stdlib only, masking
included) that speaks Engine.IO v4 / Socket.IO v5 through ``support.Wire``, the handshake the
tests use. Load viewers are spread over several processes; ~20 probe viewers live in a process
of their own and measure the delay from a sample's ``ts`` to its receipt, so that a busy load
process's own latency is not blamed on the server. ``--stalled 0.05`` makes 5% of the load
viewers stop reading right after their hello (small SO_RCVBUF, reading paused: a stalled TCP
peer); they open the processes panel first, so their frames are large. Every run stops by
itself; asserts nothing.

``--workers K …`` measures one host's viewers spread over K processes instead: a real
redis-server on a free loopback port, one ``hostpulse agent --redis`` sampling this machine,
K ``hostpulse serve --redis`` workers and Debian's nginx running the shipped site rendered for
those K upstreams (``ip_hash``). Viewers connect through nginx, each from its own client
address 127.0.X.Y (X over 256 networks, since ip_hash keys on three octets), so they spread
as clients from many networks would.

    .venv/bin/python benchmarks/viewers.py                 # N = 1 100 1000 2000 5000, 30 s each
    .venv/bin/python benchmarks/viewers.py --quick         # smoke run: N = 1 100 1000, 5 s
    .venv/bin/python benchmarks/viewers.py -n 1000 --stalled 0.05 --window 40
    .venv/bin/python benchmarks/viewers.py --workers 1 2 -n 5000   # K = 1 and 2 workers
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import json
import math
import multiprocessing as mp
import os
import resource
import socket
import statistics
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from redis_support import Agent, RedisServer
from support import SOCKETIO_PATH, Nginx, Server, Wire, get_json, http_get, shipped_nginx

SAMPLE_PREFIX = '42/live,["sample",'
HELLO_PREFIX = '42/live,["hello",'
CLK_TCK = os.sysconf("SC_CLK_TCK")
STALLED_RCVBUF = 4096
HOST_ID = "bench"  # the agent's host id in --workers mode


# --- the client: one asyncio protocol per viewer ---------------------------------------------


class Window:
    """The steady window [t0, t1) of wall-clock time that counts; shared by a process's viewers."""

    t0 = math.inf
    t1 = math.inf


@dataclass
class Crowd:
    """One viewer process's share: where its viewers connect, how many, from which addresses."""

    host: str
    port: int
    n: int
    probe: bool
    stalled: int  # the first `stalled` viewers stop reading
    concurrency: int  # connects in flight at once
    auth: dict | None = None  # the Socket.IO connect payload: what a viewer watches
    sources: list[str] | None = None  # local address of each viewer (None: the kernel's)


class Viewer(asyncio.Protocol):
    def __init__(self, host: str, port: int, probe: bool, stall: bool, auth=None) -> None:
        self.host, self.port, self.probe, self.stall = host, port, probe, stall
        self.wire = Wire("/live", auth)
        self.buf = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.hello = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.count = 0  # samples received inside the window
        self.delays: list[float] = []
        self.sizes: list[int] = []
        self.hello_size = 0
        self.answer = b""  # the HTTP status line, when it was not 101

    # asyncio callbacks
    def connection_made(self, transport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET {SOCKETIO_PATH} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def connection_lost(self, exc) -> None:
        if not self.closed.done():
            self.closed.set_result(time.time())
        if not self.hello.done():
            where = "after the upgrade" if self.upgraded else f"answer {self.answer!r}"
            self.hello.set_exception(ConnectionError(f"closed before hello, {where}"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.answer = bytes(buf[: buf.find(b"\r\n")])
                self.transport.close()
                return
            del buf[: end + 4]
            self.upgraded = True
        while len(buf) >= 2:
            length = buf[1] & 0x7F
            start = 2
            if length == 126:
                if len(buf) < 4:
                    return
                (length,) = struct.unpack_from("!H", buf, 2)
                start = 4
            elif length == 127:
                if len(buf) < 10:
                    return
                (length,) = struct.unpack_from("!Q", buf, 2)
                start = 10
            if len(buf) < start + length:
                return
            opcode = buf[0] & 0x0F
            payload = bytes(buf[start : start + length])
            del buf[: start + length]
            if opcode == 0x1:
                self.on_text(payload)
            elif opcode == 0x8:
                self.transport.close()
                return

    # the Socket.IO side
    def on_text(self, payload: bytes) -> None:
        text = payload.decode()
        if text.startswith(SAMPLE_PREFIX):
            now = time.time()
            if Window.t0 <= now < Window.t1:
                self.count += 1
                if self.probe:
                    self.sizes.append(len(payload))
                    self.delays.append(now - self.wire.event(text)[1]["ts"])
            return
        reply, _ = self.wire.on_frame(text)
        if reply is not None:
            self.send_text(reply)
        elif text.startswith(HELLO_PREFIX) and not self.hello.done():
            self.hello_size = len(payload)
            self.hello.set_result(time.time())
            if self.stall:
                # A stalled browser with the processes panel open: large frames fill the
                # socket within seconds, so the server's stall timeout is exercised.
                self.send_text(self.wire.event_frame("watch", {"panels": ["processes"]}))
                self.transport.pause_reading()

    def send_text(self, text: str) -> None:
        data = text.encode()
        assert len(data) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(data))
        self.transport.write(bytes((0x81, 0x80 | len(data))) + mask + masked)


async def open_viewer(
    crowd: Crowd, stall: bool, source: str | None, failures: list
) -> Viewer | None:
    """A viewer that got its hello, after at most five attempts (None: each attempt's error
    went into ``failures``)."""
    loop = asyncio.get_running_loop()
    host, port = crowd.host, crowd.port
    for _attempt in range(5):
        sock = socket.socket()
        if stall:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RCVBUF)
        sock.setblocking(False)
        viewer = None
        try:
            if source is not None:
                sock.bind((source, 0))
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), 10)
            _, viewer = await loop.create_connection(
                lambda: Viewer(host, port, crowd.probe, stall, crowd.auth), sock=sock
            )
            await asyncio.wait_for(asyncio.shield(viewer.hello), 30)
            return viewer
        except (OSError, TimeoutError, ConnectionError) as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            # Once a transport owns the socket only it may close it (and leave the selector).
            if viewer is not None:
                viewer.transport.abort()
                if viewer.hello.done():
                    viewer.hello.exception()  # seen: no "never retrieved" warning
                else:
                    viewer.hello.cancel()
            else:
                sock.close()
            await asyncio.sleep(0.2)
    return None


async def run_viewers(conn, crowd: Crowd) -> None:
    limit = asyncio.Semaphore(crowd.concurrency)
    failures: list[str] = []

    async def one(i: int) -> Viewer | None:
        source = crowd.sources[i] if crowd.sources else None
        async with limit:
            return await open_viewer(crowd, i < crowd.stalled, source, failures)

    opened = await asyncio.gather(*(one(i) for i in range(crowd.n)))
    viewers = [v for v in opened if v is not None]
    conn.send(("ready", len(viewers)))
    loop = asyncio.get_running_loop()
    _, Window.t0, Window.t1 = await loop.run_in_executor(None, conn.recv)
    await asyncio.sleep(max(0.0, Window.t1 - time.time()) + 0.5)
    live = [v for v in viewers if not v.stall]
    stalled_views = [v for v in viewers if v.stall]
    if stalled_views:
        # A paused transport cannot see the server hang up: read what is there, and its end.
        for v in stalled_views:
            v.transport.resume_reading()
        await asyncio.sleep(2)
    conn.send(
        {
            "viewers": len(viewers),
            "connected": sum(1 for v in viewers if not v.closed.done()),
            "counts": [v.count for v in live],
            "stalled": len(stalled_views),
            "stalled_closed": sum(1 for v in stalled_views if v.closed.done()),
            "delays": [d for v in viewers for d in v.delays],
            "sizes": [s for v in viewers for s in v.sizes],
            "hello_sizes": [v.hello_size for v in viewers],
            "failures": failures,
        }
    )
    for v in viewers:
        v.transport.abort()


def viewer_process(conn, crowd: Crowd) -> None:
    asyncio.run(run_viewers(conn, crowd))


# --- measuring the server ----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def open_fds(pid: int) -> int:
    """How many file descriptors the process holds (its sockets among them)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def scrape(server: Server) -> str:
    """The server's /metrics text; empty if it does not answer in 10 s (an overloaded worker
    is a result to report, not a reason to lose the run)."""
    try:
        return http_get(server.url + "/metrics", timeout=10)[2].decode()
    except OSError as exc:
        print(f"  {server.url}/metrics: {exc}", file=sys.stderr)
        return ""


def fanout_buckets(metrics: str) -> dict[float, float] | None:
    """Cumulative bucket counts of hostpulse_fanout_seconds (None if absent)."""
    buckets = {}
    for line in metrics.splitlines():
        if line.startswith("hostpulse_fanout_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[math.inf if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
    return buckets or None


def server_counter(metrics: str, name: str) -> float | None:
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def histogram_quantile(q: float, before: dict, after: dict) -> float | None:
    """Prometheus-style quantile of the observations between two scrapes (linear in a bucket)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0) for b in bounds]
    total = counts[-1]
    if total <= 0:
        return None
    rank, prev_bound, prev_count = q * total, 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if bound == math.inf:
                return prev_bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    return prev_bound


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def with_children(pid: int) -> list[int]:
    """A process and its children (nginx: the master and its worker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(c) for c in children.read_text().split())] if children.exists() else [pid]


# --- what the viewers connect to ---------------------------------------------------------------


@dataclass
class Stack:
    """Where viewers connect, the hostpulse processes serving them, and the helpers measured."""

    url: str
    workers: list[Server]
    helpers: dict[str, int] = field(default_factory=dict)  # name -> pid (and its children)
    auth: dict | None = None
    spread: bool = False  # viewers connect from many client networks (for ip_hash)
    nginx: Nginx | None = None

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def server_options(args, name: str) -> dict:
    env = {"HOSTPULSE_STALL_TIMEOUT": str(args.stall_timeout)} if args.stall_timeout else {}
    profile = []
    if args.cprofile is not None:
        args.cprofile.mkdir(parents=True, exist_ok=True)
        profile = ["-m", "cProfile", "-o", str(args.cprofile.resolve() / f"{name}.prof")]
    return {"extra_env": env, "python_args": profile}


@contextlib.contextmanager
def one_server(tmp: Path, args, n: int, k: None):
    """The original mode: one `hostpulse serve` sampling this machine, viewers straight on it."""
    server = Server(tmp, args.interval, **server_options(args, f"server-{n}")).start()
    try:
        time.sleep(2 * args.interval)
        yield Stack(server.url, [server])
    finally:
        server.stop()


@contextlib.contextmanager
def redis_workers(tmp: Path, args, n: int, k: int):
    """One agent sampling this machine into a real redis-server, k `serve --redis` workers and
    the shipped nginx site in front of them (ip_hash), every process on loopback."""
    with contextlib.ExitStack() as stop:
        redis = RedisServer(tmp / "redis").start()
        stop.callback(redis.stop)
        agent = Agent(tmp / "agent", redis.url(), HOST_ID, args.interval).start()
        stop.callback(agent.stop)
        workers = []
        for i in range(k):
            (tmp / f"w{i}").mkdir()
            options = server_options(args, f"worker-{k}x{n}-{i}")
            server = Server(tmp / f"w{i}", args.interval, args=["--redis", redis.url()], **options)
            workers.append(server.start())
            stop.callback(server.stop)
        for server in workers:
            wait_online(server, HOST_ID)
        # Each viewer is two connections in nginx (client and upstream), each one file, and so
        # is each connect in flight during the ramp (`--ramp` a load process). Short of
        # connections nginx closes clients that have not sent their request yet ("reusing
        # connections"). Each nginx process may hold that many, whatever their number.
        in_flight = args.ramp * (math.ceil(n / args.per_process) + 1)
        connections = 2 * (n + in_flight) + 512
        upstreams = [f"127.0.0.1:{w.port}" for w in workers]
        main = {"worker_connections": connections, "processes": args.nginx_processes}
        nginx = shipped_nginx(tmp, upstreams, main).start()
        stop.callback(nginx.stop)
        helpers = {"nginx": nginx.process.pid, "redis": redis.process.pid}
        helpers["agent"] = agent.process.pid
        yield Stack(nginx.url, workers, helpers, {"host": HOST_ID}, spread=True, nginx=nginx)


def wait_online(server: Server, host_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, body = get_json(server.url + "/api/v1/hosts")
        if any(h["id"] == host_id and h["status"] == "online" for h in body["hosts"]):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{host_id} not online at {server.url}: {server.output()}")


def source_address(i: int) -> str:
    """Viewer i's client address: nginx's ip_hash keys on the first three octets, so the
    third varies fastest (256 client networks), the fourth spreads each network's sockets."""
    return f"127.0.{i % 256}.{1 + (i // 256) % 254}"


# --- one run --------------------------------------------------------------------------------------


def measure(stack: Stack, generators: list[int]) -> dict:
    """CPU seconds of everything involved, and each worker's RSS and /metrics, right now."""
    cpu = {name: sum(map(cpu_seconds, with_children(pid))) for name, pid in stack.helpers.items()}
    cpu["generator"] = sum(map(cpu_seconds, generators))
    workers = [
        {"cpu": cpu_seconds(w.process.pid), "rss": status_kb(w.process.pid, "VmRSS"),
         "fds": open_fds(w.process.pid), "metrics": scrape(w)}
        for w in stack.workers
    ]  # fmt: skip
    return {"cpu": cpu, "workers": workers}


def crowds(stack: Stack, n: int, args) -> list[Crowd]:
    """The load processes' shares, then the probes' (the last crowd)."""
    probes = min(args.probes, n)
    load = n - probes
    procs = math.ceil(load / args.per_process) if load else 0
    shares = [load // procs + (1 if i < load % procs else 0) for i in range(procs)]
    result, first = [], 0
    for i, share in enumerate([*shares, probes]):
        probe = i == len(shares)
        sources = [source_address(j) for j in range(first, first + share)]
        result.append(
            Crowd(
                "127.0.0.1",
                stack.port,
                share,
                probe,
                0 if probe else round(share * args.stalled),
                args.ramp,
                stack.auth,
                sources if stack.spread else None,
            )
        )
        first += share
    return result


def run_case(n: int, args, k: int | None = None) -> dict:
    """A fresh server (k None) or k workers behind nginx, n viewers, one steady window."""
    start = one_server if k is None else redis_workers
    with (
        workdir(args.keep, f"n{n}" if k is None else f"k{k}-n{n}") as tmp,
        start(tmp, args, n, k) as stack,
    ):
        run = drive(stack, n, args)
    return summarize(run, n, k, args)


@contextlib.contextmanager
def workdir(keep: Path | None, name: str):
    """A temporary directory, or keep/name kept afterwards (logs to read)."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="hostpulse-bench-") as tmp:
            yield Path(tmp)
        return
    (keep / name).mkdir(parents=True)
    yield keep / name


def drive(stack: Stack, n: int, args) -> dict:
    """Ramp up n viewers, measure everything over the window; the raw figures."""
    rss_base = [status_kb(w.process.pid, "VmRSS") for w in stack.workers]
    fds_base = [open_fds(w.process.pid) for w in stack.workers]
    load_before = os.getloadavg()
    procs = []
    started = time.monotonic()
    for crowd in crowds(stack, n, args):
        parent, child = mp.Pipe()
        proc = mp.Process(target=viewer_process, args=(child, crowd), daemon=True)
        proc.start()
        procs.append((proc, parent, crowd.probe))
    connected = sum(parent.recv()[1] for _, parent, _ in procs)
    ramp = time.monotonic() - started
    time.sleep(args.settle)
    t0 = time.time()
    t1 = t0 + args.window
    generators = [p.pid for p, _, _ in procs]
    before = measure(stack, generators)
    for _, parent, _ in procs:
        parent.send(("window", t0, t1))
    time.sleep(max(0.0, t1 - time.time()))
    after = measure(stack, generators)
    results = [(parent.recv(), probe) for _, parent, probe in procs]
    rss_peak = [status_kb(w.process.pid, "VmHWM") for w in stack.workers]
    for proc, _, _ in procs:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    errors = [] if stack.nginx is None else stack.nginx.errors()
    return {
        "nginx_errors": (len(errors), errors[:5]),
        "nginx_5xx": stack.nginx and sum(s >= 500 for _, s in stack.nginx.statuses()),
        "window": t1 - t0,
        "connected": connected,
        "ramp": ramp,
        "load_processes": len(procs) - 1,
        "results": results,
        "before": before,
        "after": after,
        "rss_base": rss_base,
        "rss_peak": rss_peak,
        "fds_base": fds_base,
        "loadavg": (load_before, os.getloadavg()),
    }


def summarize(run: dict, n: int, k: int | None, args) -> dict:
    window, connected, results = run["window"], run["connected"], run["results"]
    before, after = run["before"], run["after"]
    counts = [c for r, _ in results for c in r["counts"]]
    probe = next(r for r, is_probe in results if is_probe)
    delivered = sum(counts)
    ticks = window / args.interval
    per_viewer = delivered / len(counts) if counts else 0.0
    workers = []
    for b, a, base, peak, fds in zip(
        before["workers"],
        after["workers"],
        run["rss_base"],
        run["rss_peak"],
        run["fds_base"],
        strict=True,
    ):
        # One server: per viewer connected and per update delivered, as on record; several:
        # each worker's own viewers (its gauge) and their updates.
        viewers = connected if k is None else server_counter(a["metrics"], "hostpulse_viewers")
        share = delivered if k is None else (viewers or 0) * per_viewer
        figures = worker_figures(b, a, base, peak, window, share, viewers)
        figures["fds_per_viewer"] = (a["fds"] - fds) / viewers if viewers else None
        workers.append(figures)
    return {
        "n": n,
        "k": k,
        "connected": connected,
        "at_end": sum(r["connected"] for r, _ in results),
        "ramp_s": run["ramp"],
        "load_processes": run["load_processes"],
        "window_s": window,
        "ticks": ticks,
        "upd_mean": statistics.mean(counts) / window if counts else None,
        "upd_min": min(counts) / window if counts else None,
        "delivery": delivered / (len(counts) * ticks) if counts else None,
        "sample_bytes_median": statistics.median(probe["sizes"]) if probe["sizes"] else None,
        "hello_bytes": statistics.median(probe["hello_sizes"]) if probe["hello_sizes"] else None,
        "delay_p50": pct(probe["delays"], 50),
        "delay_p99": pct(probe["delays"], 99),
        "delay_max": max(probe["delays"]) if probe["delays"] else None,
        "workers": workers,
        **{
            f"{name}_cpu_pct": 100 * (after["cpu"][name] - before["cpu"][name]) / window
            for name in before["cpu"]
        },
        "stalled": sum(r["stalled"] for r, _ in results),
        "stalled_disconnected": sum(r["stalled_closed"] for r, _ in results),
        "nginx_errors": run["nginx_errors"],
        "nginx_5xx": run["nginx_5xx"],
        "failed_attempts": collections.Counter(f for r, _ in results for f in r["failures"]),
        "loadavg_before": run["loadavg"][0],
        "loadavg_after": run["loadavg"][1],
        **(workers[0] if k is None else {}),  # one server: its figures as before
    }


def worker_figures(before, after, rss_base, rss_peak, window, delivered, viewers) -> dict:
    """One hostpulse process's share of a run (`server_*` as the single-server table names it)."""
    fan_p50 = fan_p99 = None
    buckets = fanout_buckets(before["metrics"]), fanout_buckets(after["metrics"])
    if None not in buckets:
        fan_p50 = histogram_quantile(0.5, *buckets)
        fan_p99 = histogram_quantile(0.99, *buckets)
    cpu = after["cpu"] - before["cpu"]
    return {
        "viewers": viewers,
        "fanout_p50": fan_p50,
        "fanout_p99": fan_p99,
        "server_cpu_pct": 100 * cpu / window,
        "us_per_update": 1e6 * cpu / delivered if delivered else None,
        "rss_base_mb": rss_base / 1024,
        "rss_end_mb": after["rss"] / 1024,
        "rss_peak_mb": rss_peak / 1024,
        "kb_per_viewer": (after["rss"] - rss_base) / viewers if viewers else None,
        "server_stall_cuts": server_counter(after["metrics"], "hostpulse_stalled_viewers_total"),
    }


ROWS = [
    ("viewers connected / still at end", lambda r: f"{r['connected']} / {r['at_end']}"),
    ("ramp (s), load processes", lambda r: f"{r['ramp_s']:.1f}, {r['load_processes']}"),
    ("updates/viewer/s mean / min", lambda r: f"{fmt(r['upd_mean'], 3)} / {fmt(r['upd_min'], 3)}"),
    ("delivery (received / ticks)", lambda r: pct_fmt(r["delivery"])),
    ("sample frame bytes (median)", lambda r: fmt(r["sample_bytes_median"], 0)),
    ("hello bytes", lambda r: fmt(r["hello_bytes"], 0)),
    (
        "probe delay p50 / p99 / max (ms)",
        lambda r: "/".join(ms(r[k]) for k in ("delay_p50", "delay_p99", "delay_max")),
    ),
    ("server fan-out p50 / p99 (ms)", lambda r: f"{ms(r['fanout_p50'])} / {ms(r['fanout_p99'])}"),
    ("server CPU % of a core", lambda r: fmt(r["server_cpu_pct"], 1)),
    ("server µs CPU / delivered update", lambda r: fmt(r["us_per_update"], 1)),
    ("server RSS base / end / peak (MB)", lambda r: rss_fmt(r)),
    ("server RSS per viewer (KB)", lambda r: fmt(r["kb_per_viewer"], 1)),
    ("server open files per viewer", lambda r: fmt(r["fds_per_viewer"], 2)),
    ("generator CPU % (all processes)", lambda r: fmt(r["generator_cpu_pct"], 1)),
    ("stalled viewers / found disconnected", lambda r: stalled_fmt(r)),
    ("load average before → after", lambda r: load_fmt(r)),
]


def each(r, key: str, cell) -> str:
    """One figure of every worker, in upstream order."""
    return " / ".join(cell(w[key]) for w in r["workers"])


WORKER_ROWS = [
    ROWS[0],
    ("viewers per worker (its gauge)", lambda r: each(r, "viewers", lambda v: fmt(v, 0))),
    *ROWS[1:4],
    ROWS[6],
    ("worker fan-out p99 (ms), each", lambda r: each(r, "fanout_p99", ms)),
    ("worker CPU % of a core, each", lambda r: each(r, "server_cpu_pct", lambda v: fmt(v, 1))),
    ("worker µs CPU / delivered update", lambda r: each(r, "us_per_update", lambda v: fmt(v, 1))),
    ("worker RSS end (MB), each", lambda r: each(r, "rss_end_mb", lambda v: fmt(v, 0))),
    ("nginx CPU % (master + worker)", lambda r: fmt(r["nginx_cpu_pct"], 1)),
    ("redis-server CPU %", lambda r: fmt(r["redis_cpu_pct"], 1)),
    ("agent CPU %", lambda r: fmt(r["agent_cpu_pct"], 1)),
    ("generator CPU % (all processes)", lambda r: fmt(r["generator_cpu_pct"], 1)),
    ("all of the above, % of a core", lambda r: fmt(total_cpu(r), 1)),
    ("nginx error lines / 5xx answers", lambda r: f"{r['nginx_errors'][0]} / {r['nginx_5xx']}"),
    ROWS[-1],
]


def total_cpu(r) -> float:
    helpers = sum(v for k, v in r.items() if k.endswith("_cpu_pct") and k != "server_cpu_pct")
    return helpers + sum(w["server_cpu_pct"] for w in r["workers"])


def fmt(value, places: int) -> str:
    return "–" if value is None else f"{value:.{places}f}"


def ms(value) -> str:
    return "–" if value is None else f"{1000 * value:.1f}"


def pct_fmt(value) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def rss_fmt(r) -> str:
    return f"{r['rss_base_mb']:.0f} / {r['rss_end_mb']:.0f} / {r['rss_peak_mb']:.0f}"


def stalled_fmt(r) -> str:
    if not r["stalled"]:
        return "–"
    cuts = r["server_stall_cuts"]
    by_stall = "" if cuts is None else f" ({cuts:.0f} for stalling)"
    return f"{r['stalled']} / {r['stalled_disconnected']}{by_stall}"


def load_fmt(r) -> str:
    return f"{r['loadavg_before'][0]:.2f} → {r['loadavg_after'][0]:.2f}"


def print_table(results: list[dict], args) -> None:
    print()
    print(
        f"interval {args.interval:g} s, steady window {args.window:g} s, "
        f"{args.probes} probes in their own process, ≤{args.per_process} load viewers a process"
        + (f", {100 * args.stalled:g}% of load viewers stalled" if args.stalled else "")
    )
    if args.workers:
        print(
            "one agent sampling into redis-server, K `serve --redis` workers behind the shipped"
            f" nginx site (ip_hash, worker_processes {args.nginx_processes}); viewers from"
            " 127.0.X.Y, X over 256 networks"
        )
    print()
    label = (lambda r: f"K={r['k']} N={r['n']}") if args.workers else (lambda r: str(r["n"]))
    print(f"| {'K, N' if args.workers else 'N'} | " + " | ".join(map(label, results)) + " |")
    print("|---|" + "---:|" * len(results))
    for name, cell in WORKER_ROWS if args.workers else ROWS:
        print(f"| {name} | " + " | ".join(cell(r) for r in results) + " |")
    sys.stdout.flush()


def raise_fd_limit(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 2 * n + 1024))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, nargs="+", default=None, help="viewer counts")
    parser.add_argument("--window", type=float, default=None, help="steady seconds (30)")
    parser.add_argument("--quick", action="store_true", help="N = 1 100 1000, 5 s windows")
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--per-process", type=int, default=1000, help="load viewers a process")
    parser.add_argument("--stalled", type=float, default=0.0, help="fraction that stops reading")
    parser.add_argument("--stall-timeout", type=float, default=None, help="server setting")
    parser.add_argument("--ramp", type=int, default=64, help="concurrent connects a process")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after the ramp")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--keep", type=Path, help="keep each run's logs in this new folder")
    parser.add_argument(
        "--nginx-processes",
        default="auto",
        help="nginx worker_processes in --workers mode (auto: Debian's nginx.conf)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        help="K `serve --redis` workers behind nginx, one agent (each K per N; N = 5000)",
    )
    parser.add_argument(
        "--cprofile", type=Path, help="run the server under cProfile, stats into this folder"
    )
    args = parser.parse_args()
    if args.n is None and args.workers:
        args.n = [5000]
    if args.n is None:
        args.n = [1, 100, 1000] if args.quick else [1, 100, 1000, 2000, 5000]
    if args.window is None:
        args.window = 5.0 if args.quick else 30.0
    raise_fd_limit(max(args.n))  # inherited by the server and the viewer processes
    results = []
    for n in args.n:
        for k in args.workers or [None]:
            what = f"N={n}" if k is None else f"K={k} N={n}"
            print(f"{what}: ramp, then {args.window:g} s steady …", file=sys.stderr, flush=True)
            results.append(run_case(n, args, k))
            for line in results[-1]["nginx_errors"][1]:
                print("  nginx:", line, file=sys.stderr)
            for failure, count in results[-1]["failed_attempts"].most_common(5):
                print(f"  {count} connect attempts failed: {failure}", file=sys.stderr)
    print_table(results, args)
    if args.json:
        saved = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        args.json.write_text(json.dumps({"args": saved, "results": results}))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
