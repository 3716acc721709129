"""What one hostile client costs the server: floods of each kind from one client address,
each connection sending as fast as it can and reconnecting as soon as it is closed. Prints a
table; asserts nothing; every run stops by itself (loopback only).

For each kind, a fresh `hostpulse serve` (interval 1 s) with one well-behaved probe viewer;
then F flooding connections from 127.0.0.2 (not a trusted proxy) for --seconds. Reported:
frames the attacker got in before each close, connections it made, the server's CPU and
peak RSS, the tick lateness (how far each sample's ``ts`` is from its place on the 1 s
schedule, seen by the probe), the probe's delay from a sample's ``ts`` to its receipt, and
whether /healthz answered within 1 s all along.

    .venv/bin/python benchmarks/flood.py                  # every kind, 20 s each
    .venv/bin/python benchmarks/flood.py --kinds resync --seconds 10 --connections 8
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import websocket

from support import FLOOD_FRAMES, Probe, RawViewer, Server, http_get
from viewers import cpu_seconds, status_kb

KINDS = {
    **FLOOD_FRAMES,
    "http keep-alive": b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
}
SOURCE = "127.0.0.2"


def attacker(url: str, kind: str, until: float, counts: dict) -> None:
    """Connect, flood until closed, reconnect; count connections and frames sent."""
    frame = KINDS[kind]
    chunk = frame * 64
    while time.monotonic() < until:
        try:
            if kind == "http keep-alive":
                sock = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), 5,
                                                source_address=(SOURCE, 0))  # fmt: skip
            else:
                sock = RawViewer(url, source=SOURCE).ws.sock
            counts["connections"] += 1
        except (OSError, websocket.WebSocketException):  # refused (503) or reset
            counts["refused"] += 1
            time.sleep(0.05)
            continue
        sock.settimeout(2)
        sent = 0
        try:
            while time.monotonic() < until:
                sock.sendall(chunk)
                sent += 64
        except OSError:
            pass
        counts["frames"].append(sent)
        with contextlib.suppress(OSError):
            sock.close()


def run_kind(kind: str, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), interval=1.0).start()
        try:
            time.sleep(2)
            probe = Probe(server.url)
            pid = server.process.pid
            cpu0, start = cpu_seconds(pid), time.monotonic()
            until = start + args.seconds
            counts = {"connections": 0, "refused": 0, "frames": []}
            threads = [
                threading.Thread(target=attacker, args=(server.url, kind, until, counts))
                for _ in range(args.connections)
            ]
            for t in threads:
                t.start()
            health, rss = [], 0
            while time.monotonic() < until:
                t0 = time.monotonic()
                try:
                    ok = http_get(server.url + "/healthz", timeout=5)[0] == 200
                except OSError:
                    ok = False
                health.append(ok and time.monotonic() - t0 < 1.0)
                rss = max(rss, status_kb(pid, "VmRSS"))
                time.sleep(0.5)
            for t in threads:
                t.join(10)
            cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - start)
            probe.stop()
        finally:
            server.stop()
    during = [(ts, rx) for ts, rx in probe.samples if ts >= time.time() - args.seconds - 30]
    lateness = [abs(ts - round(ts - during[0][0]) - during[0][0]) * 1000 for ts, _ in during]
    delays = [(rx - ts) * 1000 for ts, rx in during]
    return {
        "kind": kind,
        "connections": counts["connections"],
        "frames": statistics.median(counts["frames"]) if counts["frames"] else 0,
        "cpu": 100 * cpu,
        "rss": rss / 1024,
        "late_p99": max(lateness) if lateness else None,
        "delay_p50": statistics.median(delays) if delays else None,
        "delay_max": max(delays) if delays else None,
        "samples": len(during),
        "healthz": all(health),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", nargs="*", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=4, help="flooding at once")
    args = parser.parse_args()
    print(f"{args.connections} flooding connection(s) from {SOURCE}, {args.seconds:g} s each")
    print("| flood | connections made | frames written before the close (median; most never "
          "read) | server CPU % | peak RSS MiB | max tick lateness ms | probe delay p50 / max ms "
          "| samples | /healthz < 1 s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in args.kinds:
        r = run_kind(kind, args)
        print(
            f"| {r['kind']} | {r['connections']} | {r['frames']:.0f} | {r['cpu']:.0f} | "
            f"{r['rss']:.0f} | {r['late_p99']:.0f} | {r['delay_p50']:.0f} / "
            f"{r['delay_max']:.0f} | {r['samples']} | {'yes' if r['healthz'] else 'NO'} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
