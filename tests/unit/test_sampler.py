"""The sampler's arithmetic and isolation, with fake collectors and a fake clock."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostpulse.collect import Reading
from hostpulse.sampler import Sampler, next_slot


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Scripted:
    """A collector that returns (or raises) the next item of a script on each read."""

    def __init__(self, name: str, script: list) -> None:
        self.name = name
        self.script = list(script)
        self.reads = 0

    def read(self) -> Reading:
        self.reads += 1
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, Exception):
            raise item
        return item


def make(collectors, clock=None, **kw) -> Sampler:
    clock = clock or FakeClock()
    return Sampler(collectors, clock=clock, wallclock=lambda: 1_700_000_000.0 + clock.now, **kw)


def test_first_tick_has_no_rates_then_rates_from_deltas():
    clock = FakeClock()
    net = Scripted(
        "net",
        [
            Reading(counters={"net.eth0.rx_bps": 1000.0}),
            Reading(counters={"net.eth0.rx_bps": 3000.0}),
        ],
    )
    sampler = make([net], clock)
    assert sampler.tick().values == {"net.eth0.rx_bps": None}
    clock.now += 2.0
    assert sampler.tick().values == {"net.eth0.rx_bps": pytest.approx(1000.0)}


def test_counter_reset_yields_none_not_a_spike():
    clock = FakeClock()
    net = Scripted(
        "net",
        [
            Reading(counters={"k.x.rx_bps": 5000.0}),
            Reading(counters={"k.x.rx_bps": 10.0}),
            Reading(counters={"k.x.rx_bps": 110.0}),
        ],
    )
    sampler = make([net], clock)
    sampler.tick()
    clock.now += 1
    assert sampler.tick().values["k.x.rx_bps"] is None
    clock.now += 1
    assert sampler.tick().values["k.x.rx_bps"] == pytest.approx(100.0)


def test_vanished_then_returning_interface_starts_over():
    clock = FakeClock()
    net = Scripted(
        "net",
        [
            Reading(counters={"net.a.rx_bps": 0.0, "net.b.rx_bps": 0.0}),
            Reading(counters={"net.a.rx_bps": 10.0}),
            Reading(counters={"net.a.rx_bps": 20.0, "net.b.rx_bps": 500.0}),
        ],
    )
    sampler = make([net], clock)
    sampler.tick()
    clock.now += 1
    assert "net.b.rx_bps" not in sampler.tick().values
    clock.now += 1
    values = sampler.tick().values
    assert values["net.a.rx_bps"] == pytest.approx(10.0)
    assert values["net.b.rx_bps"] is None  # no stale counter from two ticks ago


def test_shares_give_percent():
    clock = FakeClock()
    cpu = Scripted(
        "cpu",
        [
            Reading(shares={"cpu.total": (10.0, 100.0)}),
            Reading(shares={"cpu.total": (35.0, 200.0)}),
        ],
    )
    sampler = make([cpu], clock)
    assert sampler.tick().values["cpu.total"] is None
    assert sampler.tick().values["cpu.total"] == pytest.approx(25.0)


def test_failing_collector_is_isolated_logged_once_and_counted(caplog):
    good = Scripted("mem", [Reading(values={"mem.used": 1})])
    bad = Scripted("disks", [PermissionError("denied: /proc/diskstats")])
    sampler = make([bad, good])
    with caplog.at_level(logging.WARNING, logger="hostpulse.sampler"):
        for _ in range(5):
            assert sampler.tick().values == {"mem.used": 1}
    assert sampler.stats.errors == {"disks": 5}
    assert len([r for r in caplog.records if "disks" in r.getMessage()]) == 1


def test_distinct_errors_are_each_logged(caplog):
    bad = Scripted("disks", [OSError("a"), OSError("b"), OSError("a")])
    sampler = make([bad])
    with caplog.at_level(logging.WARNING, logger="hostpulse.sampler"):
        for _ in range(3):
            sampler.tick()
    assert len(caplog.records) == 2


def test_broken_subscriber_does_not_stop_others():
    got = []
    sampler = make([Scripted("m", [Reading(values={"mem.used": 1})])])
    sampler.subscribe(lambda s: 1 / 0)
    sampler.subscribe(got.append)
    sampler.tick()
    assert [s.seq for s in got] == [0]


def test_unsubscribe():
    got = []
    sampler = make([Scripted("m", [Reading()])])
    unsubscribe = sampler.subscribe(got.append)
    sampler.tick()
    unsubscribe()
    sampler.tick()
    assert len(got) == 1


def test_processes_collected_only_while_wanted():
    procs = Scripted("processes", [Reading(tables={"processes": {"count": 3}})])
    sampler = make([], on_demand=[procs])
    sampler.tick()
    assert procs.reads == 0
    sampler.want("processes", "viewer-1")
    sampler.want("processes", "viewer-2")
    assert sampler.tick().tables["processes"] == {"count": 3}
    sampler.want("processes", "viewer-1", False)
    sampler.tick()
    assert procs.reads == 2
    sampler.want("processes", "viewer-2", False)
    assert "processes" not in sampler.tick().tables
    assert procs.reads == 2
    with pytest.raises(KeyError):
        sampler.want("nope", "x")


def test_on_demand_tables_go_to_table_listeners_after_the_sample():
    procs = Scripted("processes", [Reading(tables={"processes": {"count": 3}})])
    sampler = make([], on_demand=[procs])
    order = []
    sampler.subscribe(lambda sample: order.append(("sample", sample.seq)))
    sampler.subscribe_tables(lambda table: order.append((table.name, table.seq, table.data)))
    sampler.tick()
    sampler.want("processes", "viewer-1")
    sample = sampler.tick()
    assert order == [("sample", 0), ("sample", 1), ("processes", 1, {"count": 3})]
    assert sample.tables["processes"] == {"count": 3}  # still on the sample (snapshot uses it)


def test_facts_published_only_when_changed():
    clock = FakeClock()
    facts = [{"hostname": "a"}, {"hostname": "a"}, {"hostname": "b"}]
    sampler = make([], clock, read_facts=lambda: facts.pop(0), facts_every=10)
    seen = []
    sampler.subscribe_facts(seen.append)
    for _ in range(3):
        sampler.tick()
        clock.now += 10
    assert seen == [{"hostname": "a"}, {"hostname": "b"}]


def test_filesystem_table_travels_with_facts():
    fs1 = {"/": {"device": "/dev/vda1", "fstype": "ext4"}}
    fs2 = {**fs1, "/data": {"device": "/dev/vdb", "fstype": "xfs"}}
    disks = Scripted(
        "disks", [Reading(tables={"filesystems": fs1})] * 2 + [Reading(tables={"filesystems": fs2})]
    )
    sampler = make([disks], read_facts=lambda: {"hostname": "h"}, facts_every=1e9)
    seen = []
    sampler.subscribe_facts(seen.append)
    samples = [sampler.tick() for _ in range(3)]
    assert all("filesystems" not in s.tables for s in samples)
    assert seen == [{"hostname": "h", "filesystems": fs1}, {"hostname": "h", "filesystems": fs2}]


def test_interval_bounds():
    with pytest.raises(ValueError, match="interval"):
        Sampler([], interval=0.1)
    with pytest.raises(ValueError, match="interval"):
        Sampler([], interval=61)


def test_next_slot_on_time_and_late():
    assert next_slot(0.0, 1.0, 0, 0.3) == (1, 0)
    assert next_slot(0.0, 1.0, 0, 1.5) == (1, 0)  # late within the slot: tick at once
    assert next_slot(0.0, 1.0, 0, 4.2) == (4, 3)  # stalled: skip forward, count skips


@given(
    interval=st.floats(0.25, 60),
    slot=st.integers(0, 10_000),
    lateness=st.floats(0, 1000),
)
def test_next_slot_never_goes_back_and_never_bunches(interval, slot, lateness):
    now = slot * interval + lateness
    nxt, skipped = next_slot(0.0, interval, slot, now)
    assert nxt == slot + 1 + skipped
    assert skipped >= 0
    # the chosen slot's time span has not ended: no slot is ticked twice or long after it ended
    assert now < (nxt + 1) * interval + 1e-6 * max(1.0, now)


def test_run_loop_ticks_on_schedule_and_stops():
    sampler = Sampler([Scripted("m", [Reading(values={"mem.used": 1})])], interval=0.25)
    seqs = []
    sampler.subscribe(lambda s: seqs.append(s.seq))
    sampler.start()
    time.sleep(1.1)
    started = time.monotonic()
    sampler.stop()
    assert time.monotonic() - started < 1.0
    assert 4 <= len(seqs) <= 6
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_run_loop_skips_when_a_tick_is_slow():
    stall = threading.Event()

    class Slow:
        name = "slow"

        def read(self) -> Reading:
            if not stall.is_set():
                stall.set()
                time.sleep(0.8)
            return Reading()

    sampler = Sampler([Slow()], interval=0.25)
    seqs = []
    sampler.subscribe(lambda s: seqs.append(s.seq))
    sampler.start()
    time.sleep(1.4)
    sampler.stop()
    assert sampler.stats.skipped >= 2
    assert seqs[0] == 0 and seqs[1] >= 3  # jumped forward, no burst of catch-up ticks


def test_stop_closes_collectors_that_hold_something_open():
    """A collector with a thread or open files (containers) has close(); stop() calls it."""

    class Holding(Scripted):
        closed = 0

        def close(self) -> None:
            self.closed += 1

    holding = Holding("holds", [Reading()])
    plain = Scripted("plain", [Reading()])
    sampler = make([holding, plain])
    sampler.tick()
    sampler.stop()
    assert holding.closed == 1


def test_containers_table_travels_with_the_facts_not_the_sample():
    table = {"web": {"id": "abc", "health": "healthy"}}
    containers = Scripted(
        "containers", [Reading(values={"container.web.pids": 1}, tables={"containers": table})]
    )
    sampler = make([containers], read_facts=lambda: {"hostname": "h"})
    seen = []
    sampler.subscribe_facts(seen.append)
    sample = sampler.tick()
    assert "containers" not in sample.tables
    assert sample.values == {"container.web.pids": 1}
    assert sampler.facts == {"hostname": "h", "containers": table}
    sampler.tick()  # unchanged: no second facts event
    assert len(seen) == 1
