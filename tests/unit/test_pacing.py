"""The overview's pacing (web/pacing.py): soon after new samples, never twice in a tick."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostpulse.web.live.pacing import Pacer

TICK = 1.0
COALESCE = 0.05


def simulate(arrivals: list[float], until: float) -> list[float]:
    """Run a pacer over sample arrival times the way Overview.run does; send times."""
    pacer = Pacer(TICK, COALESCE)
    pending = sorted(arrivals)
    sends: list[float] = []
    now = 0.0
    pacer.done(now, sent=True)  # the loop has just sent
    sends.append(now)
    while now < until:
        due = pacer.due()
        if pending and pending[0] < due:
            now = pending.pop(0)
            pacer.changed(now)
            continue
        now = due
        changed = bool(sends) and any(sends[-1] < a <= now for a in arrivals)
        pacer.done(now, sent=changed)
        if changed:
            sends.append(now)
    return sends


def test_a_sample_after_a_quiet_tick_goes_out_after_the_coalescing_window():
    pacer = Pacer(TICK, COALESCE)
    pacer.done(10.0, sent=True)
    assert pacer.due() == 11.0  # nothing new: looked at again a tick later (status changes)
    assert pacer.changed(12.5)
    assert pacer.due() == 12.5 + COALESCE


def test_samples_in_one_window_wake_the_loop_once():
    pacer = Pacer(TICK, COALESCE)
    assert pacer.changed(1.0)
    assert not pacer.changed(1.01)
    assert not pacer.changed(1.02)
    assert pacer.due() == 1.0 + COALESCE


def test_a_sample_soon_after_a_message_waits_for_the_tick():
    pacer = Pacer(TICK, COALESCE)
    pacer.done(5.0, sent=True)
    pacer.changed(5.2)
    assert pacer.due() == 6.0


def test_a_look_that_sent_nothing_does_not_hold_the_next_sample_back():
    pacer = Pacer(TICK, COALESCE)
    pacer.done(5.0, sent=True)
    pacer.done(6.0, sent=False)  # statuses checked, nothing changed
    pacer.changed(6.3)
    assert pacer.due() == 6.3 + COALESCE


def test_a_sample_that_arrived_while_building_keeps_its_window():
    pacer = Pacer(TICK, COALESCE)
    pacer.changed(2.0)
    pacer.changed(2.06)  # same window, but suppose the build started at 2.05 ...
    pacer.done(2.05, sent=True)
    # ... the window opened at 2.0 was served; nothing is pending any more.
    assert pacer.due() == 3.05
    pacer.changed(2.5)
    pacer.done(2.4, sent=False)  # a build that started before the sample arrived
    assert pacer.due() == 3.05  # the sample is still pending: it goes with the tick


@given(st.lists(st.floats(min_value=0.0, max_value=30.0), max_size=300))
def test_never_two_messages_within_a_tick(arrivals):
    sends = simulate(arrivals, 31.0)
    gaps = [b - a for a, b in itertools.pairwise(sends)]
    assert all(gap >= TICK - 1e-9 for gap in gaps)  # float sums: 1.55 + 1.0 - 1.55


def test_every_sample_goes_out_within_a_tick_and_a_window():
    rng = random.Random(4)
    arrivals = [second + rng.random() for second in range(20) for _ in range(100)]
    sends = simulate(arrivals, 21.0)
    for a in arrivals:
        first = min(s for s in sends if s >= a)
        assert first - a <= TICK + COALESCE


def test_one_host_is_sent_after_the_window_not_after_a_free_running_tick():
    arrivals = [second + 0.3 for second in range(1, 10)]
    sends = simulate(arrivals, 11.0)
    assert sends[1:] == pytest.approx([a + COALESCE for a in arrivals])
