"""One client must not stop the server: floods, idle and half-sent connections, connection
caps, the descriptor reserve (issue 17). Real server, real sockets; each test stops by itself.
"""

from __future__ import annotations

import contextlib
import re
import resource
import socket
import time

import pytest
import websocket

from support import FLOOD_FRAMES, Probe, RawViewer, Server, connect_from, http_get, wait_until

pytestmark = pytest.mark.integration

FLOOD_SECONDS = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("hostile"), interval=0.5).start()
    yield srv
    srv.stop()


def app_log(server) -> str:
    return (server.log_dir / "hostpulse.log").read_text(errors="replace")


def flood(sock: socket.socket, chunk: bytes, seconds: float) -> float | None:
    """Send ``chunk`` again and again; seconds until the server closed on us, or None."""
    sock.settimeout(2)
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        try:
            sock.sendall(chunk)
        except OSError:  # reset or broken pipe: the server closed the connection
            return time.monotonic() - start
    return None


@pytest.mark.parametrize("kind", list(FLOOD_FRAMES))
def test_a_flooding_connection_is_closed_and_the_others_are_served(server, kind):
    probe = Probe(server.url)
    attacker = RawViewer(server.url)
    lines_before = app_log(server).count("input budget")
    try:
        start = time.time()
        closed_after = flood(attacker.ws.sock, FLOOD_FRAMES[kind] * 200, FLOOD_SECONDS)
        status, _, _ = http_get(server.url + "/healthz", timeout=5)
        gap = probe.longest_gap(start)
    finally:
        attacker.close()
        probe.stop()
    assert closed_after is not None, f"a flood of {kind} was not closed in {FLOOD_SECONDS}s"
    assert status == 200
    assert gap < 5, f"the other viewer went {gap:.1f}s without a sample"
    wait_until(
        lambda: app_log(server).count("input budget") == lines_before + 1,
        5,
        "one log line for the closed connection",
    )


def test_a_resync_answers_that_viewer_alone_and_keeps_the_full_schedule(tmp_path):
    """A resync every tick must not push back everyone's periodic full sample."""
    srv = Server(tmp_path, interval=0.3, extra_env={"HOSTPULSE_FULL_EVERY": "5"}).start()
    asker, watcher = RawViewer(srv.url), RawViewer(srv.url)
    try:
        asker.wait_for("hello")
        watcher.wait_for("hello")
        fulls = 0
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and fulls < 2:
            asker.send_event("resync")
            payload, _ = watcher.wait_for("sample")
            fulls += payload["full"]
        assert fulls >= 2, "the resyncs of one viewer stopped the full samples of the others"
    finally:
        asker.close()
        watcher.close()
        srv.stop()


def test_a_repeated_resync_of_the_same_state_is_answered_once(server):
    viewer = RawViewer(server.url)
    try:
        viewer.wait_for("hello")
        viewer.wait_for("sample")
        for _ in range(20):  # within one tick: the same state each time
            viewer.send_event("resync")
        fulls = []
        deadline = time.monotonic() + 0.4
        while time.monotonic() < deadline:
            with contextlib.suppress(websocket.WebSocketTimeoutException):
                name, payload, _ = viewer.next_event(timeout=0.2)
                if name == "sample" and payload["full"]:
                    fulls.append(payload["seq"])
        assert fulls and len(fulls) == len(set(fulls)), fulls
    finally:
        viewer.close()


def test_a_pipelined_request_flood_on_one_connection_is_closed(server):
    sock = connect_from(server.url, "127.0.0.2")  # not a trusted proxy
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    try:
        closed_after = flood(sock, request * 50, FLOOD_SECONDS)
        received = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                received += chunk
    finally:
        sock.close()
    assert closed_after is not None
    assert 0 < received.count(b"HTTP/1.1 200") < 400


def test_idle_and_half_sent_connections_are_closed_after_the_header_timeout(tmp_path):
    srv = Server(tmp_path, extra_env={"HOSTPULSE_HEADER_TIMEOUT": "2"}).start()
    socks = []
    try:
        for i in range(100):
            sock = connect_from(srv.url, f"127.0.0.{2 + i % 8}")
            if i % 2:  # half of them start a request and never finish it
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            socks.append(sock)
        start = time.monotonic()
        for sock in socks:
            sock.settimeout(10)
            assert sock.recv(100) == b""  # closed by the server
        took = time.monotonic() - start
        assert took < 8, f"closed only after {took:.1f}s"
        _, _, body = http_get(srv.url + "/metrics")
        timed_out = re.search(rb"^hostpulse_connections_timed_out_total (\S+)", body, re.M)
        assert timed_out and float(timed_out.group(1)) >= 100
        assert app_log(srv).count("sent no complete request") == 1
    finally:
        for sock in socks:
            sock.close()
        srv.stop()


def test_a_client_over_its_cap_is_refused_with_a_clear_answer(tmp_path):
    srv = Server(tmp_path, extra_env={"HOSTPULSE_MAX_CONNECTIONS_PER_CLIENT": "5"}).start()
    held = [connect_from(srv.url, "127.0.0.2") for _ in range(5)]
    try:
        time.sleep(0.3)  # let the server count them
        extra = connect_from(srv.url, "127.0.0.2")
        answer = extra.recv(1000)
        extra.close()
        assert answer.startswith(b"HTTP/1.1 503")
        assert b"127.0.0.2 holds its maximum of 5" in answer
        other = connect_from(srv.url, "127.0.0.3")  # another client is served
        other.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert other.recv(100).startswith(b"HTTP/1.1 200")
        other.close()
        assert http_get(srv.url + "/healthz")[0] == 200  # loopback: a trusted proxy
    finally:
        for sock in held:
            sock.close()
        srv.stop()


def test_connections_never_take_the_descriptors_the_sampler_needs(tmp_path):
    """With a low open-files limit and far more connections than it allows, the sampler and
    history miss no tick and no collector fails for lack of a descriptor."""
    limit = 400

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    srv = Server(
        tmp_path, interval=0.5, extra_env={"HOSTPULSE_HEADER_TIMEOUT": "60"}, preexec=low_limit
    )
    srv.start()
    socks, refused = [], 0
    try:
        start = time.time()
        for i in range(600):
            sock = connect_from(srv.url, f"127.0.1.{1 + i // 30}")  # within each rate
            socks.append(sock)
        time.sleep(4)  # 8 ticks while every descriptor the cap allows is held
        for sock in socks:
            sock.settimeout(0.05)
            with contextlib.suppress(OSError):
                refused += sock.recv(20).startswith(b"HTTP/1.1 503")
        for sock in socks:
            sock.close()
        socks = []
        wait_until(lambda: http_get(srv.url + "/healthz")[0] == 200, 10, "serving again")
        _, _, body = http_get(srv.url + "/metrics")
        assert b"hostpulse_collector_errors_total{" not in body
        history = http_get(
            f"{srv.url}/api/v1/hosts/{socket.gethostname()}/history"
            f"?keys=cpu.total&since={start:.0f}&step=0.5"
        )
        assert history[0] == 200
    finally:
        for sock in socks:
            sock.close()
        srv.stop()
    assert refused >= 600 - (limit - 256), refused
    assert "Too many open files" not in srv.output()
