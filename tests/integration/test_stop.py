"""Stopping: SIGTERM is clean, quick and keeps history; SIGKILL loses at most the last batch."""

from __future__ import annotations

import signal
import time

import pytest

from support import Server, get_json

pytestmark = pytest.mark.integration

BATCH_SECONDS = 15  # History's default batch: what a crash may lose


def points(server: Server, since: float) -> list[float]:
    _, hosts = get_json(server.url + "/api/v1/hosts")
    host = hosts["hosts"][0]["id"]
    _, got = get_json(
        server.url + f"/api/v1/hosts/{host}/history?keys=mem.used&since={since}&step=1"
    )
    return [t for t, v in zip(got["ts"], got["series"]["mem.used"]["avg"], strict=True) if v]


def test_sigterm_stops_within_5s_and_history_survives(tmp_path):
    srv = Server(tmp_path).start()
    started = time.time()
    time.sleep(4)
    before = points(srv, started - 1)
    assert len(before) >= 3
    srv.process.send_signal(signal.SIGTERM)
    t = time.monotonic()
    code = srv.process.wait(10)
    took = time.monotonic() - t
    srv.stop()
    assert code == 0 and took < 5, (code, took)
    assert "history flushed" in srv.output()
    srv.start()
    try:
        after = points(srv, started - 1)
        assert set(before) <= set(after), "points from before the stop are missing"
    finally:
        srv.stop()


def test_sigkill_loses_at_most_the_last_batch(tmp_path):
    srv = Server(tmp_path).start()
    started = time.time()
    time.sleep(BATCH_SECONDS + 6)
    before = points(srv, started - 1)
    killed_at = time.time()
    srv.stop(signal.SIGKILL)
    srv.start()
    try:
        after = set(points(srv, started - 1))
        lost = [t for t in before if t not in after]
        assert before and all(t > killed_at - BATCH_SECONDS - 2 for t in lost), (
            f"lost {len(lost)} points, oldest {killed_at - min(lost):.1f}s before the kill"
        )
        assert len(after & set(before)) >= len(before) - 2 * BATCH_SECONDS
    finally:
        srv.stop()
