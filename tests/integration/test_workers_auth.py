"""Credentials shared by several `serve --redis` workers (docs/REDIS.md, docs/SECURITY.md).

Two real workers, each with its own data directory (history, logs) and one shared
``credentials_dir``: a session cookie from one is accepted by the other, a token works on
both and its revocation too, and `hostpulse passwd` / `token` write where the workers read.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from redis_support import REDIS_SERVER, Agent, RedisServer
from support import (
    PASSWORD,
    RawViewer,
    Server,
    cookie_of,
    hostpulse,
    login,
    request,
    require,
)

pytestmark = pytest.mark.e2e

require(None if REDIS_SERVER else "redis-server not installed (apt-get install redis-server)")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("workers-auth")
    creds = tmp / "credentials"
    done = hostpulse("passwd", "--credentials-dir", str(creds), stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    redis = RedisServer(tmp / "redis").start()
    agent = Agent(tmp / "agent", redis.url(), "alpha").start()
    env = {"HOSTPULSE_CREDENTIALS_DIR": str(creds)}
    workers = []
    for i in (1, 2):
        (tmp / f"w{i}").mkdir()
        workers.append(Server(tmp / f"w{i}", extra_env=env, args=["--redis", redis.url()]))
    # Both start at once on a credentials directory without a secret key yet: they must
    # still end up with the same key.
    with ThreadPoolExecutor(len(workers)) as pool:
        list(pool.map(Server.start, workers))
    yield creds, workers
    for w in workers:
        w.stop()
    agent.stop()
    redis.stop()


def test_each_worker_keeps_its_own_history_and_the_credentials_stay_shared(fleet):
    creds, workers = fleet
    assert sorted(p.name for p in creds.iterdir()) == ["auth.json", "secret_key"]
    for w in workers:
        assert w.process is not None and w.process.poll() is None, w.output()
        assert not (w.data_dir / "secret_key").exists()
        assert not (w.data_dir / "auth.json").exists()


def test_a_login_on_one_worker_is_accepted_by_the_other(fleet):
    _, (first, second) = fleet
    status, headers, _ = login(first)
    assert status == 303
    cookie = {"Cookie": cookie_of(headers)}
    assert request(second, "GET", "/", headers=cookie)[0] == 200
    assert request(second, "GET", "/api/v1/hosts", headers=cookie)[0] == 200
    assert request(second, "GET", "/api/v1/hosts")[0] == 401  # and not without it
    viewer = RawViewer(second.url, headers=[f"Cookie: {cookie['Cookie']}"])
    try:
        viewer.wait_for("hello")  # connected: a stranger gets CONNECT_ERROR and no hello
    finally:
        viewer.close()


def test_a_token_created_once_works_on_every_worker_until_revoked(fleet):
    creds, workers = fleet
    made = hostpulse("token", "create", "grafana", "--credentials-dir", str(creds))
    assert made.returncode == 0, made.stderr
    bearer = {"Authorization": f"Bearer {made.stdout.strip()}"}
    for w in workers:
        assert request(w, "GET", "/metrics", headers=bearer)[0] == 200
    revoked = hostpulse("token", "revoke", "grafana", "--credentials-dir", str(creds))
    assert revoked.returncode == 0, revoked.stderr
    for w in workers:
        assert request(w, "GET", "/metrics", headers=bearer)[0] == 401


def test_a_new_password_ends_sessions_on_every_worker(fleet):
    creds, workers = fleet
    cookie = {"Cookie": cookie_of(login(workers[0])[1])}
    changed = hostpulse("passwd", "--credentials-dir", str(creds), stdin="another good password\n")
    assert changed.returncode == 0, changed.stderr
    try:
        for w in workers:
            assert request(w, "GET", "/api/v1/hosts", headers=cookie)[0] == 401
        assert login(workers[1], "another good password")[0] == 303
    finally:
        hostpulse("passwd", "--credentials-dir", str(creds), stdin=PASSWORD + "\n")


def test_a_logout_on_one_worker_ends_the_session_on_the_other(fleet):
    creds, (first, second) = fleet
    cookie = {"Cookie": cookie_of(login(first)[1])}
    assert request(second, "GET", "/api/v1/hosts", headers=cookie)[0] == 200
    assert request(first, "POST", "/logout", headers=cookie)[0] == 303
    assert request(second, "GET", "/api/v1/hosts", headers=cookie)[0] == 401
    assert request(second, "GET", "/", headers=cookie)[0] == 303
    assert (creds / "revoked_sessions").exists()
