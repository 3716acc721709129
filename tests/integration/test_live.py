"""The /live namespace through a real server and real Socket.IO clients."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest
import socketio

from support import RawViewer, Server, http_get, wait_until

pytestmark = pytest.mark.integration


def apply(state: dict, payload: dict) -> dict:
    if payload["full"]:
        return dict(payload["values"])
    state = {**state, **payload["values"]}
    for key in payload["gone"]:
        state.pop(key, None)
    return state


def test_hello_once_with_facts_sample_and_history(server):
    client = socketio.Client(reconnection=False)
    events: list[tuple[str, dict]] = []
    client.on("hello", lambda data: events.append(("hello", data)), namespace="/live")
    client.on("sample", lambda data: events.append(("sample", data)), namespace="/live")
    client.connect(server.url, namespaces=["/live"], transports=["websocket"])
    try:
        deadline = time.monotonic() + 10
        while sum(1 for name, _ in events if name == "sample") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.disconnect()
    names = [name for name, _ in events]
    assert names[0] == "hello" and names.count("hello") == 1
    hello = events[0][1]
    assert hello["protocol"] == 2
    assert hello["facts"]["hostname"] == socket.gethostname()
    assert hello["sample"]["values"]["mem.total"] > 0
    assert set(hello["history"]["series"]) >= {"cpu.total", "mem.percent"}
    assert len(hello["history"]["ts"]) == len(hello["history"]["series"]["cpu.total"])
    seqs = [data["seq"] for name, data in events if name == "sample"]
    assert seqs[0] == hello["sample"]["seq"] + 1
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_deltas_reproduce_the_servers_full_sample(server):
    viewer = RawViewer(server.url)
    try:
        hello, _ = viewer.wait_for("hello")
        state, seq = hello["sample"]["values"], hello["sample"]["seq"]
        for _ in range(4):
            payload, _ = viewer.wait_for("sample")
            assert payload["full"] or payload["seq"] == seq + 1
            state, seq = apply(state, payload), payload["seq"]
        viewer.send_event("resync", {})
        full, _ = viewer.wait_for("sample")
        while not full["full"]:  # a tick may land between our resync and its answer
            state, seq = apply(state, full), full["seq"]
            full, _ = viewer.wait_for("sample")
        assert full["seq"] == seq
        assert state == full["values"]
    finally:
        viewer.close()


def test_two_viewers_get_the_same_bytes(server):
    a, b = RawViewer(server.url), RawViewer(server.url)
    try:
        a.wait_for("hello")
        b.wait_for("hello")
        frames_a = {
            json.loads(raw[len("42/live,") :])[1]["seq"]: raw
            for _, raw in (a.wait_for("sample") for _ in range(3))
        }
        frames_b = {
            json.loads(raw[len("42/live,") :])[1]["seq"]: raw
            for _, raw in (b.wait_for("sample") for _ in range(3))
        }
        common = set(frames_a) & set(frames_b)
        assert common
        for seq in common:
            assert frames_a[seq] == frames_b[seq]
    finally:
        a.close()
        b.close()


def test_processes_only_while_watched(server):
    viewer = RawViewer(server.url)
    try:
        viewer.wait_for("hello")
        viewer.send_event("watch", {"panels": ["processes"]})
        table, _ = viewer.wait_for("processes", timeout=10)
        assert table["count"] > 0 and table["by_cpu"] and table["by_memory"]
        row = table["by_memory"][0]
        assert {"pid", "name", "user", "cpu", "rss", "mem_percent", "state", "cmd"} <= set(row)
        viewer.send_event("watch", {"panels": []})
        time.sleep(server.interval * 2)
        viewer.frames.clear()
        for _ in range(3):
            viewer.wait_for("sample")
        assert not any('["processes"' in f for f in viewer.frames)
    finally:
        viewer.close()


def test_bad_watch_gets_an_error_and_the_connection_stays(server):
    viewer = RawViewer(server.url)
    try:
        viewer.wait_for("hello")
        viewer.send_event("watch", {"panels": "processes"})
        error, _ = viewer.wait_for("error")
        assert error["event"] == "watch" and "list" in error["message"]
        viewer.send_event("watch", {"panels": ["nope"]})
        error, _ = viewer.wait_for("error")
        assert "nope" in error["message"]
        viewer.wait_for("sample")
    finally:
        viewer.close()


def test_ping_is_acked_with_server_time(server):
    viewer = RawViewer(server.url)
    try:
        viewer.wait_for("hello")
        viewer.send_event("ping", {}, ack=7)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            frame = viewer.next_frame()
            if frame.startswith("43/live,7"):
                assert abs(json.loads(frame[len("43/live,7") :])[0]["ts"] - time.time()) < 5
                return
        pytest.fail("no ack")
    finally:
        viewer.close()


def test_viewer_count_on_metrics(server):
    viewer = RawViewer(server.url)
    try:
        viewer.wait_for("hello")
        text = http_get(server.url + "/metrics")[2].decode()
        viewers = [line for line in text.splitlines() if line.startswith("hostpulse_viewers ")]
        assert viewers and float(viewers[0].split()[1]) >= 1
    finally:
        viewer.close()


def test_polling_then_upgrade_keeps_the_ticks_in_order(server):
    """A client that starts on long-polling and upgrades (Socket.IO's default) gets the same
    events in order: its session keeps Engine.IO's queue, our outbox writes its frames."""
    client = socketio.Client(reconnection=False)
    seqs: list[int] = []
    hellos: list[dict] = []
    client.on("hello", hellos.append, namespace="/live")
    client.on("sample", lambda data: seqs.append(data["seq"]), namespace="/live")
    client.connect(server.url, namespaces=["/live"], transports=["polling", "websocket"])
    try:
        deadline = time.monotonic() + 15
        while len(seqs) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.transport() == "websocket"
    finally:
        client.disconnect()
    assert len(hellos) == 1 and len(seqs) >= 6
    assert seqs[0] == hellos[0]["sample"]["seq"] + 1
    assert seqs == sorted(set(seqs))  # in order, none twice


def test_each_websocket_viewer_holds_one_file_descriptor(tmp_path):
    """The driver takes pywsgi's own socket over: no second descriptor per viewer, and each
    is closed when its viewer leaves. (A server of its own: nobody else's sockets count.)"""
    server = Server(tmp_path).start()

    def fds() -> int:
        return len(os.listdir(f"/proc/{server.process.pid}/fd"))

    try:
        before = fds()
        viewers = [RawViewer(server.url) for _ in range(20)]
        for viewer in viewers:
            viewer.wait_for("hello")
        assert fds() - before == len(viewers)
        for viewer in viewers:
            viewer.close()
        wait_until(lambda: fds() == before, 10, "descriptors back after the viewers left")
    finally:
        server.stop()
