"""The wire protocol byte for byte: the frames a fixed run of samples produces (hello, deltas,
a full after a gap, processes, host facts, resync, error, an unknown host's hello, overview full
and delta) equal those recorded in tests/data/wire_frames.json from the live layer as it was
before it became a package (commit 8fa9a78)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace

from socketio import packet as sio_packet

from hostpulse.host import Host, Hosts
from hostpulse.remote.reader import RemoteFeed
from hostpulse.sample import Sample, Table
from hostpulse.web.live import overview as overview_module
from hostpulse.web.live.live import Live
from hostpulse.web.live.sender import Sender
from hostpulse.web.outbox import Outboxes

RECORDED = Path(__file__).resolve().parents[1] / "data" / "wire_frames.json"
T0 = 1764583200.0
FACTS = {
    "hostname": "web-1",
    "os_pretty": "Debian GNU/Linux 12",
    "kernel": "6.1.0",
    "cores_logical": 4,
    "filesystems": [{"mount": "/", "device": "/dev/sda1", "type": "ext4"}],
}
HISTORY = {
    "step": 1,
    "ts": [T0 - 2, T0 - 1],
    "series": {
        k: {"avg": [1.5, 2.5], "min": [1.0, 2.0], "max": [2.0, 3.0]}
        for k in ("cpu.total", "mem.percent")
    },
}
PROCESSES = {
    "count": 2,
    "by_cpu": [
        {"pid": 1, "name": "init", "user": "root", "cpu": 0.5, "rss": 5000,
         "mem_percent": 0.1, "state": "sleeping", "cmd": "/sbin/init"}
    ],
    "by_memory": [],
}  # fmt: skip


def values(i: int) -> dict:
    return {
        "cpu.total": 12.345 + i,
        "cpu.core.0": 10.0 + i / 3,
        "load.1": 0.51234,
        "mem.used": 2147483648 + 4096 * i,
        "mem.percent": 41.26,
        "swap.percent": None,
        "fs./.percent": 63.04,
        "net.eth0.rx_bps": 123456.7 * (1 + (i % 2)),
        "disk.sda.read_bps": 0.0,
        "temp.cpu": 48.0,
    }


class History:
    """The five minutes a hello carries, fixed."""

    def recent(self, keys, seconds):
        series = {k: v for k, v in HISTORY["series"].items() if k in keys}
        return {"step": HISTORY["step"], "ts": HISTORY["ts"], "series": series}


def produced(monkeypatch) -> list[tuple[str, bytes]]:
    monkeypatch.setattr(
        overview_module, "time", SimpleNamespace(time=lambda: T0 + 30, monotonic=lambda: 1000.0)
    )
    frames: list[tuple[str, bytes]] = []
    socketio = SimpleNamespace(server=SimpleNamespace(packet_class=sio_packet.Packet))
    hosts = Hosts()
    sender = Sender(socketio, Outboxes(30.0))
    # Every viewer is on a websocket: what its outbox would be offered, in order.
    sender.split = lambda sids: (list(sids), [])
    sender.broadcast = lambda targets, kind, data: frames.append((kind, sender.frame(kind, data)))
    sender.send = lambda sid, event, data, frame=None: frames.append(
        (event, frame if frame is not None else sender.frame(event, data))
    )
    live = Live(socketio, hosts, sender, full_every=60, default_host=None, discovers_hosts=True)
    feed = RemoteFeed(interval=1.0)
    hosts.add(Host("web-1", feed, History()))
    feed.set_facts(FACTS)
    feed.receive(Sample(10, T0, values(0)))
    feed.stats.last_tick_monotonic = 1000.0
    live.watch_host("sid-a", "web-1")  # hello
    for seq, i in ((11, 1), (12, 2), (14, 3)):  # delta, delta, a full after a gap
        feed.receive(Sample(seq, T0 + i, values(i)))
    live.watch_panels("sid-a", frozenset({"processes"}))
    feed.receive_table(Table("processes", 14, T0 + 3, PROCESSES))
    feed.set_facts({**FACTS, "kernel": "6.1.1"})  # host
    live.resync("sid-a")
    live.error("sid-a", "watch", "host must be a host id")
    live.watch_host("sid-b", "nowhere")  # the hello of a host not known
    feed.stats.last_tick_monotonic = 1000.0
    frames.append(("overview", sender.frame("overview", live.overview.full())))
    live.overview.delta()
    feed.receive(Sample(15, T0 + 4, values(4)))
    feed.stats.last_tick_monotonic = 1000.0
    frames.append(("overview", sender.frame("overview", live.overview.delta())))
    return frames


def test_frames_are_those_recorded_before_the_live_layer_was_taken_apart(monkeypatch):
    recorded = [(kind, base64.b64decode(frame)) for kind, frame in json.loads(RECORDED.read_text())]
    frames = produced(monkeypatch)
    assert [kind for kind, _ in frames] == [kind for kind, _ in recorded]
    for (kind, got), (_, want) in zip(frames, recorded, strict=True):
        assert got.decode(errors="replace") == want.decode(errors="replace"), kind
        assert got == want, kind
