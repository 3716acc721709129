"""Who watches what (web/live/viewers.py), and what watching switches (web/live/live.py): a
host's hello, its on-demand processes while a panel is open, nothing kept once a viewer left."""

from __future__ import annotations

from types import SimpleNamespace

from hostpulse.host import Host, Hosts
from hostpulse.remote.reader import RemoteFeed
from hostpulse.sample import Sample
from hostpulse.web.live.live import Live
from hostpulse.web.live.viewers import Viewers
from hostpulse.web.outbox import Outboxes

HISTORY = SimpleNamespace(recent=lambda keys, seconds: {"step": 1, "ts": [], "series": {}})


def test_membership_follows_hosts_panels_and_the_overview():
    viewers = Viewers()
    viewers.connect("a")
    assert len(viewers) == 1 and viewers.host_of["a"] is None
    version = viewers.version
    assert viewers.watch_host("a", "h1") == (None, frozenset())
    assert viewers.version > version
    assert viewers.watch_panels("a", frozenset({"processes"})) == ({"processes"}, set())
    assert viewers.with_panel("h1", "processes") == {"a"}
    # Another host: the panels of the first one close with it.
    assert viewers.watch_host("a", "h2") == ("h1", frozenset({"processes"}))
    assert viewers.of_host("h1") == set() and viewers.with_panel("h2", "processes") == set()
    viewers.watch_overview("a", True)
    assert viewers.leave("a") == ("h2", frozenset())
    assert len(viewers) == 0 and not viewers.overview
    assert viewers.of_host("h2") == set() and viewers._of_host == {}


class Recorder:
    """The Sender's interface, keeping what each viewer was sent."""

    def __init__(self) -> None:
        self.outboxes = Outboxes(30.0)
        self.sent: list[tuple[str, str, dict]] = []
        self.broadcasts: list[tuple[list, str, dict]] = []

    def split(self, sids):
        return sorted(sids), []

    def frame(self, event, data) -> bytes:
        return event.encode()

    def send(self, sid, event, data, frame=None) -> None:
        self.sent.append((sid, event, data))

    def broadcast(self, targets, kind, data) -> None:
        self.broadcasts.append((targets[0], kind, data))


def live_with(*host_ids: str, discovers: bool = True) -> tuple[Live, Hosts, Recorder]:
    hosts, recorder = Hosts(), Recorder()
    live = Live(
        SimpleNamespace(),
        hosts,
        recorder,
        full_every=60,
        default_host=None,
        discovers_hosts=discovers,
    )
    for host_id in host_ids:
        hosts.add(Host(host_id, RemoteFeed(), HISTORY))
    return live, hosts, recorder


def test_opening_the_processes_panel_switches_the_hosts_collection():
    live, hosts, recorder = live_with("h1", "h2")
    h1, h2 = hosts.get("h1"), hosts.get("h2")
    live.connect("a")
    live.watch_host("a", "h1")
    assert recorder.sent[-1][:2] == ("a", "hello") and recorder.sent[-1][2]["host"] == "h1"
    live.watch_panels("a", frozenset({"processes"}))
    assert h1.feed.is_wanted("processes")
    live.watch_host("a", "h2")  # leaving h1 closes its panel there
    assert not h1.feed.is_wanted("processes") and not h2.feed.is_wanted("processes")
    live.watch_panels("a", frozenset({"processes"}))
    live.leave("a")
    assert not h2.feed.is_wanted("processes")
    assert len(live.viewers) == 0


def test_a_viewer_of_a_host_not_known_yet_gets_its_hello_when_it_appears():
    live, hosts, recorder = live_with()
    live.watch_host("a", "later")
    assert recorder.sent[-1][2]["host"] == "later" and recorder.sent[-1][2]["sample"] is None
    live.watch_panels("a", frozenset({"processes"}))  # nothing to switch on yet: ignored
    feed = RemoteFeed()
    feed.receive(Sample(1, 1.0, {"cpu.total": 5.0}))
    hosts.add(Host("later", feed, HISTORY))
    hello = [data for sid, event, data in recorder.sent if event == "hello"][-1]
    assert hello["host"] == "later"
    # Its samples reach it from now on; one who left is forgotten, with nothing kept per id.
    feed.receive(Sample(2, 2.0, {"cpu.total": 6.0}))
    assert recorder.broadcasts[-1][1] == "sample" and recorder.broadcasts[-1][0] == ["a"]
    live.leave("a")
    live.watch_host("b", "never")
    live.leave("b")
    assert live.viewers._of_host == {} and live.viewers.host_of == {}


def test_without_redis_an_unknown_host_is_an_error_and_nothing_is_kept():
    live, _, recorder = live_with("h1", discovers=False)
    live.connect("a")
    for n in range(1000):
        live.watch_host("a", f"nope-{n}")
    assert recorder.sent[-1][:2] == ("a", "error")
    assert "nope-999" in recorder.sent[-1][2]["message"]
    assert live.viewers._of_host == {} and live.viewers.host_of == {"a": None}
