"""The shipped nginx site (rendered by Puppet's own template engine) in front of a real
`hostpulse serve`, driven by a real Chromium.

Needs Debian's nginx, puppet (for `puppet epp render`), chromium and the vendored assets;
skips outside CI when one is missing, fails in CI (.ci/run installs them).
"""

from __future__ import annotations

import http.client
import subprocess
import time

import pytest

from support import (
    NGINX,
    Nginx,
    Page,
    Server,
    browser_missing,
    free_port,
    get_json,
    http_get,
    nginx_site,
    require,
    shipped_nginx,
    tools_missing,
)

pytestmark = pytest.mark.e2e
require(tools_missing(str(NGINX), "puppet") or browser_missing())

# Each hello's history: how many cpu.total points the charts were seeded with.
RECORD_HELLOS = """() => {
  window.__hellos = [];
  window.hostpulse.live.on("hello", (m) => window.__hellos.push(
    m.history ? m.history.series["cpu.total"].filter((v) => v !== null).length : 0));
}"""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("app")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def proxy(app, tmp_path_factory):
    nginx = shipped_nginx(tmp_path_factory.mktemp("nginx"), [f"127.0.0.1:{app.port}"]).start()
    yield nginx
    nginx.stop()


def test_page_through_nginx_is_live_over_websocket(browser, proxy):
    page = Page(browser, proxy.url)
    try:
        page.open()  # also checks the app's Content-Security-Policy came through
        assert page.transport() == "websocket"  # not long-polling: the upgrade passed
        seen = {page.text("#cpu-total")}
        deadline = time.monotonic() + 20
        while len(seen) < 2 and time.monotonic() < deadline:
            page.wait_ticks(1)
            seen.add(page.text("#cpu-total"))
        assert len(seen) >= 2, f"cpu-total never changed through nginx: {seen}"
        assert page.transport() == "websocket"
        page.screenshot("nginx-page.png")
        assert page.problems == []
    finally:
        page.close()


def test_static_files_come_from_nginx_with_cache_and_gzip(proxy):
    status, headers, body = http_get(proxy.url + "/static/js/main.js")
    assert status == 200
    assert headers["X-Served-By"] == "nginx"
    assert headers["Cache-Control"] == "public, max-age=3600"
    assert headers["Content-Type"] == "application/javascript"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert b"hostpulse" in body
    status, headers, _ = http_get(
        proxy.url + "/static/vendor/socket.io.min.js", {"Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Vary"] == "Accept-Encoding"
    # the page and the API are the app's (its headers, not nginx's)
    status, headers, _ = http_get(proxy.url + "/")
    assert status == 200 and "X-Served-By" not in headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    status, health = get_json(proxy.url + "/healthz")
    assert status == 200 and health["status"] == "ok"


def test_forwarded_for_reaches_the_app_log(app, proxy):
    http_get(proxy.url + "/healthz?forwarded-probe", {"X-Forwarded-For": "203.0.113.9"})
    access = (app.log_dir / "access.log").read_text()
    line = next(x for x in access.splitlines() if "forwarded-probe" in x)
    # nginx appended the client (127.0.0.1) to the chain; the app, trusting loopback proxies
    # only, names the nearest untrusted address: the one the client claimed.
    assert "203.0.113.9" in line, line


def test_no_errors_and_no_5xx_in_nginx_logs(proxy):
    # runs after the tests above in this module (file order)
    assert proxy.errors() == []
    statuses = proxy.statuses()
    assert statuses, "nothing in nginx's access log"
    assert [s for s in statuses if s[1] >= 500] == []


def test_app_down_then_back_through_nginx(browser, tmp_path):
    """Stop the app: the page says disconnected and nginx answers 502. Start it on the same
    port: the page reconnects by itself within seconds, and its charts keep the history."""
    app = Server(tmp_path / "app")
    app.data_dir.mkdir(parents=True)
    app.start()
    nginx = shipped_nginx(tmp_path, [f"127.0.0.1:{app.port}"]).start()
    url = nginx.url
    page = Page(browser, url)
    try:
        page.open()
        page.page.evaluate(RECORD_HELLOS)
        page.wait_ticks(6)  # 3 s of history at interval 0.5
        assert page.transport() == "websocket"

        app.stop()
        page.wait_state("disconnected", timeout=10000)
        status, _, _ = http_get(url + "/api/v1/hosts")
        assert status == 502

        app.start()  # same port, same data directory
        t0 = time.monotonic()
        page.wait_state("connected", timeout=10000)
        reconnect = time.monotonic() - t0
        page.wait_ticks(2)
        assert page.transport() == "websocket"
        assert reconnect < 8, f"reconnected after {reconnect:.1f}s"
        hellos = page.page.evaluate("() => window.__hellos")
        assert len(hellos) == 1, hellos
        assert hellos[0] >= 3, f"the charts lost their history: {hellos[0]} points"
        assert get_json(url + "/api/v1/hosts")[0] == 200
        # the only errors are the refused connections while the app was down
        assert nginx.errors(), "expected nginx to log the refused upstream"
        assert all("connect() failed (111" in line for line in nginx.errors()), nginx.errors()
        assert [m for m in page.problems if "/socket.io/" not in m] == []
    finally:
        page.close()
        nginx.stop()
        app.stop()


def test_tls_variant_serves_the_live_page_over_https(browser, tmp_path):
    """The TLS site with a throw-away certificate: wss transport (Socket.IO's origin check
    passes only if nginx forwards Host with its port and X-Forwarded-Proto), plain HTTP
    redirects to HTTPS."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    app = Server(tmp_path / "app")
    app.data_dir.mkdir(parents=True)
    app.start()
    http_port, https_port = free_port(), free_port()
    site = nginx_site(
        tmp_path,
        f"127.0.0.1:{http_port}",
        [f"127.0.0.1:{app.port}"],
        tls=True,
        tls_listen=[f"127.0.0.1:{https_port} ssl"],
        tls_cert=str(cert),
        tls_key=str(key),
    )
    nginx = Nginx(tmp_path / "nginx", site).start()
    url = f"https://127.0.0.1:{https_port}"
    page = Page(browser, url, ignore_https_errors=True)
    try:
        plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
        plain.request("GET", "/x")
        answer = plain.getresponse()
        assert answer.status == 301
        assert answer.getheader("Location") == "https://127.0.0.1/x"
        plain.close()
        page.open()
        assert page.transport() == "websocket"
        page.wait_ticks(2)
        assert page.page.evaluate("() => location.protocol") == "https:"
        assert nginx.errors() == []
        assert page.problems == []
    finally:
        page.close()
        nginx.stop()
        app.stop()
