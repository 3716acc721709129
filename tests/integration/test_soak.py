"""The soak (benchmarks/soak.py) for one minute: viewers coming and going, 5% stalled.

The 30-minute run is a benchmark (`make bench-soak`); this runs the same code briefly and
asserts what can fail: nothing leaks once everybody has left, reading viewers miss nothing,
every stalled viewer is cut, and a fresh viewer is still served.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import soak

# A minute of waiting on purpose: the slow tier (make test-slow), which CI runs.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: MB the server may keep after 450 viewers came and went (a leak of ~70 KB each fails).
RSS_BOUND_MB = 30


def test_viewers_coming_and_going_for_a_minute_leave_nothing_behind():
    args = soak.parser().parse_args(
        [
            "--minutes", "0.75",
            "--viewers", "200",
            "--rate", "10",
            "--stall-timeout", "2",
            "--stall-grace", "13",
            "--interval", "0.5",
            "--period", "5",
        ]
    )  # fmt: skip
    lines: list[str] = []
    summary = soak.run(args, out=lines.append)
    report = "\n".join(lines)
    t = summary.totals
    assert summary.fd_after <= summary.fd_baseline + 3, report
    assert t["connects"] >= 400 and t["failed"] == 0, report
    assert t["received"] > 0 and t["dropped"] == 0, report
    assert summary.worst_missed <= summary.skipped_ticks, report
    assert t["stalled_cut"] >= 15 and t["stalled_kept"] == 0, report
    assert summary.rss_after_mb - summary.rss_baseline_mb < RSS_BOUND_MB, report
    assert summary.fresh_viewer_ok, report
    assert not summary.problems(RSS_BOUND_MB), report
