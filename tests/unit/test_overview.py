"""The overview loop (web/live/overview.py): sent after new samples, one message a tick."""

from __future__ import annotations

import itertools
import json
import threading
import time
from types import SimpleNamespace

from hostpulse.host import Host, Hosts
from hostpulse.remote.reader import RemoteFeed
from hostpulse.sample import Sample
from hostpulse.web.live import overview as overview_module
from hostpulse.web.live.overview import Overview
from hostpulse.web.live.viewers import Viewers


class Recorder:
    """Stands in for the Sender: keeps every overview message and when it went."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, dict]] = []

    def split(self, sids):
        return list(sids), []

    def broadcast(self, targets, kind, data) -> None:
        assert kind == "overview"
        self.messages.append((time.monotonic(), data))


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_overview_follows_samples_at_most_once_a_tick(monkeypatch):
    monkeypatch.setattr(overview_module, "OVERVIEW_TICK", 0.3)  # a short tick keeps this quick
    hosts, viewers, recorder = Hosts(), Viewers(), Recorder()
    fleet = Overview(hosts, viewers, recorder)
    feeds = [RemoteFeed() for _ in range(3)]
    for i, feed in enumerate(feeds):
        hosts.add(Host(f"h{i}", feed, None))
    viewers.watch_overview("viewer", True)
    loop = threading.Thread(target=fleet.run, daemon=True)
    loop.start()
    try:
        wait_until(lambda: recorder.messages)  # the hosts' first look ("starting")
        for seq in range(1, 31):  # 3 hosts, 20 ms apart: many samples per tick
            for feed in feeds:
                feed.receive(Sample(seq, time.time(), {"cpu.total": float(seq)}))
            time.sleep(0.02)
        wait_until(lambda: recorder.messages[-1][1]["hosts"].get("h0", {}).get("cpu") == 30.0)
    finally:
        fleet.stop()
        loop.join(5)
    sends = [t for t, _ in recorder.messages]
    assert all(b - a >= overview_module.OVERVIEW_TICK - 1e-3 for a, b in itertools.pairwise(sends))
    # One message carries every host that changed, not one message per host per sample.
    assert any(len(m["hosts"]) == 3 for _, m in recorder.messages[1:])
    assert all(not m["full"] for _, m in recorder.messages)


class FrameRecorder(Recorder):
    """Also stands in for the per-viewer send and the encoding: counts encodes."""

    def __init__(self) -> None:
        super().__init__()
        self.encoded = 0
        self.sent: dict[str, bytes] = {}

    def frame(self, event, data) -> bytes:
        self.encoded += 1
        return json.dumps([event, data]).encode()

    def send(self, sid, event, data, frame=None) -> None:
        self.sent[sid] = frame


def full_of(frame: bytes) -> dict:
    return json.loads(frame[frame.index(b"[") :])[1]


def test_a_crowd_opening_the_overview_costs_one_full_overview():
    hosts, recorder = Hosts(), FrameRecorder()
    fleet = Overview(hosts, Viewers(), recorder)
    feed = RemoteFeed()
    history = SimpleNamespace(recent=lambda keys, seconds: {"ts": [], "series": {}})
    hosts.add(Host("h0", feed, history))
    feed.receive(Sample(1, time.time(), {"cpu.total": 1.0}))
    for i in range(200):
        fleet.open(f"viewer-{i}")
    assert recorder.encoded == 1
    assert len(set(recorder.sent.values())) == 1
    assert full_of(recorder.sent["viewer-0"])["hosts"]["h0"]["cpu"] == 1.0
    # After a delta, a newcomer must not get the older full: it would miss that delta.
    feed.receive(Sample(2, time.time(), {"cpu.total": 2.0}))
    assert fleet.delta()["hosts"]["h0"]["cpu"] == 2.0
    fleet.open("late")
    assert full_of(recorder.sent["late"])["hosts"]["h0"]["cpu"] == 2.0
    assert recorder.encoded == 2


def test_containers_summary_counts_running_and_unhealthy():
    from hostpulse.web.live.overview import containers_summary

    assert containers_summary(None) is None  # no engine: no line on the card
    assert containers_summary({}) == [0, 0]
    table = {"a": {"health": "unhealthy"}, "b": {"health": None}, "c": {"health": "healthy"}}
    assert containers_summary(table) == [3, 1]
    table["d"] = {"state": "paused", "health": None}
    assert containers_summary(table) == [3, 1]
