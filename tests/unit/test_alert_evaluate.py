"""One host's alert states on a stream of samples (alerts/evaluate.py): ok → pending →
firing → resolved, hysteresis, patterns over instances, per-core load, a sensor's own mark,
the filesystem trend, vanished instances, silence, and a broken sample that breaks nothing."""

from __future__ import annotations

import math
from collections import deque

from hostpulse.alerts import rules
from hostpulse.alerts.evaluate import Evaluator, time_to_full
from hostpulse.alerts.transition import FIRING, OK, PENDING, RESOLVED
from hostpulse.sample import Sample

T0 = 1_800_000_000.0


def rule(**table) -> rules.Rule:
    return rules.parse_rule({"name": "r", **table})


class Recorder:
    def __init__(self) -> None:
        self.transitions = []

    def __call__(self, transition, episode) -> None:
        self.transitions.append(transition)

    def states(self) -> list[tuple[str, str]]:
        return [(t.instance, t.state) for t in self.transitions]


def run(evaluator: Evaluator, series: list[dict], start: float = T0, step: float = 1.0):
    for i, values in enumerate(series):
        evaluator.on_sample(Sample(i, start + i * step, values))


def test_pending_then_firing_after_for_then_resolved_at_clear():
    got = Recorder()
    ev = Evaluator("h", [rule(key="cpu.total", above=90, clear=80, **{"for": 3})], got)
    run(ev, [{"cpu.total": v} for v in (50, 95, 96, 97, 98, 85, 79, 50)])
    assert got.states() == [("cpu.total", PENDING), ("cpu.total", FIRING),
                            ("cpu.total", RESOLVED)]  # fmt: skip
    pending, firing, resolved = got.transitions
    assert pending.ts == firing.since == resolved.since == T0 + 1  # the episode's start
    assert firing.ts == T0 + 4 and firing.value == 98
    assert resolved.ts == T0 + 6 and resolved.value == 79
    assert pending.id != firing.id != resolved.id
    assert ev.active == {}


def test_a_pending_alert_that_clears_is_ok_again_and_never_fires():
    got = Recorder()
    ev = Evaluator("h", [rule(key="cpu.total", above=90, **{"for": 10})], got)
    run(ev, [{"cpu.total": v} for v in (95, 95, 50, 50)])
    assert got.states() == [("cpu.total", PENDING), ("cpu.total", OK)]


def test_hysteresis_a_value_oscillating_around_the_threshold_fires_once():
    got = Recorder()
    ev = Evaluator("h", [rule(key="mem.percent", above=90, clear=80, **{"for": 5})], got)
    run(ev, [{"mem.percent": 91 if i % 2 else 89} for i in range(60)])
    assert got.states() == [("mem.percent", PENDING), ("mem.percent", FIRING)]
    # without hysteresis the same series flaps: every dip under 90 restarts `for`
    strict = Recorder()
    run(Evaluator("h", [rule(key="mem.percent", above=90, **{"for": 5})], strict),
        [{"mem.percent": 91 if i % 2 else 89} for i in range(60)])  # fmt: skip
    assert FIRING not in {s for _, s in strict.states()}


def test_for_zero_fires_at_once_and_below_works_the_other_way():
    got = Recorder()
    ev = Evaluator("h", [rule(key="mem.available", below=100, clear=200)], got)
    run(ev, [{"mem.available": v} for v in (500, 50, 150, 250)])
    assert got.states() == [("mem.available", FIRING), ("mem.available", RESOLVED)]


def test_a_pattern_covers_every_instance_on_its_own():
    got = Recorder()
    ev = Evaluator("h", [rule(key="fs.*.percent", above=90)], got)
    run(ev, [{"fs./.percent": 50, "fs./mnt/a.b.percent": 95, "fs./.used": 99}] * 2
        + [{"fs./.percent": 97, "fs./mnt/a.b.percent": 95, "fs./.used": 99}])  # fmt: skip
    assert got.states() == [("fs./mnt/a.b.percent", FIRING), ("fs./.percent", FIRING)]


def test_load_per_core_counts_the_cores_of_the_layout():
    got = Recorder()
    ev = Evaluator("h", [rule(key="load.5", per="core", above=2)], got)
    cores = {f"cpu.core.{i}": 10.0 for i in range(4)}
    run(ev, [{"load.5": 7.9, **cores}, {"load.5": 8.1, **cores}])
    assert got.states() == [("load.5", FIRING)]
    assert math.isclose(got.transitions[0].value, 8.1 / 4)


def test_a_sensor_is_held_to_its_own_mark_and_one_without_a_mark_to_none():
    got = Recorder()
    ev = Evaluator("h", [rule(key="temp.*.celsius", above_mark="high", clear_margin=5)], got)
    base = {"temp.a.celsius": 70.0, "temp.a.high": 80.0, "temp.b.celsius": 99.0}
    run(ev, [base, {**base, "temp.a.celsius": 81.0}, {**base, "temp.a.celsius": 76.0},
             {**base, "temp.a.celsius": 74.0}])  # fmt: skip
    assert got.states() == [("temp.a.celsius", FIRING), ("temp.a.celsius", RESOLVED)]


def test_none_values_and_rules_for_other_hosts_change_nothing():
    got = Recorder()
    ev = Evaluator("db-1", [rule(key="cpu.total", above=1, hosts="web-*"),
                            rule(key="mem.percent", above=1)], got)  # fmt: skip
    run(ev, [{"cpu.total": 99, "mem.percent": None}] * 3)
    assert got.transitions == []


def test_samples_not_newer_than_the_last_are_skipped():
    got = Recorder()
    ev = Evaluator("h", [rule(key="cpu.total", above=90)], got, skip_until=T0 + 5)
    run(ev, [{"cpu.total": 99}] * 5)  # T0 .. T0+4: evaluated before a restart
    assert got.transitions == []
    run(ev, [{"cpu.total": 99}], start=T0 + 6)
    assert got.states() == [("cpu.total", FIRING)]


def test_a_layout_change_is_recompiled_and_a_vanished_instance_resolves_later():
    got = Recorder()
    ev = Evaluator("h", [rule(key="fs.*.percent", above=90)], got)
    run(ev, [{"fs./data.percent": 99, "fs./.percent": 10}])
    run(ev, [{"fs./.percent": 10}] * 300, start=T0 + 1)  # /data unmounted
    assert got.states() == [("fs./data.percent", FIRING), ("fs./data.percent", RESOLVED)]
    resolved = got.transitions[1]
    assert resolved.value is None and resolved.ts - T0 > 120


def test_a_broken_sample_is_counted_and_the_next_one_evaluated():
    got = Recorder()
    ev = Evaluator("h", [rule(key="cpu.total", above=90)], got)
    ev.on_sample(Sample(0, T0, {"cpu.total": "garbage"}))  # type: ignore[dict-item]
    assert ev.errors == 1
    ev.on_sample(Sample(1, T0 + 1, {"cpu.total": 99.0}))
    assert got.states() == [("cpu.total", FIRING)]


def test_the_trend_forecasts_full_and_says_when():
    got = Recorder()
    ev = Evaluator("h", [rules.parse_rule({"name": "fill", "kind": "trend", "key": "fs.*.percent",
                                           "within": "24h"})], got)  # fmt: skip
    # +1 % a minute from 50 %: full in ~50 minutes, well within a day
    run(ev, [{"fs./.percent": 50 + i / 60} for i in range(40 * 60)])
    assert got.states() == [("fs./.percent", FIRING)]
    firing = got.transitions[0]
    assert firing.detail.startswith("full in about ") and " at 20" in firing.detail
    assert firing.ts - T0 >= 600  # ten minutes of points before any forecast


def test_time_to_full():
    rising = deque((t * 60.0, 10 + t) for t in range(20))  # 1 % a minute, at 29 %
    assert math.isclose(time_to_full(rising), 71 * 60, rel_tol=1e-6)
    assert time_to_full(deque((t * 60.0, 10.0) for t in range(20))) == math.inf
    assert time_to_full(deque((t * 60.0, 10.0 + t) for t in range(5))) is None  # too short


def test_silence_fires_from_the_last_sample_and_resolves_when_samples_come_back():
    got = Recorder()
    ev = Evaluator("h", rules.defaults(), got)
    ev.check_offline(30, T0, T0 + 30)
    assert got.transitions == []
    ev.check_offline(61, T0, T0 + 61)
    ev.check_offline(90, T0, T0 + 90)
    ev.check_offline(0.5, T0 + 100, T0 + 100)
    assert got.states() == [("h", FIRING), ("h", RESOLVED)]
    assert {t.since for t in got.transitions} == {T0}
    assert got.transitions[0].rule == "host-offline"


def test_a_layout_of_the_same_size_with_another_key_is_a_new_plan():
    got = Recorder()
    ev = Evaluator("h", [rule(key="fs.*.percent", above=90)], got)
    run(ev, [{"fs./a.percent": 10}])
    run(ev, [{"fs./b.percent": 99}], start=T0 + 1)  # /a unmounted, /b mounted: one key each
    assert got.states() == [("fs./b.percent", FIRING)]


def test_two_rules_on_one_key_fire_and_resolve_each_at_its_own_threshold():
    got = Recorder()
    warn = rules.parse_rule({"name": "warn", "key": "fs.*.percent", "above": 90, "clear": 88})
    crit = rules.parse_rule({"name": "crit", "key": "fs.*.percent", "above": 95, "clear": 93})
    ev = Evaluator("h", [warn, crit], got)
    run(ev, [{"fs./.percent": v} for v in (80, 91, 96, 94, 92.5, 89, 87)])
    assert [(t.rule, t.state, t.value) for t in got.transitions] == [
        ("warn", FIRING, 91), ("crit", FIRING, 96), ("crit", RESOLVED, 92.5),
        ("warn", RESOLVED, 87)]  # fmt: skip
