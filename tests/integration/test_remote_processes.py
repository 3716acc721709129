"""Processes of a remote host, on demand through a real redis-server (docs/REDIS.md).

One agent, two `serve --redis` workers (the second shows commands as names only). A viewer
watching the remote host's processes panel on either worker gets its `processes`; the agent
collects them only while some worker's want key lives, and stops by itself when none does,
a killed worker included; and the host page of the remote host fills its processes panel.
"""

from __future__ import annotations

import signal
import time

import pytest
import redis

from redis_support import REDIS_SERVER, Agent, RedisServer
from support import (
    Page,
    RawViewer,
    Server,
    get_json,
    require,
    wait_until,
)

pytestmark = pytest.mark.e2e
require(None if REDIS_SERVER else "redis-server not installed (apt-get install redis-server)")

HOST = "far"
INTERVAL = 0.5
WANT_KEY = f"hostpulse:want:processes:{HOST}"
TABLE_KEY = f"hostpulse:processes:{HOST}"
ROW_FIELDS = {"pid", "name", "user", "cpu", "rss", "mem_percent", "state", "cmd"}


def online(url: str) -> bool:
    _, body = get_json(url + "/api/v1/hosts")
    return any(h["id"] == HOST and h["status"] == "online" for h in body["hosts"])


def start_worker(tmp, redis_url: str, **env) -> Server:
    tmp.mkdir()
    worker = Server(tmp, INTERVAL, args=["--redis", redis_url], extra_env=env).start()
    wait_until(lambda: online(worker.url), 20, f"{HOST} online on {worker.url}")
    return worker


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("remoteproc")
    server = RedisServer(tmp / "redis").start()
    agent = Agent(tmp / "agent", server.url(), HOST, INTERVAL).start()
    workers = []
    try:
        workers.append(start_worker(tmp / "w-truncated", server.url()))
        workers.append(start_worker(tmp / "w-name", server.url(), HOSTPULSE_PROCESS_CMDLINE="name"))
        yield server, agent, workers, redis.Redis(port=server.port)
    finally:
        for w in workers:
            w.stop()
        agent.stop()
        server.stop()


def watcher(url: str) -> RawViewer:
    """A viewer of the remote host that watches its processes panel."""
    viewer = RawViewer(url, auth={"host": HOST})
    assert viewer.wait_for("hello")[0]["host"] == HOST
    viewer.send_event("watch", {"panels": ["processes"]})
    return viewer


def rows(table: dict) -> list[dict]:
    return table["by_cpu"] + table["by_memory"]


def stops(agent: Agent) -> int:
    """How many times the agent has logged that it stopped collecting processes."""
    return agent.output().count("processes no longer wanted")


def no_longer_wanted(client: redis.Redis, agent: Agent, stops_before: int) -> None:
    """Nobody watches: the want key expires and the agent stops collecting, by itself."""
    wait_until(lambda: not client.exists(WANT_KEY), 20, "the want key to expire")
    wait_until(lambda: stops(agent) > stops_before, 10, "the agent to stop")
    # Stopped collecting: no table is added any more, so its stream expires too.
    wait_until(lambda: not client.exists(TABLE_KEY), 20, "the table stream to expire")


def test_watching_viewer_gets_the_agents_processes_and_others_do_not(fleet):
    _, _, workers, client = fleet
    idle = RawViewer(workers[0].url, auth={"host": HOST})
    viewer = watcher(workers[0].url)
    try:
        idle.wait_for("hello")
        table, _ = viewer.wait_for("processes", timeout=20)
        assert table["host"] == HOST and table["count"] > 0
        assert table["by_cpu"] and table["by_memory"]
        assert all(set(row) >= ROW_FIELDS for row in rows(table))
        # The worker samples nothing itself: these rows came from the agent through Redis.
        assert client.exists(TABLE_KEY) and client.pttl(WANT_KEY) > 0
        sample, _ = viewer.wait_for("sample")
        assert abs(sample["seq"] - table["seq"]) <= 4
        # A viewer of the same host not watching the panel gets samples, never processes.
        idle.frames.clear()
        for _ in range(4):
            idle.wait_for("sample")
        viewer.wait_for("processes")
        assert not any('["processes"' in f for f in idle.frames)
    finally:
        viewer.close()
        idle.close()


def test_the_workers_cmdline_setting_holds(fleet):
    _, _, workers, _ = fleet
    truncated, names = watcher(workers[0].url), watcher(workers[1].url)
    try:
        table, _ = names.wait_for("processes", timeout=20)
        assert all(row["cmd"] == row["name"] for row in rows(table))
        table, _ = truncated.wait_for("processes", timeout=20)
        assert all(len(row["cmd"]) <= 120 for row in rows(table))
        # The agent sends command lines (its own setting is `truncated`): this worker shows them.
        assert any(row["cmd"] != row["name"] for row in rows(table))
    finally:
        truncated.close()
        names.close()


def test_collecting_stops_when_no_worker_wants_it(fleet):
    _, agent, workers, client = fleet
    one, two = watcher(workers[0].url), watcher(workers[1].url)
    try:
        one.wait_for("processes", timeout=20)
        two.wait_for("processes", timeout=20)
        one.send_event("watch", {"panels": []})
        # Past the want key's TTL (4 s): the other worker still wants it, rows keep coming.
        time.sleep(5)
        before, _ = two.wait_for("processes")
        after, _ = two.wait_for("processes")
        assert after["seq"] > before["seq"]
        stops_before = stops(agent)
        two.send_event("watch", {"panels": []})
        no_longer_wanted(client, agent, stops_before)
        # Watching again starts it again.
        two.send_event("watch", {"panels": ["processes"]})
        assert two.wait_for("processes", timeout=20)[0]["host"] == HOST
    finally:
        one.close()
        two.close()


def test_a_killed_worker_does_not_leave_the_agent_collecting(fleet, tmp_path):
    server, agent, _, client = fleet
    wait_until(lambda: not client.exists(WANT_KEY), 20, "no want key left by other tests")
    doomed = start_worker(tmp_path / "doomed", server.url())
    viewer = watcher(doomed.url)
    try:
        viewer.wait_for("processes", timeout=20)
        stops_before = stops(agent)
        doomed.stop(signal.SIGKILL)
        no_longer_wanted(client, agent, stops_before)
    finally:
        viewer.close()
        doomed.stop()


def test_the_host_page_shows_a_remote_hosts_processes(fleet, browser):
    """The page of a remote host fills its processes panel once it is opened."""
    _, _, workers, _ = fleet
    page = Page(browser, workers[0].url)
    try:
        page.page.goto(f"{workers[0].url}/host/{HOST}")
        page.wait_state("connected")
        rows = page.page.locator("tr[data-testid=process-row]:visible")
        assert rows.count() == 0
        page.page.click("#processes-panel summary")
        page.page.wait_for_selector("tr[data-testid=process-row]", timeout=20000)
        assert rows.count() > 1
        assert page.problems == []
    finally:
        page.close()
