"""Top-process tables of a remote host through a real redis-server: a real agent publishes
them every 10 s (its sample stream, entry type `p`), a `serve --redis` worker stores them with
the host's history and answers `processes?at=`; a malformed table is rejected and counted
and the host goes on (docs/REDIS.md)."""

from __future__ import annotations

import json
import re
import time

import pytest
import redis

from proc_support import MARK, start_burner
from redis_support import REDIS_SERVER, Agent, RedisServer
from support import Server, get_json, http_get, require, wait_until

pytestmark = pytest.mark.integration
require(None if REDIS_SERVER else "redis-server not installed (apt-get install redis-server)")

HOST = "far"
INTERVAL = 0.5


def rejected(url: str) -> dict[str, float]:
    _, _, body = http_get(url + "/metrics")
    found = re.findall(rb'^hostpulse_redis_rejected_total\{cause="([^"]+)"\} (\S+)', body, re.M)
    return {cause.decode(): float(n) for cause, n in found}


def processes(url: str, at: float):
    return get_json(f"{url}/api/v1/hosts/{HOST}/processes?at={at}")


def online(url: str) -> bool:
    _, body = get_json(url + "/api/v1/hosts")
    return any(h["id"] == HOST and h["status"] == "online" for h in body["hosts"])


def test_an_agents_tables_are_stored_by_the_worker_and_bad_ones_rejected(tmp_path):
    burner = None
    server = RedisServer(tmp_path / "redis").start()
    agent = Agent(tmp_path / "agent", server.url(), HOST, INTERVAL).start()
    client = redis.Redis.from_url(server.url())
    (tmp_path / "w").mkdir()
    worker = Server(tmp_path / "w", INTERVAL, args=["--redis", server.url()])
    try:
        worker.start()
        wait_until(lambda: online(worker.url), 20, f"{HOST} online")
        burner = start_burner()
        status, body = processes(worker.url, 0)
        assert status == 404 and "no process table" in body["error"]
        # Malformed tables written by hand into the host's stream, among good samples.
        stream = f"hostpulse:samples:{HOST}"
        now = time.time()
        good = {"pid": 9, "name": "ok", "user": "u", "cpu": 1.0, "rss": 1, "cmd": ""}
        client.xadd(stream, {"t": "p", "d": json.dumps({"ts": now - 5, "rows": "all"})})
        client.xadd(stream, {"t": "p", "d": "[1]"})
        bad_row = {**good, "pid": "nine"}
        client.xadd(stream, {"t": "p", "d": json.dumps({"ts": now - 5, "rows": [bad_row, good]})})

        def table():
            status, body = processes(worker.url, 0)
            return body if status == 200 and body["rows"][0]["pid"] != 9 else None

        # The hand-written table's good row is kept: it answers for its own time.
        seen = wait_until(lambda: processes(worker.url, now - 4)[0] == 200, 10, "the good row")
        assert seen and processes(worker.url, now - 4)[1]["rows"] == [good]
        body = wait_until(table, 25, "the agent's first table")
        top = body["rows"][0]
        assert top["pid"] == burner.pid and MARK in top["cmd"], body["rows"][:3]
        assert top["cpu"] > 20 and top["name"].startswith("python")
        causes = rejected(worker.url)
        assert causes.get("a process table without a time and a list of rows") == 1, causes
        assert causes.get("a process-table row of the wrong shape") == 1, causes
        assert causes.get("an entry that is neither a sample nor facts", 0) == 1  # the [1]
        assert online(worker.url)
        # Stored with the host's history: a restarted worker answers at once (backfill aside,
        # it reads the file: the agent is stopped first so nothing new arrives).
        agent.stop()
        worker.stop()
        client.delete(stream)
        worker.start()
        wait_until(lambda: processes(worker.url, body["ts"])[0] == 200, 10, "kept in the file")
        assert processes(worker.url, body["ts"])[1]["rows"][0]["pid"] == burner.pid
        assert "Traceback" not in worker.output()
    finally:
        if burner is not None:
            burner.kill()
            burner.wait()
        worker.stop()
        agent.stop()
        server.stop()
