"""The engine over hosts (alerts/engine.py) and its SQLite file (alerts/store.py): events
recorded once, states brought back after a restart without a second FIRING, the API's
shapes, retention, and the notifier handed every transition."""

from __future__ import annotations

import time

from hostpulse.alerts import rules
from hostpulse.alerts.engine import Alerts
from hostpulse.alerts.store import RETENTION, AlertStore
from hostpulse.alerts.transition import FIRING, PENDING, Transition
from hostpulse.history import History
from hostpulse.host import Host
from hostpulse.remote.reader import RemoteFeed
from hostpulse.sample import Sample

RULES = (rules.parse_rule({"name": "mem", "key": "mem.percent", "above": 90, "clear": 80,
                           "for": 2, "severity": "critical"}),)  # fmt: skip


class Collected:
    def __init__(self) -> None:
        self.sent: list[Transition] = []

    def submit(self, transition: Transition) -> None:
        self.sent.append(transition)


def host(host_id: str = "h") -> Host:
    return Host(host_id, RemoteFeed(), History(None, background=False))


def feed(h: Host, values: list[float], start: float) -> None:
    for i, v in enumerate(values):
        h.feed.receive(Sample(i, start + i, {"mem.percent": v}), live=False)


def engine(path, notifier=None) -> Alerts:
    return Alerts(RULES, AlertStore(path), notifier=notifier)


def test_transitions_are_recorded_and_notified_and_shown(tmp_path):
    sent = Collected()
    alerts = engine(tmp_path / "alerts.sqlite", sent)
    h = host()
    alerts.watch(h)
    now = time.time() - 100
    feed(h, [50, 95, 96, 97], now)
    alerts._drain()
    assert [t.state for t in sent.sent] == [PENDING, FIRING]
    [firing] = alerts.firing("h")
    assert firing == {"name": "mem", "host": "h", "instance": "mem.percent",
                      "key": "mem.percent", "severity": "critical", "state": "firing",
                      "since": now + 1, "value": 97, "detail": ""}  # fmt: skip
    assert alerts.firing("other") == [] and alerts.firing() == [firing]
    events = alerts.events(host="h")
    assert [e["state"] for e in events] == ["firing", "pending"]  # newest first
    assert set(events[0]) == {"ts", "name", "host", "instance", "key", "severity", "state",
                              "value", "since", "detail"}  # fmt: skip
    assert alerts.events(state="pending")[0]["ts"] == now + 1
    assert alerts.events(since=now + 2) == events[:1]
    assert alerts.events(host="nobody") == []
    alerts.stop()


def test_a_restart_brings_a_firing_alert_back_without_firing_it_again(tmp_path):
    path = tmp_path / "alerts.sqlite"
    first = engine(path, Collected())
    h = host()
    first.watch(h)
    start = time.time() - 100
    feed(h, [95, 95, 95, 95], start)
    first._drain()
    first.stop()
    sent = Collected()
    second = engine(path, sent)  # a new process over the same file
    h2 = host()
    second.watch(h2)
    assert [a["since"] for a in second.firing("h")] == [start]
    feed(h2, [95, 95], start + 4)
    second._drain()
    assert sent.sent == []
    feed(h2, [70], start + 6)
    second._drain()
    assert [(t.state, t.since) for t in sent.sent] == [("resolved", start)]
    assert [e["state"] for e in second.events()] == ["resolved", "firing", "pending"]
    second.stop()


def test_a_replayed_backfill_adds_no_event_twice(tmp_path):
    path = tmp_path / "alerts.sqlite"
    first = engine(path)
    h = host()
    first.watch(h)
    start = time.time() - 100
    feed(h, [95, 95, 95, 70], start)
    first._drain()
    first.stop()  # notes how far h was evaluated
    second = engine(path)
    h2 = host()
    second.watch(h2)
    feed(h2, [95, 95, 95, 70, 60], start)  # the worker reads its stream's backfill again
    second._drain()
    assert [e["state"] for e in second.events()] == ["resolved", "firing", "pending"]
    second.stop()


def test_firing_rows_carry_the_top_processes_of_that_moment(tmp_path):
    sent = Collected()
    alerts = engine(None, sent)
    h = host()

    class Moment:
        rows = tuple({"pid": p, "name": f"p{p}", "cpu": 100.0 - p} for p in range(8))

    class ProcessHistory:
        def at(self, ts):
            self.asked = ts
            return Moment()

    h.process_history = ProcessHistory()  # what issue 16p gives every Host
    alerts.watch(h)
    feed(h, [95, 95, 95], time.time())
    alerts._drain()
    pending, firing = sent.sent
    assert pending.processes == ()
    assert [row["pid"] for row in firing.processes] == [0, 1, 2, 3, 4]
    assert h.process_history.asked == firing.ts
    alerts.stop()


def test_events_older_than_30_days_go(tmp_path):
    store = AlertStore(tmp_path / "alerts.sqlite")
    now = time.time()
    for age in (RETENTION + 10, 10):
        t = Transition("h", "r", "k", FIRING, "warning", now - age, 1.0, now - age)
        store.record([(t, "k")])
    assert store.retain(now) == 1
    assert [e["ts"] for e in store.events()] == [now - 10]


def test_a_file_that_is_no_database_is_set_aside(tmp_path):
    path = tmp_path / "alerts.sqlite"
    path.write_bytes(b"not sqlite at all" * 100)
    store = AlertStore(path)
    assert store.path == path and store.events() == []
    assert list(tmp_path.glob("alerts.sqlite.corrupt-*"))


def test_a_trend_is_seeded_from_history_and_fires_on_the_first_live_sample(tmp_path):
    filling = rules.parse_rule({"name": "fs-filling", "kind": "trend", "key": "fs.*.percent"})
    sent = Collected()
    alerts = Alerts((filling,), AlertStore(None), notifier=sent)
    h = host()
    start = time.time() - 2400
    for i in range(2400):  # 40 minutes of history, +1 % a minute from 50 %
        h.history.add(Sample(i, start + i, {"fs./.percent": 50 + i / 60}))
    h.feed.latest = Sample(2399, start + 2399, {"fs./.percent": 50 + 2399 / 60})
    alerts.watch(h)
    alerts._seed_trends()
    h.feed.receive(Sample(2400, start + 2400, {"fs./.percent": 90.0}), live=False)
    alerts._drain()
    [firing] = sent.sent
    assert (firing.rule, firing.state, firing.instance) == ("fs-filling", "firing", "fs./.percent")
    assert firing.detail.startswith("full in about 10 min"), firing.detail
    alerts.stop()
