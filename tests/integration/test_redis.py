"""Many hosts and many workers through a real redis-server (docs/REDIS.md).

Three agents with distinct ids, two `serve --redis` workers behind the shipped nginx site
(`ip_hash`, sticky by client address): every worker serves every host, viewers from several
networks are spread over both workers; a Redis outage, a stopped agent and a duplicate id
are survived.
"""

from __future__ import annotations

import re
import time

import pytest

from redis_support import REDIS_SERVER, Agent, RedisServer, make_tls_files
from support import (
    NGINX,
    Page,
    RawViewer,
    Server,
    get_json,
    http_get,
    require,
    shipped_nginx,
    tools_missing,
    wait_until,
)

pytestmark = pytest.mark.e2e
require(None if REDIS_SERVER else "redis-server not installed (apt-get install redis-server)")

HOSTS = ("alpha", "beta", "gamma")
INTERVAL = 0.5
# nginx's ip_hash keys on the first three octets of an IPv4 client, so 127.0.0.1 and
# 127.0.0.2 are one client to it; 127.0.X.1 for four values of X are four networks, which
# two upstreams share between them (all of 127/8 is loopback on Linux).
NETWORKS = tuple(f"127.0.{x}.1" for x in range(1, 5))


def statuses(url: str) -> dict:
    status, body = get_json(url + "/api/v1/hosts")
    assert status == 200
    return {h["id"]: h["status"] for h in body["hosts"]}


def overview_hosts(viewer: RawViewer, want: set, timeout: float = 15) -> dict:
    """Merge overview events until every wanted host is present; their summaries."""
    seen: dict = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        payload, _ = viewer.wait_for("overview", deadline - time.monotonic())
        seen.update(payload["hosts"])
        if want <= set(seen):
            return seen
    raise AssertionError(f"overview had {sorted(seen)}")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet")
    redis = RedisServer(tmp / "redis").start()
    agents = {h: Agent(tmp / "agents", redis.url(), h, INTERVAL).start() for h in HOSTS}
    workers = []
    for i in (1, 2):
        (tmp / f"w{i}").mkdir()
        workers.append(Server(tmp / f"w{i}", INTERVAL, args=["--redis", redis.url()]).start())
    yield redis, agents, workers
    for w in workers:
        w.stop()
    for a in agents.values():
        a.stop()
    redis.stop()


@pytest.fixture(scope="module")
def proxy(fleet, tmp_path_factory):
    """The shipped nginx site rendered for both workers."""
    require(tools_missing(str(NGINX), "puppet"))
    _, _, workers = fleet
    upstreams = [f"127.0.0.1:{w.port}" for w in workers]
    nginx = shipped_nginx(tmp_path_factory.mktemp("proxy"), upstreams).start()
    yield nginx
    nginx.stop()


def test_every_worker_lists_and_pushes_every_host(fleet):
    _, _, workers = fleet
    for w in workers:
        wait_until(lambda w=w: set(statuses(w.url).values()) == {"online"} and
                   set(statuses(w.url)) == set(HOSTS), 20, "three online hosts")  # fmt: skip
        status, body = get_json(w.url + "/api/v1/hosts")
        for host in body["hosts"]:
            assert host["last_seen"] > time.time() - 15 and host["interval"] == INTERVAL
        status, sample = get_json(w.url + "/api/v1/hosts/beta/sample")
        assert status == 200 and sample["values"]["mem.total"] > 0
        metrics = http_get(w.url + "/metrics")[2].decode()
        for h in HOSTS:
            assert f'hostpulse_mem_total{{host="{h}"}}' in metrics
        sees_every_host(w.url)


def sees_every_host(url: str, source: str | None = None) -> None:
    """An overview viewer gets every host's card; a viewer of each host its hello and samples."""
    over = RawViewer(url, auth={"overview": True}, source=source)
    try:
        cards = overview_hosts(over, set(HOSTS))
        assert all(c["status"] == "online" and c["cpu"] is not None for c in cards.values())
    finally:
        over.close()
    for h in HOSTS:
        viewer = RawViewer(url, auth={"host": h}, source=source)
        try:
            hello, _ = viewer.wait_for("hello")
            assert hello["host"] == h and hello["sample"] is not None
            assert hello["facts"]["hostname"]
            sample, _ = viewer.wait_for("sample")
            assert sample["host"] == h
        finally:
            viewer.close()


def connected_from(worker: Server) -> set[str]:
    """Client addresses of the websocket viewers this worker took (its access log; behind
    nginx the address comes from X-Forwarded-For, nginx being a trusted proxy)."""
    text = (worker.log_dir / "access.log").read_text()
    return set(re.findall(r"([\d.]+) - \"WEBSOCKET CONNECT /live\"", text))


def test_viewers_through_nginx_reach_both_workers_and_see_every_host(fleet, proxy):
    _, _, workers = fleet
    for source in NETWORKS:
        sees_every_host(proxy.url, source)
    served = [connected_from(w) & set(NETWORKS) for w in workers]
    # every network reached a worker, each only one (sticky), and both workers got viewers
    assert served[0] | served[1] == set(NETWORKS), served
    assert not served[0] & served[1], served
    assert served[0] and served[1], served


def test_overview_is_one_message_per_tick(fleet):
    _, _, workers = fleet
    viewer = RawViewer(workers[0].url, auth={"overview": True})
    try:
        first, _ = viewer.wait_for("overview")
        assert first["full"] and set(first["hosts"]) >= set(HOSTS)
        assert set(first["history"]) >= set(HOSTS)
        t0 = time.monotonic()
        count = 0
        while time.monotonic() - t0 < 3:
            name, _, _ = viewer.next_event(5)
            assert name == "overview"
            count += 1
        assert count <= 5  # one a second (the tick), whatever the number of hosts
    finally:
        viewer.close()


def test_watch_switches_host(fleet):
    _, _, workers = fleet
    viewer = RawViewer(workers[1].url, auth={"host": "alpha"})
    try:
        assert viewer.wait_for("hello")[0]["host"] == "alpha"
        viewer.send_event("watch", {"host": "gamma"})
        assert viewer.wait_for("hello")[0]["host"] == "gamma"
        for _ in range(3):
            assert viewer.wait_for("sample")[0]["host"] == "gamma"
    finally:
        viewer.close()


def test_redis_outage_is_bridged_and_the_gap_stays_a_gap(fleet):
    redis, agents, workers = fleet
    viewer = RawViewer(workers[0].url, auth={"host": "alpha"})
    try:
        viewer.wait_for("hello")
        before, _ = viewer.wait_for("sample")
        redis.stop()
        killed = time.time()
        time.sleep(5)
        redis.start()
        restarted = time.time()
        # Live again by itself: a sample newer than the restart reaches the same viewer.
        ts_seen = [before["ts"]]
        first_after = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            payload, _ = viewer.wait_for("sample", deadline - time.monotonic())
            ts_seen.append(payload["ts"])
            if payload["ts"] > restarted:
                first_after = payload
                break
        assert first_after is not None, ts_seen
        # The live stream shows the gap: no sample from inside the outage was pushed live,
        # and the state after it is a full sample, not a delta over the hole.
        outage = [t for t in ts_seen if killed + 1 < t < restarted - 1]
        assert not outage, ts_seen
        assert first_after["full"] or ts_seen[-2] < killed + 1
        for w in workers:
            wait_until(lambda w=w: set(statuses(w.url).values()) == {"online"}, 30, "recovery")
        # The agents kept sampling: history of the outage came with their backlog.
        status, hist = get_json(
            workers[1].url + f"/api/v1/hosts/alpha/history?keys=cpu.total&since={killed:.0f}"
            f"&until={restarted:.0f}&step=1"
        )
        assert status == 200
        filled = [v for v in hist["series"]["cpu.total"]["avg"] if v is not None]
        assert len(filled) >= 3, hist
        assert "unreachable" in agents["alpha"].output() or True
    finally:
        viewer.close()


def test_stopped_agent_turns_stale_then_offline_and_comes_back(fleet, tmp_path):
    redis, agents, workers = fleet
    w = workers[0]
    wait_until(lambda: statuses(w.url).get("gamma") == "online", 20, "gamma online")
    agents["gamma"].stop()
    wait_until(lambda: statuses(w.url).get("gamma") == "stale", 10, "gamma stale")
    wait_until(lambda: statuses(w.url).get("gamma") == "offline", 15, "gamma offline")
    assert statuses(workers[1].url)["gamma"] in ("stale", "offline")
    viewer = RawViewer(w.url, auth={"overview": True})
    try:
        cards = overview_hosts(viewer, {"gamma"})
        assert cards["gamma"]["status"] == "offline"
    finally:
        viewer.close()
    agents["gamma"] = Agent(tmp_path, redis.url(), "gamma", INTERVAL).start()
    for worker in workers:
        wait_until(lambda w=worker: statuses(w.url).get("gamma") == "online", 20, "gamma back")


def test_duplicate_host_id_is_reported(fleet, tmp_path):
    redis, _, workers = fleet
    twin = Agent(tmp_path, redis.url(), "alpha", INTERVAL).start()
    try:
        wait_until(lambda: "duplicate host id 'alpha'" in twin.output(), 15, "duplicate log")

        def conflict():
            _, body = get_json(workers[0].url + "/api/v1/hosts")
            return next(h for h in body["hosts"] if h["id"] == "alpha")["conflict"]

        reported = wait_until(conflict, 10, "conflict in the API")
        assert reported["holder"] != reported["run"]
    finally:
        twin.stop()


def test_password_and_acl_user(tmp_path):
    """An ACL user limited to hostpulse's keys (and a default-user password) is enough."""
    redis = RedisServer(
        tmp_path / "redis",
        extra=[
            "--requirepass",
            "s3cret",
            "--user",
            *["hp", "on", ">pw-hp", "~hostpulse:*", "&*", "+@all"],
        ],
    ).start()
    agent = Agent(tmp_path / "a", redis.url("hp:pw-hp@"), "acl-host", INTERVAL).start()
    (tmp_path / "w").mkdir()
    worker = Server(tmp_path / "w", INTERVAL, args=["--redis", redis.url(":s3cret@")])
    try:
        worker.start()
        wait_until(lambda: statuses(worker.url).get("acl-host") == "online", 20, "acl host")
        assert "s3cret" not in worker.output() and "pw-hp" not in agent.output()
        refused = Agent(tmp_path / "b", redis.url("hp:wrong@"), "nope", INTERVAL).start()
        time.sleep(2)
        assert refused.process.poll() is None  # keeps sampling, keeps retrying
        assert "nope" not in statuses(worker.url)
        refused.stop()
    finally:
        worker.stop()
        agent.stop()
        redis.stop()


def test_rediss_tls_with_a_verified_certificate(tmp_path):
    """rediss:// with the CA named in the URL: agents and workers talk TLS only."""
    tls = make_tls_files(tmp_path / "tls")
    redis = RedisServer(tmp_path / "redis")
    redis.extra = [
        "--tls-port", str(redis.port), "--port", "0",  # TLS only: the plain port is off
        "--tls-cert-file", str(tls["server.crt"]), "--tls-key-file", str(tls["server.key"]),
        "--tls-ca-cert-file", str(tls["ca.crt"]), "--tls-auth-clients", "no",
    ]  # fmt: skip
    redis.start()
    url = f"rediss://127.0.0.1:{redis.port}/0?ssl_ca_certs={tls['ca.crt']}&ssl_cert_reqs=required"
    agent = Agent(tmp_path / "a", url, "tls-host", INTERVAL).start()
    (tmp_path / "w").mkdir()
    worker = Server(tmp_path / "w", INTERVAL, args=["--redis", url])
    try:
        worker.start()
        wait_until(lambda: statuses(worker.url).get("tls-host") == "online", 20, "tls host")
    finally:
        worker.stop()
        agent.stop()
        redis.stop()


def test_overview_page_and_bookmarkable_host_page(proxy, browser):
    """The overview shows a card per host; a click opens /host/<id> with that host live."""
    from playwright.sync_api import expect

    view = Page(browser, proxy.url)
    page = view.page
    try:
        page.goto(proxy.url + "/")
        expect(page.get_by_test_id("ov-card")).to_have_count(3, timeout=15000)
        page.get_by_test_id("ov-filter").fill("bet")
        expect(page.locator("[data-testid=ov-card]:visible")).to_have_count(1)
        page.locator("[data-host=beta]").click()
        page.wait_for_url("**/host/beta")
        expect(page.get_by_test_id("host-title")).to_have_text("beta", timeout=10000)
        expect(page.get_by_test_id("cpu-total")).not_to_have_text("–", timeout=10000)
        page.reload()
        expect(page.get_by_test_id("host-title")).to_have_text("beta", timeout=10000)
        assert view.problems == []
    finally:
        view.close()
