"""The history API of a remote host (an agent publishing through a real redis-server, a
worker storing its history): the keys list and the 404 for a key the host never had."""

from __future__ import annotations

import time

import pytest

from redis_support import REDIS_SERVER, Agent, RedisServer
from support import Server, get_json, require, wait_until

pytestmark = pytest.mark.integration
require(None if REDIS_SERVER else "redis-server not installed (apt-get install redis-server)")

INTERVAL = 0.5


def test_a_remote_host_lists_its_keys_and_refuses_unknown_ones(tmp_path):
    redis_server = RedisServer(tmp_path / "redis").start()
    agent = Agent(tmp_path / "agent", redis_server.url(), "far-1", INTERVAL).start()
    (tmp_path / "w").mkdir()
    worker = Server(tmp_path / "w", INTERVAL, args=["--redis", redis_server.url()])
    try:
        worker.start()
        base = f"{worker.url}/api/v1/hosts/far-1"

        def listed():
            status, body = get_json(base + "/keys")
            keys = {k["key"]: k for k in body.get("keys", [])} if status == 200 else {}
            return keys if {"cpu.total", "mem.percent"} <= set(keys) else None

        keys = wait_until(listed, 20, "the remote host's keys")
        now = time.time()
        assert keys["mem.percent"]["unit"] == "%"
        assert now - 130 < keys["cpu.total"]["first"] <= keys["cpu.total"]["last"] <= now + 2
        status, body = get_json(base + "/history?keys=mem.percent&since=-30")
        assert status == 200 and any(v is not None for v in body["series"]["mem.percent"]["avg"])
        status, body = get_json(base + "/history?keys=mem.percent,mem.percnt&since=-30")
        assert status == 404 and "'mem.percnt'" in body["error"], body
        status, body = get_json(f"{worker.url}/api/v1/hosts/nowhere/keys")
        assert status == 404 and "nowhere" in body["error"]
    finally:
        worker.stop()
        agent.stop()
        redis_server.stop()
