"""Bad Socket.IO input on a real server: replies or drops, never a trace, never other viewers."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import subprocess
import time

import pytest
import websocket

from support import SOCKETIO_PATH, RawViewer, Server, client_frame, http_get

pytestmark = pytest.mark.integration


@pytest.fixture
def watcher(server):
    """A well-behaved viewer that must keep getting samples whatever the others send."""
    viewer = RawViewer(server.url)
    viewer.wait_for("hello")
    yield viewer
    viewer.wait_for("sample")
    viewer.close()
    assert "Traceback" not in server.output()


@pytest.mark.parametrize(
    "event, payload, message",
    [
        ("nope", {}, "unknown event"),
        ("disconnect", {}, "unknown event"),
        ("connect", {}, "unknown event"),
        ("__init__", {}, "unknown event"),
        ("watch", ["processes"], "payload must be an object"),
        ("watch", "processes", "payload must be an object"),
        ("watch", {"panels": "processes"}, "panels must be a list"),
        ("watch", {"panels": [1, 2]}, "panels must be a list of strings"),
    ],
)
def test_bad_events_get_an_error_reply(server, watcher, event, payload, message):
    viewer = RawViewer(server.url)
    try:
        viewer.wait_for("hello")
        viewer.send_event(event, payload)
        error, _ = viewer.wait_for("error")
        assert error["event"] == event and message in error["message"]
        viewer.frames.clear()
        viewer.wait_for("sample")  # still connected, still a viewer
        assert not any('["hello"' in f for f in viewer.frames)
    finally:
        viewer.close()


def test_events_with_extra_arguments_or_no_name(server, watcher):
    viewer = RawViewer(server.url)
    try:
        viewer.wait_for("hello")
        viewer.ws.send('42/live,["resync",{},{}]')
        error, _ = viewer.wait_for("error")
        assert "at most one payload" in error["message"]
        viewer.ws.send("42/live,[123]")
        error, _ = viewer.wait_for("error")
        assert error["event"] is None
        viewer.ws.send("42/live,[]")
        viewer.wait_for("error")
    finally:
        viewer.close()


@pytest.mark.parametrize(
    "frame",
    [
        "42/live,{not json",
        "4",
        "49",
        '42/nowhere,["watch",{}]',
        '451-/live,["watch",{"_placeholder":true,"num":0}]',
        '461-/live,1[{"_placeholder":true,"num":0}]',
        "43/live,99[]",
        "41/live,",
        "7",
        "\x00\xff",
    ],
)
def test_garbage_frames_are_dropped(server, watcher, frame):
    viewer = RawViewer(server.url)
    try:
        viewer.wait_for("hello")
        viewer.ws.send(frame)
        viewer.ws.send_binary(b"\x04\x00binary")
        watcher.wait_for("sample")
    finally:
        viewer.close()


def test_oversized_message_closes_only_that_connection(server, watcher):
    viewer = RawViewer(server.url)
    try:
        viewer.wait_for("hello")
        started = time.monotonic()
        viewer.ws.send("42/live," + json.dumps(["watch", {"panels": ["x" * 200_000]}]))
        with pytest.raises((websocket.WebSocketException, OSError, TimeoutError)):
            for _ in range(100):
                viewer.next_frame(timeout=5)
        assert time.monotonic() - started < 5
    finally:
        viewer.close()
    watcher.wait_for("sample")


def test_oversized_polling_post_is_refused(server, watcher):
    import urllib.request

    status, _, body = http_get(server.url + "/socket.io/?EIO=4&transport=polling")
    sid = json.loads(body[1:])["sid"]
    data = b"4" + b"x" * 100_000
    request = urllib.request.Request(
        server.url + f"/socket.io/?EIO=4&transport=polling&sid={sid}", data=data, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    assert 400 <= status < 500


def raw_viewer(server) -> tuple[socket.socket, str]:
    """A websocket connected to /live by hand: (socket, Engine.IO session id)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {SOCKETIO_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    data = b""
    while b'"sid"' not in data:  # the 101 answer, then Engine.IO's open packet
        data += sock.recv(4096)
    sid = json.loads(data[data.index(b"{") : data.index(b"}") + 1])["sid"]
    sock.sendall(client_frame(0x1, b"40/live,"))
    return sock, sid


def session_alive(server, sid: str) -> bool:
    """Engine.IO refuses a poll on a websocket session as unexpected, on a gone one as an
    invalid session."""
    url = f"{server.url}/socket.io/?EIO=4&transport=polling&sid={sid}"
    return b"Invalid session" not in http_get(url)[2]


def closed_by_server(sock: socket.socket, within: float) -> bool:
    deadline = time.monotonic() + within
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


@pytest.mark.parametrize(
    "frame, logged",
    [
        (client_frame(0x1, b'42/live,["ping","\xff\xfe"]'), "bad websocket frame"),  # bad UTF-8
        (client_frame(0x1, b'42/live,["ping"]', mask=False), "bad websocket frame"),
        (client_frame(0x1, b"2", first=0xC0), "bad websocket frame"),  # a reserved bit
        (client_frame(0x3, b"xx"), "bad websocket frame"),  # no such opcode
        (client_frame(0x1, b"x"), "undecodable Engine.IO packet"),
        (client_frame(0x1, b""), "undecodable Engine.IO packet"),
    ],
    ids=["utf8", "unmasked", "rsv", "opcode", "eio-x", "eio-empty"],
)
def test_an_undecodable_frame_ends_its_session_at_once(server, watcher, frame, logged):
    sock, sid = raw_viewer(server)
    try:
        assert session_alive(server, sid)
        sock.sendall(frame)
        # Engine.IO's ping timeout would take 25 + 20 s; the reader ends it now.
        assert closed_by_server(sock, within=5)
        deadline = time.monotonic() + 5
        while session_alive(server, sid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not session_alive(server, sid)
    finally:
        sock.close()
    lines = [line for line in server.output().splitlines() if sid in line]
    assert len([line for line in lines if logged in line]) == 1, lines


@pytest.mark.parametrize("body", [b"garbage", b"\x00\xff\x01garb", b"{}", b"x" * 300])
def test_a_garbage_polling_post_is_refused_in_one_line(server, watcher, body):
    """Anonymous (no password on this server): a few bytes that are no Engine.IO payload."""
    _, _, opened = http_get(server.url + "/socket.io/?EIO=4&transport=polling")
    sid = json.loads(opened[opened.index(b"{") :])["sid"]
    errors = server.log_dir / "error.log"
    before = errors.read_text() if errors.exists() else ""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("POST", f"/socket.io/?EIO=4&transport=polling&sid={sid}", body)
        response = conn.getresponse()
        assert response.status == 400 and b"Engine.IO" in response.read()
    finally:
        conn.close()
    time.sleep(0.3)
    after = errors.read_text() if errors.exists() else ""
    new = after[len(before) :]
    assert "Traceback" not in new and len(new.splitlines()) <= 1, new
    assert "Traceback" not in server.output()


def test_a_read_only_data_directory_is_named_with_the_cause(tmp_path):
    """Checked before anything is written: the message names the setting, the directory and
    why (root, as CI runs, gets a read-only mount; anyone else a directory without write
    permission)."""
    data = tmp_path / "data"
    data.mkdir()
    mounted = os.geteuid() == 0
    if mounted:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(data)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a read-only tmpfs here: {done.stderr!r}")
    else:
        data.chmod(0o555)
    try:
        srv = Server(tmp_path, args=["--data-dir", str(data)])
        with pytest.raises(RuntimeError, match="exited 2"):
            srv.start(wait=20)
        output = srv.output()
    finally:
        if mounted:
            subprocess.run(["umount", str(data)], check=True)
        else:
            data.chmod(0o755)
    assert f"setting 'data_dir': {data} is " in output, output
    assert ("read-only file system" if mounted else "not writable") in output, output
    assert "cannot listen" not in output and "Traceback" not in output
