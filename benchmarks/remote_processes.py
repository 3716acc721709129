"""Processes of a remote host on demand (prints numbers, asserts nothing; stops by itself).

One real `hostpulse agent` (interval 1 s), two `serve --redis` workers, one loopback
redis-server. For a few rounds, alternating workers: a viewer starts watching the remote
host's processes (time to its first `processes` event), receives some (delay from the
agent's `ts` to the viewer), stops watching (time until the want key expires, the agent
logs it stopped, and the table stream expires). Also: the size of one table in Redis, and
the agent's CPU while collecting processes and while not.

    .venv/bin/python benchmarks/remote_processes.py --rounds 4
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fleet import cpu_seconds
from redis_support import Agent, RedisServer
from support import RawViewer, Server, get_json

HOST = "far"
WANT_KEY = f"hostpulse:want:processes:{HOST}"
TABLE_KEY = f"hostpulse:processes:{HOST}"


def until(predicate, timeout: float = 30.0, step: float = 0.02) -> float:
    """Seconds until ``predicate()`` holds (polled every ``step``)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError
        time.sleep(step)
    return time.monotonic() - start


def stopped_count(agent: Agent) -> int:
    return agent.output().count("processes no longer wanted")


def one_round(url: str, client: redis.Redis, agent: Agent, events: int) -> dict:
    viewer = RawViewer(url, auth={"host": HOST})
    try:
        viewer.wait_for("hello")
        t0 = time.monotonic()
        viewer.send_event("watch", {"panels": ["processes"]})
        viewer.wait_for("processes", 30)
        first = time.monotonic() - t0
        delays = []
        for _ in range(events):
            table, _ = viewer.wait_for("processes", 10)
            delays.append(time.time() - table["ts"])
        stops = stopped_count(agent)
        t1 = time.monotonic()
        viewer.send_event("watch", {"panels": []})
        until(lambda: not client.exists(WANT_KEY))
        key_gone = time.monotonic() - t1
        until(lambda: stopped_count(agent) > stops)
        agent_stop = time.monotonic() - t1
        until(lambda: not client.exists(TABLE_KEY))
        stream_gone = time.monotonic() - t1
        return {
            "first": first,
            "delays": delays,
            "key_gone": key_gone,
            "agent_stop": agent_stop,
            "stream_gone": stream_gone,
        }
    finally:
        viewer.close()


def agent_cpu(agent: Agent, seconds: float) -> float:
    before = cpu_seconds(agent.process.pid)
    time.sleep(seconds)
    return 100 * (cpu_seconds(agent.process.pid) - before) / seconds


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--cpu-seconds", type=float, default=10.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hp-remoteproc-"))
    server = RedisServer(tmp / "redis").start()
    agent = Agent(tmp / "agent", server.url(), HOST, interval=1.0).start()
    workers = []
    try:
        for i in (1, 2):
            (tmp / f"w{i}").mkdir()
            workers.append(Server(tmp / f"w{i}", 1.0, args=["--redis", server.url()]).start())
        client = redis.Redis(port=server.port)
        for w in workers:
            until(lambda w=w: HOST in str(get_json(w.url + "/api/v1/hosts")[1]), 30, 0.2)
        idle_cpu = agent_cpu(agent, args.cpu_seconds)
        rounds = [
            one_round(workers[i % 2].url, client, agent, args.events) for i in range(args.rounds)
        ]
        # Collecting: a viewer keeps watching while the agent's CPU is measured.
        busy = RawViewer(workers[0].url, auth={"host": HOST})
        busy.wait_for("hello")
        busy.send_event("watch", {"panels": ["processes"]})
        busy.wait_for("processes", 30)
        entries = client.xrevrange(TABLE_KEY, count=1)
        entry_bytes = len(entries[0][1][b"d"])
        memory = client.memory_usage(TABLE_KEY)
        length = client.xlen(TABLE_KEY)
        busy_cpu = agent_cpu(agent, args.cpu_seconds)
        busy.close()
    finally:
        for w in workers:
            w.stop()
        agent.stop()
        server.stop()
    delays = [d * 1000 for r in rounds for d in r["delays"]]
    print(f"rounds {len(rounds)}, {args.events} processes events each, interval 1 s")
    print("| measure | median | max |")
    print("|---|---|---|")
    for name, key in (
        ("watch → first `processes` (s)", "first"),
        ("unwatch → want key gone (s)", "key_gone"),
        ("unwatch → agent logs it stopped (s)", "agent_stop"),
        ("unwatch → table stream gone (s)", "stream_gone"),
    ):
        values = [r[key] for r in rounds]
        print(f"| {name} | {statistics.median(values):.2f} | {max(values):.2f} |")
    print(
        f"| agent `ts` → viewer, `processes` (ms) | {statistics.median(delays):.0f} "
        f"| {max(delays):.0f} (p90 {pct(delays, 0.9):.0f}) |"
    )
    print(f"table entry {entry_bytes} bytes JSON; stream {length} entries, {memory} bytes in Redis")
    print(f"agent CPU: {idle_cpu:.1f} % of a core idle, {busy_cpu:.1f} % collecting processes")


if __name__ == "__main__":
    main()
