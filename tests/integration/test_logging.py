"""Logging through a real server: the three files, rotation, and the client in access lines."""

from __future__ import annotations

import re
import time
from importlib import resources

import pytest

from support import RawViewer, Server, http_get

pytestmark = pytest.mark.integration

#: An access line: the time (as in hostpulse.log), then the client address.
ACCESS_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (\S+) ")


def small_rotation_config(tmp_path) -> str:
    shipped = resources.files("hostpulse").joinpath("logging.yaml").read_text()
    path = tmp_path / "logging.yaml"
    path.write_text(shipped.replace("maxBytes: 10485760", "maxBytes: 4000"))
    return str(path)


def wait_for_text(path, text: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text() if path.exists() else ""
        if text in content:
            return content
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in {path}: {content[-500:]!r}")


def test_three_files_rotation_and_client_address(tmp_path):
    config = small_rotation_config(tmp_path)
    srv = Server(tmp_path, extra_env={"HOSTPULSE_LOGGING_CONFIG": config}).start()
    try:
        # nginx on loopback is a trusted proxy: its X-Forwarded-For names the client.
        http_get(srv.url + "/healthz", {"X-Forwarded-For": "203.0.113.7"})
        access = wait_for_text(srv.log_dir / "access.log", "203.0.113.7")
        assert '"GET /healthz HTTP/1.1" 200' in access
        line = next(li for li in access.splitlines() if "203.0.113.7" in li)
        match = ACCESS_LINE.match(line)
        assert match and match.group(1) == "203.0.113.7", line
        viewer = RawViewer(srv.url, headers=["X-Forwarded-For: 198.51.100.9"])
        viewer.wait_for("hello")
        viewer.close()
        wait_for_text(srv.log_dir / "access.log", "WEBSOCKET CONNECT")
        for _ in range(60):
            http_get(srv.url + "/api/v1/hosts/nope")
        assert (srv.log_dir / "access.log.1").exists()
        assert (srv.log_dir / "hostpulse.log").exists()
        assert (srv.log_dir / "error.log").exists()
        wait_for_text(srv.log_dir / "hostpulse.log", "hostpulse serving host")
    finally:
        assert srv.stop() == 0


def test_forwarded_for_ignored_from_untrusted_peer(tmp_path):
    srv = Server(tmp_path, extra_env={"HOSTPULSE_TRUSTED_PROXIES": "10.9.9.9"}).start()
    try:
        http_get(srv.url + "/healthz", {"X-Forwarded-For": "203.0.113.7"})
        access = wait_for_text(srv.log_dir / "access.log", "/healthz")
        assert "203.0.113.7" not in access
        match = ACCESS_LINE.match(access)
        assert match and match.group(1) == "127.0.0.1", access
    finally:
        srv.stop()


def test_unwritable_log_dir_keeps_serving_and_says_so_once(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    srv = Server(tmp_path, args=["--log-dir", str(blocker / "log")]).start()
    try:
        assert http_get(srv.url + "/api/v1/hosts")[0] == 200
    finally:
        srv.stop()
    output = srv.output()
    assert output.count("cannot write log files") == 1
