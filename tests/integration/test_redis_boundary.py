"""Bad entries in Redis stop nothing but themselves (issue 17): a real redis-server, a real
agent, real workers, and entries written by hand the way an old agent, a bug or someone with
access could write them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
import redis

from redis_support import REDIS_SERVER, Agent, RedisServer
from support import RawViewer, Server, get_json, http_get, require, wait_until

pytestmark = pytest.mark.integration
require(None if REDIS_SERVER else "redis-server not installed (apt-get install redis-server)")

INTERVAL = 0.5


def entry(values: dict, ts: float, seq: int) -> dict:
    return {"t": "s", "d": json.dumps({"seq": seq, "ts": ts, "run": "x", "values": values})}


def write_bad_host(client: redis.Redis, host: str) -> None:
    now = time.time()
    client.hset(
        f"hostpulse:host:{host}",
        mapping={"facts": "[1, 2]", "interval": "soon", "conflict": "[]"},
    )
    stream = f"hostpulse:samples:{host}"
    # The raw JSON an old agent or a hand could write: NaN, 1e999, a huge integer, a string.
    raw = (
        f'{{"seq": 1, "ts": {now - 2}, "values": {{"cpu.total": NaN, "mem.used": 1e999, '
        f'"swap.used": {10**400}, "load.1": "high", "mem.percent": 42.5}}}}'
    )
    client.xadd(stream, {"t": "s", "d": raw})
    client.xadd(stream, entry({"cpu.total": 99.9}, now + 86400, 2))  # a day ahead
    client.xadd(stream, {"t": "x", "d": "garbage"})
    client.xadd(stream, entry({"cpu.total": 12.0, "mem.percent": 43.0}, now, 3))
    client.zadd("hostpulse:hosts", {host: now, b"\xff\xfe-not-utf8": now, "ghost": now})


def rejected(url: str) -> dict[str, float]:
    status, _, body = http_get(url + "/metrics")
    assert status == 200, body[:300]
    found = re.findall(rb'^hostpulse_redis_rejected_total\{cause="([^"]+)"\} (\S+)', body, re.M)
    return {cause.decode(): float(n) for cause, n in found}


def hosts(url: str) -> dict:
    status, body = get_json(url + "/api/v1/hosts")
    assert status == 200
    return {h["id"]: h for h in body["hosts"]}


def test_bad_entries_are_dropped_and_every_other_host_and_field_goes_on(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    agent = Agent(tmp_path / "agent", server.url(), "good", INTERVAL).start()
    client = redis.Redis.from_url(server.url())
    (tmp_path / "w1").mkdir()
    worker = Server(tmp_path / "w1", INTERVAL, args=["--redis", server.url()])
    try:
        worker.start()
        wait_until(lambda: hosts(worker.url).get("good", {}).get("status") == "online", 20, "good")
        write_bad_host(client, "bad")
        wait_until(lambda: "bad" in hosts(worker.url), 10, "the bad host discovered")
        check_worker(worker, runs=1)
        worker.stop()
        # A restart reads it all again through the backfill: the same, nothing breaks.
        worker.start()
        wait_until(lambda: "bad" in hosts(worker.url), 10, "the bad host after a restart")
        check_worker(worker, runs=2)
        assert "Traceback" not in worker.output()
    finally:
        worker.stop()
        agent.stop()
        server.stop()


def check_worker(worker: Server, runs: int) -> None:
    """What ``worker`` shows; ``runs``: how many times it has started (one log line each)."""
    listed = hosts(worker.url)
    assert listed["good"]["status"] == "online"
    assert "ghost" not in listed  # in the set, but no agent ever wrote its hash
    status, bad = get_json(worker.url + "/api/v1/hosts/bad/sample")
    assert status == 200
    values = bad["values"]
    # the newest good sample, not the one from the future; its good fields only
    assert values["cpu.total"] == 12.0 and values["mem.percent"] == 43.0
    causes = wait_until(lambda: rejected(worker.url), 5, "rejections counted")
    for cause in (
        "a sample value that is no finite number",
        "a sample from the future",
        "an entry that is neither a sample nor facts",
        "facts that are not an object",
        "a host id that is not UTF-8",
        "an interval that is no number of seconds in range",
        "a conflict that is not an object with a time",
    ):
        assert causes.get(cause, 0) >= 1, (cause, causes)
    viewer = RawViewer(worker.url, auth={"overview": True})
    try:
        summary, _ = viewer.wait_for("overview")
        summary, _ = viewer.wait_for("overview")  # a second tick: the overview keeps going
        assert summary is not None
    finally:
        viewer.close()
    log = (worker.log_dir / "hostpulse.log").read_text()
    assert log.count("host bad: a sample from the future in redis") == runs


def acl_of(command: list[str]) -> tuple[str, list[str], str]:
    """(user, rules, URL) from `hostpulse redis-acl …`'s output."""
    out = subprocess.run(
        [sys.executable, "-m", "hostpulse", "redis-acl", *command],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("user "))
    _, user, *rules = line.split(" ")
    url = re.search(r"'(redis://[^']+)'", out).group(1)
    return user, rules, url


def test_acl_users_keep_each_agent_to_its_own_keys_and_workers_to_reading(tmp_path):
    server = RedisServer(tmp_path / "redis", extra=["--requirepass", "admin-pw"]).start()
    admin = redis.Redis.from_url(server.url(":admin-pw@"))
    where = f"127.0.0.1:{server.port}/0"
    urls = {}
    for name, command in {
        "agent": ["agent", "web-1"],
        "glob": ["agent", "web-*"],  # a host id that is a Redis pattern
        "worker": ["worker"],
    }.items():
        user, rules, url = acl_of(command)
        admin.execute_command("ACL", "SETUSER", user, *rules)
        urls[name] = url.replace("REDIS-HOST:6379/0", where)
    agent = Agent(tmp_path / "agent", urls["agent"], "web-1", INTERVAL).start()
    (tmp_path / "w").mkdir()
    worker = Server(tmp_path / "w", INTERVAL, args=["--redis", urls["worker"]])
    try:
        worker.start()
        wait_until(lambda: hosts(worker.url).get("web-1", {}).get("status") == "online", 20, "up")
        viewer = RawViewer(worker.url, auth={"host": "web-1"})
        try:  # the on-demand processes table: the worker's want key, the agent's table
            viewer.wait_for("hello")
            viewer.send_event("watch", {"panels": ["processes"]})
            table, _ = viewer.wait_for("processes", timeout=20)
            assert table["by_cpu"]
        finally:
            viewer.close()
        as_agent = redis.Redis.from_url(urls["agent"])
        for refused in (
            lambda c: c.xadd("hostpulse:samples:web-2", {"t": "s", "d": "{}"}),
            lambda c: c.hset("hostpulse:host:web-2", "facts", "{}"),
            lambda c: c.set("hostpulse:lease:web-2", "mine"),
            lambda c: c.flushall(),
            lambda c: c.xrevrange("hostpulse:samples:web-2"),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                refused(as_agent)
        as_glob = redis.Redis.from_url(urls["glob"])
        with pytest.raises(redis.exceptions.NoPermissionError):
            as_glob.xadd("hostpulse:samples:web-1", {"t": "s", "d": "{}"})
        as_worker = redis.Redis.from_url(urls["worker"])
        with pytest.raises(redis.exceptions.NoPermissionError):
            as_worker.xadd("hostpulse:samples:web-1", {"t": "s", "d": "{}"})
        with pytest.raises(redis.exceptions.NoPermissionError):
            as_worker.hset("hostpulse:host:web-1", "facts", "{}")
        # what alerts/shared.py does, as the worker user: open an episode, end it
        from hostpulse.alerts.shared import SharedStarts
        from hostpulse.remote.wire import alert_key

        starts, episode = SharedStarts(urls["worker"]), ("web-1", "acl-rule", "cpu.total")
        assert starts.since(episode, 1.5) == 1.5
        assert as_worker.get(alert_key(*episode)) == b"1.5"
        assert starts.end(episode, 1.5) == 1.5
        assert as_worker.get(alert_key(*episode)) is None
        starts.close()
        for output in (worker.output(), agent.output()):
            assert "NOPERM" not in output and "NoPermission" not in output
    finally:
        worker.stop()
        agent.stop()
        server.stop()
