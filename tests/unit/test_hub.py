"""Deltas on the wire: applying them to the hello state reproduces the server's state."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hostpulse.hub import HostFeed, WirePrecision
from hostpulse.sample import Sample


def apply(state: dict, payload: dict) -> dict:
    if payload["full"]:
        return dict(payload["values"])
    state = {**state, **payload["values"]}
    for key in payload["gone"]:
        del state[key]
    return state


def test_first_update_is_full_then_deltas():
    feed = HostFeed("h", full_every=60)
    first = feed.update(Sample(0, 1.0, {"cpu.total": 1.0, "mem.used": 10}))
    assert first["full"] is True
    second = feed.update(Sample(1, 2.0, {"cpu.total": 1.0, "mem.used": 11}))
    assert second == {
        "host": "h",
        "seq": 1,
        "ts": 2.0,
        "full": False,
        "values": {"mem.used": 11},
        "gone": [],
    }


def test_gone_and_new_keys():
    feed = HostFeed("h")
    feed.update(Sample(0, 1.0, {"net.a.rx_bps": 1.0, "net.b.rx_bps": 2.0}))
    delta = feed.update(Sample(1, 2.0, {"net.a.rx_bps": 1.0, "net.c.rx_bps": 3.0}))
    assert delta["values"] == {"net.c.rx_bps": 3}
    assert delta["gone"] == ["net.b.rx_bps"]


def test_full_every_k_ticks_and_after_a_gap():
    feed = HostFeed("h", full_every=3)
    fulls = [feed.update(Sample(i, float(i), {"cpu.total": float(i)}))["full"] for i in range(7)]
    assert fulls == [True, False, False, True, False, False, True]
    assert feed.update(Sample(9, 9.0, {"cpu.total": 1.0}))["full"] is True  # seq 7, 8 unseen


def test_wire_precision_by_unit():
    r = WirePrecision()
    assert r("cpu.total", 12.3456) == 12.3
    assert r("mem.used", 1234.7) == 1235
    assert r("mem.used", 447_049_728.0) == 447_000_000  # 4 significant digits for bytes
    assert r("net.eth0.rx_bps", 380_066) == 380_100
    assert r("net.eth0.rx_bps", -12_345) == -12_340
    assert r("net.eth0.rx_bps", 99.5) == 100
    assert r("load.1", 0.12345) == 0.12
    assert r("mem.used", None) is None


def test_seed_and_snapshot_and_resync():
    feed = HostFeed("h")
    assert feed.snapshot() is None and feed.full() is None
    feed.seed(Sample(5, 5.0, {"cpu.total": 2.04}))
    assert feed.snapshot() == {"seq": 5, "ts": 5.0, "values": {"cpu.total": 2.0}}
    assert feed.update(Sample(6, 6.0, {"cpu.total": 3.0}))["full"] is False
    resync = feed.full()
    assert resync["full"] is True and resync["seq"] == 6 and resync["values"] == {"cpu.total": 3.0}


keys = st.sampled_from(["cpu.total", "mem.used", "net.a.rx_bps", "fs./.percent", "load.1"])
values = st.one_of(st.none(), st.floats(-1e12, 1e12, allow_nan=False))


@given(st.lists(st.dictionaries(keys, values), min_size=1, max_size=30), st.integers(1, 10))
def test_deltas_reproduce_the_full_state(samples, full_every):
    feed = HostFeed("h", full_every=full_every)
    state: dict = {}
    for seq, values_ in enumerate(samples):
        state = apply(state, feed.update(Sample(seq, float(seq), values_)))
        assert state == feed.snapshot()["values"]
