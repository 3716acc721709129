"""Alerts with several workers on a real redis-server and one agent (docs/ALERTS.md,
"Several workers"): every worker evaluates the host's stream and agrees on each episode's
start, so the transitions they submit have one id between them, also for a worker started
after the episode's first sample left the stream; a silent agent is noticed by the workers.
"""

from __future__ import annotations

import time

import pytest

from notify_support import ALWAYS_FIRING
from redis_support import REDIS_SERVER, Agent, RedisServer
from support import Server, get_json, require, wait_until

pytestmark = pytest.mark.integration
require(None if REDIS_SERVER else "redis-server not installed (apt-get install redis-server)")

INTERVAL = 0.25
#: Streams of 10 entries (2.5 s): a worker started 4 s into an episode cannot see its start.
ENV = {"HOSTPULSE_REDIS_MAXLEN": "10"}
RULES = (
    ALWAYS_FIRING
    + """
[[alerts]]
name = "host-offline"
for = 3
"""
)


def alerts(worker: Server, **query) -> dict:
    text = "&".join(f"{k}={v}" for k, v in query.items())
    status, body = get_json(f"{worker.url}/api/v1/alerts?{text}")
    assert status == 200, body
    return body


def firing(worker: Server, rule: str) -> list[dict]:
    return [a for a in alerts(worker, host="alpha")["firing"] if a["name"] == rule]


def test_workers_agree_on_every_episode_start_and_notice_a_silent_agent(tmp_path):
    config = tmp_path / "hp.toml"
    config.write_text(RULES)
    redis = RedisServer(tmp_path / "redis").start()
    agent = Agent(tmp_path / "agent", redis.url(), "alpha", INTERVAL, extra_env=ENV).start()
    args = ["--redis", redis.url(), "--config", str(config)]
    workers = []
    try:
        (tmp_path / "w1").mkdir()
        first = Server(tmp_path / "w1", INTERVAL, extra_env=ENV, args=args).start()
        workers.append(first)
        wait_until(lambda: firing(first, "has-memory"), 20, "has-memory firing on worker 1")
        [one] = firing(first, "has-memory")
        time.sleep(4)  # the episode's first sample is out of the 10-entry stream now
        (tmp_path / "w2").mkdir()
        second = Server(tmp_path / "w2", INTERVAL, extra_env=ENV, args=args).start()
        workers.append(second)
        wait_until(lambda: firing(second, "has-memory"), 20, "has-memory firing on worker 2")
        [two] = firing(second, "has-memory")
        assert two["since"] == one["since"], (one, two)
        # the events each worker recorded: the same episode start, so the same Transition.id
        for worker in workers:
            events = alerts(worker, host="alpha", state="firing")["events"]
            assert [e["since"] for e in events if e["name"] == "has-memory"] == [one["since"]]

        agent.stop()  # an agent that has died cannot say so: the workers do
        for worker in workers:
            wait_until(lambda w=worker: firing(w, "host-offline"), 20, "host-offline firing")
        starts = {firing(w, "host-offline")[0]["since"] for w in workers}
        assert len(starts) == 1, starts  # the last sample's time, alike on every worker
        assert firing(first, "host-offline")[0]["instance"] == "alpha"

        agent = Agent(tmp_path / "agent", redis.url(), "alpha", INTERVAL, extra_env=ENV).start()
        for worker in workers:
            wait_until(lambda w=worker: not firing(w, "host-offline"), 20, "offline resolved")
            resolved = alerts(worker, host="alpha", state="resolved")["events"]
            assert [e["since"] for e in resolved if e["name"] == "host-offline"] == list(starts)
    finally:
        for worker in workers:
            worker.stop()
        agent.stop()
        redis.stop()
