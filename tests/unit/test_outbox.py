"""The per-viewer outbox (web/outbox.py): newest-only while the socket is full, in order,
stall cut-off."""

from __future__ import annotations

import socket

import gevent
import gevent.socket

from hostpulse.web.outbox import Outbox, Outboxes, ws_frame


def pair():
    """(the server's end: a non-blocking OS socket, as an outbox writes on; the viewer's end)."""
    a, b = socket.socketpair()
    a.setblocking(False)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return a, gevent.socket.socket(fileno=b.detach())


def drain(sock, seconds=0.3) -> bytes:
    data = b""
    with gevent.Timeout(seconds, False):
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def test_frames_are_websocket_text_frames():
    assert ws_frame("4") == b"\x81\x014"
    assert ws_frame("x" * 200)[:4] == b"\x81\x7e\x00\xc8"
    assert ws_frame("x" * 70000)[:2] == b"\x81\x7f"


def test_idle_socket_gets_the_frame_at_once():
    a, b = pair()
    outboxes = Outboxes(stall_timeout=5)
    box = Outbox(a, outboxes, "v")
    box.offer("sample", ws_frame("one"))
    assert box.pending_bytes == 0 and box.flusher is None
    assert drain(b) == ws_frame("one")


def test_a_full_socket_keeps_only_the_newest_frame_of_each_kind():
    a, b = pair()
    box = Outbox(a, Outboxes(stall_timeout=5), "v")
    big = ws_frame("x" * 60000)  # more than the socket holds: partly written, rest in flight
    box.offer("sample", big)
    assert box.blocked_since is not None and box.inflight is not None
    for i in range(50):
        box.offer("sample", ws_frame(f"sample {i}"))
        box.offer("processes", ws_frame(f"processes {i}"))
    box.send(ws_frame("control"))
    assert list(box.latest.values()) == [ws_frame("sample 49"), ws_frame("processes 49")]
    # The reader catches up: the frame in flight is finished, then control, then the newest.
    data = drain(b, 1.0)
    expected = big + ws_frame("control") + ws_frame("sample 49") + ws_frame("processes 49")
    assert data == expected
    assert box.pending_bytes == 0 and box.blocked_since is None


def test_a_socket_that_stays_full_is_cut_off_after_the_stall_timeout():
    a, _reader = pair()
    outboxes = Outboxes(stall_timeout=1)
    box = Outbox(a, outboxes, "v")
    outboxes.add("v", box)
    box.offer("sample", ws_frame("x" * 60000))
    gevent.sleep(1.5)
    assert box.closed and outboxes.stalled == 1 and "v" not in outboxes.by_eio_sid
    assert box.pending_bytes == 0


def test_with_no_viewer_nothing_is_built_encoded_or_sent():
    from types import SimpleNamespace

    from hostpulse.sample import Sample
    from hostpulse.web.live.broadcast import Broadcaster
    from hostpulse.web.live.viewers import Viewers

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"sender.{name} used with no viewer")

    broadcaster = Broadcaster(SimpleNamespace(id="h"), Viewers(), Untouchable(), 60)
    broadcaster.on_sample(Sample(1, 1.0, {"cpu.total": 1.0}, {"processes": {"count": 1}}))
    broadcaster.on_facts({"hostname": "h"})
    assert broadcaster.feed.seq is None  # no delta was even computed
