"""The fleet's overview loop (web/fleet.py): sent after new samples, one message a tick."""

from __future__ import annotations

import itertools
import threading
import time
from types import SimpleNamespace

from hostpulse.remote.reader import RemoteFeed
from hostpulse.sample import Sample
from hostpulse.web import fleet as fleet_module
from hostpulse.web.fleet import Fleet


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
    monkeypatch.setattr(fleet_module, "OVERVIEW_TICK", 0.3)  # a short tick keeps this quick
    fleet = Fleet(SimpleNamespace(), full_every=60)
    recorder = Recorder()
    fleet.sender = recorder
    feeds = [RemoteFeed() for _ in range(3)]
    for i, feed in enumerate(feeds):
        fleet.add_host(SimpleNamespace(id=f"h{i}", sampler=feed, history=None))
    fleet.overview_viewers.add("viewer")
    loop = threading.Thread(target=fleet.run_overview, daemon=True)
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
    assert all(b - a >= fleet_module.OVERVIEW_TICK - 1e-3 for a, b in itertools.pairwise(sends))
    # One message carries every host that changed, not one message per host per sample.
    assert any(len(m["hosts"]) == 3 for _, m in recorder.messages[1:])
    assert all(not m["full"] for _, m in recorder.messages)
