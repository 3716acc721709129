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

    .venv/bin/python benchmarks/viewers.py                 # N = 1 100 1000 2000 5000, 30 s each
    .venv/bin/python benchmarks/viewers.py --quick         # smoke run: N = 1 100 1000, 5 s
    .venv/bin/python benchmarks/viewers.py -n 1000 --stalled 0.05 --window 40
"""

from __future__ import annotations

import argparse
import asyncio
import base64
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import SOCKETIO_PATH, Server, Wire, http_get

SAMPLE_PREFIX = '42/live,["sample",'
HELLO_PREFIX = '42/live,["hello",'
CLK_TCK = os.sysconf("SC_CLK_TCK")
STALLED_RCVBUF = 4096


# --- the client: one asyncio protocol per viewer ---------------------------------------------


class Window:
    """The steady window [t0, t1) of wall-clock time that counts; shared by a process's viewers."""

    t0 = math.inf
    t1 = math.inf


class Viewer(asyncio.Protocol):
    def __init__(self, host: str, port: int, probe: bool, stall: bool) -> None:
        self.host, self.port, self.probe, self.stall = host, port, probe, stall
        self.wire = Wire("/live")
        self.buf = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.hello = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.count = 0  # samples received inside the window
        self.delays: list[float] = []
        self.sizes: list[int] = []
        self.hello_size = 0

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
            self.hello.set_exception(ConnectionError("closed before hello"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
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


async def open_viewer(host: str, port: int, probe: bool, stall: bool) -> Viewer | None:
    loop = asyncio.get_running_loop()
    for _attempt in range(5):
        sock = socket.socket()
        if stall:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RCVBUF)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), 10)
            _, viewer = await loop.create_connection(
                lambda: Viewer(host, port, probe, stall), sock=sock
            )
            await asyncio.wait_for(asyncio.shield(viewer.hello), 30)
            return viewer
        except (OSError, TimeoutError, ConnectionError):
            sock.close()
            await asyncio.sleep(0.2)
    return None


async def run_viewers(conn, host, port, n, probe, stalled, concurrency) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Viewer | None:
        async with limit:
            return await open_viewer(host, port, probe, i < stalled)

    viewers = [v for v in await asyncio.gather(*(one(i) for i in range(n))) if v is not None]
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
        }
    )
    for v in viewers:
        v.transport.abort()


def viewer_process(conn, host, port, n, probe, stalled, concurrency) -> None:
    asyncio.run(run_viewers(conn, host, port, n, probe, stalled, concurrency))


# --- measuring the server ----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def fanout_buckets(url: str) -> dict[float, float] | None:
    """Cumulative bucket counts of hostpulse_fanout_seconds from /metrics (None if absent)."""
    _, _, body = http_get(url + "/metrics", timeout=10)
    buckets = {}
    for line in body.decode().splitlines():
        if line.startswith("hostpulse_fanout_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[math.inf if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
    return buckets or None


def server_counter(url: str, name: str) -> float | None:
    _, _, body = http_get(url + "/metrics", timeout=10)
    for line in body.decode().splitlines():
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


def run_case(n: int, args) -> dict:
    probes = min(args.probes, n)
    load = n - probes
    procs = math.ceil(load / args.per_process) if load else 0
    shares = [load // procs + (1 if i < load % procs else 0) for i in range(procs)]
    stalled_shares = [round(s * args.stalled) for s in shares]
    env = {"HOSTPULSE_STALL_TIMEOUT": str(args.stall_timeout)} if args.stall_timeout else {}
    with tempfile.TemporaryDirectory(prefix="hostpulse-bench-") as tmp:
        profile = []
        if args.cprofile is not None:
            args.cprofile.mkdir(parents=True, exist_ok=True)
            profile = ["-m", "cProfile", "-o", str(args.cprofile.resolve() / f"server-{n}.prof")]
        server = Server(Path(tmp), args.interval, extra_env=env, python_args=profile).start()
        pid = server.process.pid
        try:
            time.sleep(2 * args.interval)
            rss_base = status_kb(pid, "VmRSS")
            load_before = os.getloadavg()
            workers = []
            started = time.monotonic()
            for i, share in enumerate([*shares, probes]):
                is_probe = i == len(shares)
                parent, child = mp.Pipe()
                stalled = 0 if is_probe else stalled_shares[i]
                proc = mp.Process(
                    target=viewer_process,
                    args=(child, "127.0.0.1", server.port, share, is_probe, stalled, args.ramp),
                    daemon=True,
                )
                proc.start()
                workers.append((proc, parent, is_probe))
            connected = sum(parent.recv()[1] for _, parent, _ in workers)
            ramp = time.monotonic() - started
            time.sleep(args.settle)
            t0 = time.time()
            t1 = t0 + args.window
            metrics_before = fanout_buckets(server.url)
            cpu0 = cpu_seconds(pid)
            gen0 = sum(cpu_seconds(p.pid) for p, _, _ in workers)
            for _, parent, _ in workers:
                parent.send(("window", t0, t1))
            time.sleep(max(0.0, t1 - time.time()))
            cpu1 = cpu_seconds(pid)
            gen1 = sum(cpu_seconds(p.pid) for p, _, _ in workers)
            rss_end = status_kb(pid, "VmRSS")
            metrics_after = fanout_buckets(server.url)
            stall_cuts = server_counter(server.url, "hostpulse_stalled_viewers_total")
            results = [(parent.recv(), is_probe) for _, parent, is_probe in workers]
            rss_peak = status_kb(pid, "VmHWM")
            for proc, _, _ in workers:
                proc.join(10)
                if proc.is_alive():
                    proc.kill()
            load_after = os.getloadavg()
        finally:
            server.stop()
    window = t1 - t0
    counts = [c for r, _ in results for c in r["counts"]]
    probe = next(r for r, is_probe in results if is_probe)
    delivered = sum(counts)
    ticks = window / args.interval
    fan_p50 = fan_p99 = None
    if metrics_before is not None and metrics_after is not None:
        fan_p50 = histogram_quantile(0.5, metrics_before, metrics_after)
        fan_p99 = histogram_quantile(0.99, metrics_before, metrics_after)
    stalled_total = sum(r["stalled"] for r, _ in results)
    server_cpu = cpu1 - cpu0
    return {
        "n": n,
        "connected": connected,
        "at_end": sum(r["connected"] for r, _ in results),
        "ramp_s": ramp,
        "load_processes": procs,
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
        "fanout_p50": fan_p50,
        "fanout_p99": fan_p99,
        "server_cpu_pct": 100 * server_cpu / window,
        "us_per_update": 1e6 * server_cpu / delivered if delivered else None,
        "rss_base_mb": rss_base / 1024,
        "rss_end_mb": rss_end / 1024,
        "rss_peak_mb": rss_peak / 1024,
        "kb_per_viewer": (rss_end - rss_base) / connected if connected else None,
        "generator_cpu_pct": 100 * (gen1 - gen0) / window,
        "stalled": stalled_total,
        "stalled_disconnected": sum(r["stalled_closed"] for r, _ in results),
        "server_stall_cuts": stall_cuts,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
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
    ("generator CPU % (all processes)", lambda r: fmt(r["generator_cpu_pct"], 1)),
    ("stalled viewers / found disconnected", lambda r: stalled_fmt(r)),
    ("load average before → after", lambda r: load_fmt(r)),
]


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
    print()
    print("| N | " + " | ".join(str(r["n"]) for r in results) + " |")
    print("|---|" + "---:|" * len(results))
    for name, cell in ROWS:
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
    parser.add_argument(
        "--cprofile", type=Path, help="run the server under cProfile, stats into this folder"
    )
    args = parser.parse_args()
    if args.n is None:
        args.n = [1, 100, 1000] if args.quick else [1, 100, 1000, 2000, 5000]
    if args.window is None:
        args.window = 5.0 if args.quick else 30.0
    raise_fd_limit(max(args.n))  # inherited by the server and the viewer processes
    results = []
    for n in args.n:
        print(f"N={n}: ramp, then {args.window:g} s steady …", file=sys.stderr, flush=True)
        results.append(run_case(n, args))
    print_table(results, args)
    if args.json:
        saved = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        args.json.write_text(json.dumps({"args": saved, "results": results}))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
