"""A host's frames to its viewers: one ``sample`` event per tick for all of them, ``processes``
for those with that panel open, ``host`` when its facts change, and each newcomer's ``hello``.

Each event is encoded once into one websocket frame and offered to every viewer's outbox; who
gets what is worked out again only when a viewer or a connection comes or goes. With no viewer
of the host, a tick returns at once: nothing is built, encoded or sent.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Histogram

from hostpulse.host import Host
from hostpulse.hub import HostFeed
from hostpulse.sample import Sample, Table
from hostpulse.web.live.hello import hello, recent_history
from hostpulse.web.live.sender import Sender, Targets
from hostpulse.web.live.viewers import Viewers

FANOUT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5)
FANOUT_BUCKETS += (0.75, 1.0, 2.5, 5.0)


def fanout_histogram() -> Histogram:
    """``hostpulse_fanout_seconds``: from a sample's ts to its frame handed to the last
    viewer's socket, by host (registered on /metrics by the app)."""
    return Histogram(
        "hostpulse_fanout_seconds",
        "from a sample's ts to its frame handed to the last viewer's socket",
        ["host"],
        buckets=FANOUT_BUCKETS,
        registry=None,
    )


class Broadcaster:
    def __init__(
        self,
        host: Host,
        viewers: Viewers,
        sender: Sender,
        full_every: int,
        fanout_seconds: Histogram | None = None,
    ) -> None:
        self.host = host
        self.viewers = viewers
        self.sender = sender
        self.feed = HostFeed(host.id, full_every)
        self._targets: dict[str, Targets] = {}
        self._targets_version: tuple[int, int] | None = None
        self._hello_history: tuple[int, dict] | None = None
        self._hello_frame: tuple[tuple, bytes] | None = None
        self._fanout_seconds = (fanout_seconds or fanout_histogram()).labels(host.id)

    def _targets_of(self, kind: str) -> Targets:
        version = (self.viewers.version, self.sender.outboxes.version)
        if self._targets_version != version:
            host_id = self.host.id
            self._targets = {
                "sample": self.sender.split(self.viewers.of_host(host_id)),
                "processes": self.sender.split(self.viewers.with_panel(host_id, "processes")),
            }
            self._targets_version = version
        return self._targets["processes" if kind == "processes" else "sample"]

    def on_sample(self, sample: Sample) -> None:
        if not self.viewers.of_host(self.host.id):
            return
        payload = self.feed.update(sample)
        self.sender.broadcast(self._targets_of("sample"), "sample", payload)
        self._fanout_seconds.observe(max(0.0, time.time() - sample.ts))

    def on_table(self, table: Table) -> None:
        """An on-demand table, local or from an agent, to the viewers watching its panel."""
        if table.name == "processes" and self.viewers.of_host(self.host.id):
            targets = self._targets_of("processes")
            if targets[0] or targets[1]:
                event = {"host": self.host.id, "seq": table.seq, "ts": table.ts, **table.data}
                self.sender.broadcast(targets, "processes", event)

    def on_facts(self, facts: dict[str, Any]) -> None:
        if self.viewers.of_host(self.host.id):
            event = {"host": self.host.id, "facts": facts}
            self.sender.broadcast(self._targets_of("host"), "host", event)

    def send_hello(self, sid: str) -> None:
        """The hello to ``sid``, encoded once a tick however many viewers (re)connect in it."""
        message = self.hello()
        key = (message["sample"] and message["sample"]["seq"], id(message["facts"]))
        if self._hello_frame is None or self._hello_frame[0] != key:
            self._hello_frame = (key, self.sender.frame("hello", message))
        self.sender.send(sid, "hello", message, frame=self._hello_frame[1])

    def hello(self) -> dict[str, Any]:
        latest = self.host.latest
        if latest is not None and self.feed.seq != latest.seq:
            # No viewer saw the last ticks: start the feed from the sample this hello carries.
            self.feed.seed(latest)
        return hello(
            self.host.id,
            self.feed.full_every,
            interval=self.host.interval,
            facts=self.host.facts,
            sample=self.feed.snapshot(),
            history=self._recent_history(latest),
        )

    def _recent_history(self, latest: Sample | None) -> dict[str, Any]:
        # A reconnect storm asks for the same five minutes many times: build it once a tick.
        seq = -1 if latest is None else latest.seq
        if self._hello_history is None or self._hello_history[0] != seq:
            self._hello_history = (seq, recent_history(self.host.history))
        return self._hello_history[1]
