"""A viewer that stops reading its socket: bounded memory, others unaffected, cut off."""

from __future__ import annotations

import socket
import time

import pytest

from support import RawViewer, Server, http_get

pytestmark = pytest.mark.integration

STALL_TIMEOUT = 3


def metric(server: Server, name: str) -> float:
    _, _, body = http_get(server.url + "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(name)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@pytest.fixture
def server(tmp_path):
    srv = Server(
        tmp_path, interval=0.25, extra_env={"HOSTPULSE_STALL_TIMEOUT": str(STALL_TIMEOUT)}
    ).start()
    yield srv
    srv.stop()


def test_a_stalled_viewer_is_bounded_does_not_hold_up_others_and_is_disconnected(server):
    reader = RawViewer(server.url)
    stalled = [
        # A small receive window and no recv(): the server's writes soon stop going through.
        RawViewer(server.url, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
        for _ in range(3)
    ]
    try:
        reader.wait_for("hello")
        for viewer in stalled:
            # Processes tables make large frames: a queue behind a stalled socket would grow.
            viewer.send_event("watch", {"panels": ["processes"]})
        rss_before = rss_kb(server.process.pid)
        seqs, pending = [], []
        deadline = time.monotonic() + STALL_TIMEOUT + 40
        while time.monotonic() < deadline:
            payload, _ = reader.wait_for("sample")
            seqs.append(payload["seq"])
            if len(seqs) % 4 == 0:
                pending.append(metric(server, "hostpulse_viewer_pending_bytes"))
                if metric(server, "hostpulse_stalled_viewers_total") >= len(stalled):
                    break
        assert metric(server, "hostpulse_stalled_viewers_total") == len(stalled)
        assert metric(server, "hostpulse_viewers") == 1
        # The reader got every tick while the others stalled (late ticks skip a seq, counted).
        skipped = metric(server, "hostpulse_sampler_skipped_ticks_total")
        missing = (seqs[-1] - seqs[0] + 1) - len(set(seqs))
        assert missing <= skipped, (missing, skipped)
        # At most the newest frame of each kind (+ the hello) waits: never a backlog.
        assert max(pending) < 256 * 1024
        assert rss_kb(server.process.pid) - rss_before < 30 * 1024
        # The reader keeps going after the stalled ones are gone.
        reader.wait_for("sample")
    finally:
        reader.close()
        for viewer in stalled:
            viewer.close()
