"""A full disk under the history file (a real, small tmpfs): the rows are kept in memory,
the cause is logged once, /healthz says degraded, and the rows are written once space
returns (issue 17)."""

from __future__ import annotations

import contextlib
import logging
import subprocess

import pytest

from hostpulse.history import History
from hostpulse.sample import Sample
from support import Server, get_json, require, wait_until

pytestmark = pytest.mark.integration

START = 1_800_000_000.0
VALUES = {f"x.k{i}": float(i) for i in range(60)}


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)])
    require(None if mounted.returncode == 0 else "cannot mount a tmpfs here (needs root)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk) -> None:
    with open(disk / "filler", "wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)


def test_rows_wait_in_memory_while_the_disk_is_full_and_are_written_after(small_disk, caplog):
    now = [START]
    history = History(small_disk / "h.sqlite", background=False, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, "hostpulse.history"):
        fill(small_disk)
        for i in range(90):
            now[0] = START + i
            history.add(Sample(seq=i, ts=now[0], values=VALUES))
        assert history.write_error and "full" in history.write_error
        assert history.query(["x.k5"], START, now[0])["series"]["x.k5"]["avg"][0] == 5.0
        (small_disk / "filler").unlink()
        for i in range(90, 120):
            now[0] = START + i
            history.add(Sample(seq=i, ts=now[0], values=VALUES))
        assert history.write_error is None
    history.close()
    errors = [r for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(errors) == 1 and "no transaction" not in errors[0].getMessage()
    assert any("written again" in r.getMessage() for r in caplog.records)
    reopened = History(small_disk / "h.sqlite", background=False, clock=lambda: now[0])
    got = reopened.query(["x.k5"], START, START + 100, step=1)["series"]["x.k5"]["avg"]
    reopened.close()
    assert got.count(5.0) == 101, "seconds lost while the disk was full"


def test_healthz_says_degraded_while_history_cannot_be_written(small_disk, tmp_path):
    # the later --data-dir wins: the history file on the small disk
    server = Server(tmp_path, args=["--data-dir", str(small_disk / "data")]).start()
    try:
        fill(small_disk)
        body = wait_until(
            lambda: (b := get_json(server.url + "/healthz")[1])["status"] == "degraded" and b,
            40,
            "healthz degraded",
        )
        assert "full" in next(iter(body["history"]["hosts"].values()))
        assert get_json(server.url + "/healthz")[0] == 200  # the live side goes on
        (small_disk / "filler").unlink()
        wait_until(lambda: get_json(server.url + "/healthz")[1]["status"] == "ok", 40, "ok")
    finally:
        server.stop()
