"""Password login, sessions, API tokens and the login rate limit, on a real server."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest
import websocket

from hostpulse.web.auth import MAX_FAILURES, MAX_GLOBAL_FAILURES
from support import (
    NGINX,
    PASSWORD,
    RawViewer,
    Server,
    cookie_of,
    hostpulse,
    http_get,
    login,
    request,
    require,
    shipped_nginx,
    tools_missing,
)

pytestmark = pytest.mark.integration


def cli(data_dir, *args, stdin: str = "") -> subprocess.CompletedProcess:
    return hostpulse(*args, "--data-dir", str(data_dir), stdin=stdin)


@pytest.fixture(scope="module")
def locked(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("locked")
    srv = Server(tmp)
    done = cli(srv.data_dir, "passwd", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    srv.start()
    yield srv
    srv.stop()


def test_passwd_stores_a_salted_scrypt_hash_0600(locked):
    path = locked.data_dir / "auth.json"
    assert path.stat().st_mode & 0o777 == 0o600
    stored = json.loads(path.read_text())["password"]
    assert stored.startswith("scrypt$") and PASSWORD not in path.read_text()


def test_everything_but_health_and_login_refuses_strangers(locked):
    status, headers, _ = request(locked, "GET", "/")
    assert status == 303 and headers["location"].endswith("/login")
    for path in ("/api/v1/hosts", "/api/v1/hosts/x/history?keys=cpu.total", "/metrics"):
        status, headers, body = request(locked, "GET", path)
        assert status == 401, path
        assert "error" in json.loads(body) and headers["www-authenticate"].startswith("Bearer")
    status, _, body = request(locked, "GET", "/healthz")
    assert status == 200 and set(json.loads(body)) == {"status", "last_tick_age"}
    status, headers, body = request(locked, "GET", "/login")
    assert status == 200 and b'name="password"' in body and b"<script" not in body
    assert "content-security-policy" in headers


def test_wrong_password_is_refused_and_logged_with_the_address(locked):
    status, _, body = login(locked, "not it at all", {"X-Forwarded-For": "198.51.100.7"})
    assert status == 401 and b"Wrong password" in body
    time.sleep(0.2)
    access = (locked.log_dir / "access.log").read_text()
    assert '198.51.100.7 - "LOGIN FAILED"' in access


def test_login_gives_an_httponly_lax_session_for_page_api_and_socket(locked):
    status, headers, _ = login(locked)
    assert status == 303
    attrs = headers["set-cookie"].lower()
    assert "httponly" in attrs and "samesite=lax" in attrs and "secure" not in attrs
    cookie = cookie_of(headers)
    assert request(locked, "GET", "/", headers={"Cookie": cookie})[0] == 200
    assert request(locked, "GET", "/api/v1/hosts", headers={"Cookie": cookie})[0] == 200
    viewer = RawViewer(locked.url, headers=[f"Cookie: {cookie}"])
    try:
        hello, _ = viewer.wait_for("hello")
        assert hello["protocol"] >= 1
    finally:
        viewer.close()


def test_cookie_is_secure_behind_a_trusted_tls_proxy(locked):
    _, headers, _ = login(locked, headers={"X-Forwarded-Proto": "https"})
    assert "secure" in headers["set-cookie"].lower()


def test_socket_without_a_session_is_refused_at_connect(locked):
    viewer = RawViewer(locked.url)
    try:
        frame = viewer.next_frame()
        assert frame.startswith("44/live,"), frame  # CONNECT_ERROR: no hello, no data
        assert "authentication" in frame
    finally:
        viewer.close()


def test_bearer_tokens_for_api_and_metrics_until_revoked(locked):
    made = cli(locked.data_dir, "token", "create", "prometheus")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("hp_") and token not in (locked.data_dir / "auth.json").read_text()
    assert "prometheus" in cli(locked.data_dir, "token", "list").stdout
    bearer = {"Authorization": f"Bearer {token}"}
    assert request(locked, "GET", "/metrics", headers=bearer)[0] == 200
    assert request(locked, "GET", "/api/v1/hosts", headers=bearer)[0] == 200
    assert request(locked, "GET", "/", headers=bearer)[0] == 303  # not for the page
    wrong = {"Authorization": "Bearer hp_" + "x" * 43}
    assert request(locked, "GET", "/metrics", headers=wrong)[0] == 401
    assert cli(locked.data_dir, "token", "revoke", "prometheus").returncode == 0
    assert request(locked, "GET", "/metrics", headers=bearer)[0] == 401


def test_login_attempts_are_rate_limited_per_client(locked):
    client = {"X-Forwarded-For": "203.0.113.9"}
    for _ in range(5):
        assert login(locked, "wrong password!", client)[0] == 401
    status, headers, _ = login(locked, PASSWORD, client)  # even the right one, for a while
    assert status == 429 and int(headers["retry-after"]) > 0
    assert login(locked, PASSWORD, {"X-Forwarded-For": "203.0.113.10"})[0] == 303
    time.sleep(0.2)
    assert (
        '203.0.113.9 - "LOGIN REFUSED" rate-limited' in (locked.log_dir / "access.log").read_text()
    )


def test_cross_origin_login_form_is_refused(locked):
    assert login(locked, headers={"Origin": "https://evil.example"})[0] == 403
    assert login(locked, headers={"Origin": locked.url})[0] == 303


def test_logout_ends_the_session(locked):
    cookie = cookie_of(login(locked)[1])
    status, headers, _ = request(locked, "POST", "/logout", headers={"Cookie": cookie})
    assert status == 303 and headers["location"].endswith("/login")
    cleared = cookie_of(headers)
    assert request(locked, "GET", "/", headers={"Cookie": cleared})[0] == 303


def test_new_password_ends_old_sessions(tmp_path):
    srv = Server(tmp_path)
    assert cli(srv.data_dir, "passwd", stdin=PASSWORD + "\n").returncode == 0
    srv.start()
    try:
        cookie = cookie_of(login(srv)[1])
        assert request(srv, "GET", "/api/v1/hosts", headers={"Cookie": cookie})[0] == 200
        assert cli(srv.data_dir, "passwd", stdin="another long one\n").returncode == 0
        assert request(srv, "GET", "/api/v1/hosts", headers={"Cookie": cookie})[0] == 401
        assert login(srv, "another long one")[0] == 303
        # Removing the password opens the dashboard again (documented).
        assert cli(srv.data_dir, "passwd", "--remove").returncode == 0
        assert http_get(srv.url + "/api/v1/hosts")[0] == 200
    finally:
        srv.stop()


def test_short_password_is_refused_with_exit_2(tmp_path):
    done = cli(tmp_path, "passwd", stdin="short\n")
    assert done.returncode == 2 and "8 to 1024" in done.stderr
    assert not (tmp_path / "auth.json").exists()


def test_corrupt_credentials_file_stops_serve_with_exit_2(tmp_path):
    srv = Server(tmp_path)
    srv.data_dir.mkdir(parents=True)
    (srv.data_dir / "auth.json").write_text("{not json")
    with pytest.raises(RuntimeError, match="exited 2"):
        srv.start(wait=10)
    assert "auth_file" in srv.output()


def test_cross_site_websocket_is_refused_unless_allowed(tmp_path):
    srv = Server(tmp_path, extra_env={"HOSTPULSE_ALLOWED_ORIGINS": "https://ops.example.com"})
    srv.start()
    url = srv.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    try:
        with pytest.raises(websocket.WebSocketBadStatusException):
            websocket.create_connection(url, timeout=5, origin="https://evil.example")
        for origin in (srv.url, "https://ops.example.com"):
            ws = websocket.create_connection(url, timeout=5, origin=origin)
            try:
                assert ws.recv().startswith("0")  # the Engine.IO open packet
            finally:
                ws.close()
    finally:
        srv.stop()


# --- issue 17: limits that hold under concurrency, sessions that end, sids that are no keys --


def concurrently(n: int, attempt, within: float = 45.0) -> list[int]:
    """``attempt(i)`` from ``n`` threads released together; their statuses (0: not done
    within ``within`` seconds, so a flood test ends by itself within a minute)."""
    start = threading.Barrier(n)
    statuses: list[int] = [0] * n

    def run(i: int) -> None:
        start.wait(10)
        statuses[i] = attempt(i)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + within
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return statuses


def wrong_login(port: int, headers: dict | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=40)
    try:
        conn.request(
            "POST",
            "/login",
            urllib.parse.urlencode({"password": "not the password"}),
            {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
        )
        return conn.getresponse().status
    except OSError:
        return -1
    finally:
        conn.close()


@pytest.fixture
def own_locked(tmp_path):
    """A password-protected server of the test's own (its limits are spent by the test)."""
    srv = Server(tmp_path)
    assert cli(srv.data_dir, "passwd", stdin=PASSWORD + "\n").returncode == 0
    srv.start()
    yield srv
    srv.stop()


def test_200_concurrent_wrong_passwords_through_nginx_check_at_most_5(own_locked, tmp_path):
    require(tools_missing(str(NGINX), "puppet"))
    nginx = shipped_nginx(
        tmp_path, [f"127.0.0.1:{own_locked.port}"], main={"worker_connections": 1024}
    ).start()
    try:
        port = int(nginx.url.rsplit(":", 1)[1])
        statuses = concurrently(200, lambda i: wrong_login(port))
    finally:
        nginx.stop()
    assert statuses.count(401) <= MAX_FAILURES, statuses
    # 429 from hostpulse's limit; 503 from the site's own cap of 64 connections per client
    assert set(statuses) <= {401, 429, 503} and statuses.count(429) > 0, sorted(set(statuses))
    time.sleep(0.2)
    access = (own_locked.log_dir / "access.log").read_text()
    assert access.count('"LOGIN FAILED"') <= MAX_FAILURES
    refused = access.count('127.0.0.1 - "LOGIN REFUSED" rate-limited')
    assert refused == statuses.count(429) >= 200 - MAX_FAILURES - statuses.count(503)


def test_a_new_forwarded_address_each_try_meets_the_global_cap(own_locked):
    statuses = concurrently(
        200, lambda i: wrong_login(own_locked.port, {"X-Forwarded-For": f"198.51.100.{i}"})
    )
    assert statuses.count(401) <= MAX_GLOBAL_FAILURES, statuses.count(401)
    assert statuses.count(401) + statuses.count(429) == 200, sorted(set(statuses))
    # and from then on nobody gets a password checked, the right one included
    status, headers, _ = login(own_locked, headers={"X-Forwarded-For": "192.0.2.99"})
    assert status == 429 and int(headers["retry-after"]) > 0
    time.sleep(0.2)
    assert "rate-limited (all clients)" in (own_locked.log_dir / "access.log").read_text()


def test_a_forwarded_value_that_is_no_address_is_not_the_client(locked):
    junk = "<script>x</script>, 2001:db8::zz"
    assert login(locked, "not it at all", {"X-Forwarded-For": junk})[0] == 401
    assert login(locked, "not it at all", {"X-Forwarded-For": "203.0.113.50, junk"})[0] == 401
    time.sleep(0.2)
    failed = [x for x in (locked.log_dir / "access.log").read_text().splitlines() if "FAILED" in x]
    assert "script" not in "".join(failed) and "junk" not in "".join(failed)
    for line in failed[-2:]:  # after the time: the client
        assert line.split(" ", 2)[2].startswith('127.0.0.1 - "LOGIN FAILED"'), failed[-2:]
    assert login(locked)[0] == 303  # a success clears the loopback client's count again


def test_logout_revokes_the_cookie_server_side_even_after_a_restart(own_locked):
    old = cookie_of(login(own_locked)[1])
    other = cookie_of(login(own_locked)[1])  # another browser, logged in too
    assert request(own_locked, "GET", "/api/v1/hosts", headers={"Cookie": old})[0] == 200
    assert request(own_locked, "POST", "/logout", headers={"Cookie": old})[0] == 303
    # the copy of the old cookie that a thief kept
    assert request(own_locked, "GET", "/api/v1/hosts", headers={"Cookie": old})[0] == 401
    assert request(own_locked, "GET", "/", headers={"Cookie": old})[0] == 303
    viewer = RawViewer(own_locked.url, headers=[f"Cookie: {old}"])
    try:
        assert viewer.next_frame().startswith("44/live,")
    finally:
        viewer.close()
    assert request(own_locked, "GET", "/api/v1/hosts", headers={"Cookie": other})[0] == 200
    revoked = own_locked.data_dir / "revoked_sessions"
    assert revoked.stat().st_mode & 0o777 == 0o600
    own_locked.stop()
    own_locked.start()
    assert request(own_locked, "GET", "/api/v1/hosts", headers={"Cookie": old})[0] == 401
    assert request(own_locked, "GET", "/api/v1/hosts", headers={"Cookie": other})[0] == 200


def polling(server, method: str, query: str, cookie: str | None = None, body: str | None = None):
    headers = {"Cookie": cookie} if cookie else {}
    if body is not None:
        headers["Content-Type"] = "text/plain;charset=UTF-8"
    return request(server, method, f"/socket.io/?EIO=4&transport=polling{query}", body, headers)


def test_an_engineio_sid_is_no_credential(locked):
    cookie = cookie_of(login(locked)[1])
    status, _, body = polling(locked, "GET", "", cookie)
    assert status == 200, body
    sid = json.loads(body[body.index(b"{") :])["sid"]
    assert polling(locked, "POST", f"&sid={sid}", cookie, "40/live,")[0] == 200
    status, _, body = polling(locked, "GET", f"&sid={sid}", cookie)
    assert status == 200 and b"40/live," in body  # the logged-in viewer is connected
    # Someone else with the sid but no session: no data, no upgrade, no events.
    status, _, body = polling(locked, "GET", f"&sid={sid}")
    assert status == 401, body
    assert polling(locked, "POST", f"&sid={sid}", None, '42/live,["resync",{}]')[0] == 401
    ws_url = locked.url.replace("http", "ws", 1)
    upgrade = f"{ws_url}/socket.io/?EIO=4&transport=websocket&sid={sid}"
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(upgrade, timeout=5)
    assert refused.value.status_code == 401
    # the owner carries on
    status, _, body = polling(locked, "GET", f"&sid={sid}", cookie)
    assert status == 200, body
    time.sleep(0.2)
    assert sid not in (locked.log_dir / "access.log").read_text()


# --- the Host header (DNS rebinding) ------------------------------------------------------


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    """No password (the case DNS rebinding reads), one extra name and one extra domain."""
    srv = Server(
        tmp_path_factory.mktemp("hosts"),
        extra_env={"HOSTPULSE_ALLOWED_HOSTS": "dash.example.com, .example.org"},
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.parametrize(
    "path", ["/", "/api/v1/hosts", "/metrics", "/socket.io/?EIO=4&transport=polling"]
)
def test_a_foreign_host_header_is_refused_with_421(open_server, path):
    status, headers, body = request(open_server, "GET", path, headers={"Host": "evil.example"})
    assert status == 421, body
    assert b"evil.example" in body and b"allowed_hosts" in body
    assert headers["content-type"].startswith("text/plain")


def test_a_rebinding_page_cannot_open_the_websocket(open_server):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(
            open_server.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket",
            timeout=5,
            host=f"evil.example:{open_server.port}",
        )
    assert refused.value.status_code == 421


def test_our_own_names_and_the_allowed_ones_are_served(open_server):
    port = open_server.port
    ours = [
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        "LOCALHOST",
        f"[::1]:{port}",
        f"{socket.gethostname()}:{port}",
        f"{socket.getfqdn()}.",
        "dash.example.com",
        "example.org",
        "a.b.example.org:443",
    ]
    for host in ours:
        status, _, body = request(open_server, "GET", "/api/v1/hosts", headers={"Host": host})
        assert status == 200, (host, body)
    for host in ("example.com", "dash.example.com.evil.example", "notexample.org", "a b"):
        assert request(open_server, "GET", "/", headers={"Host": host})[0] == 421, host
    # health probes may use any name
    assert request(open_server, "GET", "/healthz", headers={"Host": "evil.example"})[0] == 200
    time.sleep(0.2)
    log = (open_server.log_dir / "access.log").read_text()
    assert log.count("refused requests for Host 'evil.example'") == 1  # once per Host
