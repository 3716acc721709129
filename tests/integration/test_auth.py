"""Password login, sessions, API tokens and the login rate limit, on a real server."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import websocket

from support import PASSWORD, RawViewer, Server, cookie_of, hostpulse, http_get, login, request

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
