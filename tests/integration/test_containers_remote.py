"""A remote host's containers: an agent with an engine socket publishes them through Redis
like any other keys and facts; a worker serves them in its REST API and /metrics with
nothing else configured."""

from __future__ import annotations

import time

import pytest

from podman_support import PREFIX, Podman, podman_missing
from redis_support import Agent, RedisServer
from support import Server, get_json, http_get, require, tools_missing

pytestmark = [pytest.mark.integration, pytest.mark.containers]
require(podman_missing())
require(tools_missing("redis-server"))


def test_agent_publishes_containers_through_redis(tmp_path):
    (tmp_path / "podman").mkdir()
    podman = Podman(tmp_path / "podman")
    redis = RedisServer(tmp_path / "redis").start()
    agent = worker = None
    try:
        podman.start_service()
        podman.run("remote", "exec sleep 600")
        env = {"HOSTPULSE_CONTAINERS_SOCKET": str(podman.socket)}
        agent = Agent(tmp_path / "agent", redis.url(), "box-1", 0.5, extra_env=env).start()
        (tmp_path / "w").mkdir()
        worker = Server(tmp_path / "w", 0.5, args=["--redis", redis.url()]).start()
        key = f"container.{PREFIX}remote.mem_used"
        deadline = time.monotonic() + 20
        facts, values = {}, {}
        while time.monotonic() < deadline:
            status, host = get_json(f"{worker.url}/api/v1/hosts/box-1")
            if status == 200:
                facts = host["facts"].get("containers") or {}
                values = get_json(f"{worker.url}/api/v1/hosts/box-1/sample")[1].get("values", {})
                if PREFIX + "remote" in facts and key in values:
                    break
            time.sleep(0.5)
        assert facts[PREFIX + "remote"]["state"] == "running", facts
        assert values[key] > 0
        _, _, metrics = http_get(worker.url + "/metrics")
        line = f'hostpulse_container_mem_used{{container="{PREFIX}remote",host="box-1"}}'
        assert line in metrics.decode(), metrics.decode()[-2000:]
    finally:
        if worker:
            worker.stop()
        if agent:
            agent.stop()
        redis.stop()
        podman.close()
