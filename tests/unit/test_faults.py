"""Faults: a hanging statfs, wall-clock steps (the tick schedule and history order)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from conftest import Part, Usage
from hostpulse.collect import disks
from hostpulse.history import History
from hostpulse.sample import Sample
from hostpulse.sampler import Sampler


def _collector(release: threading.Event, timeout: float = 0.2):
    parts = [Part("/dev/sda1", "/", "ext4", ""), Part("nfs:/x", "/hung", "ext4", "")]
    calls = []

    def usage(mount: str) -> Usage:
        calls.append(mount)
        if mount == "/hung":
            release.wait(30)
        return Usage(100, 40, 60, 40.0)

    fs = disks.FilesystemCollector(lambda all: parts, usage, "/nonexistent", timeout=timeout)
    return fs, calls


def test_a_hanging_statfs_is_time_boxed_and_skipped_until_it_answers():
    release = threading.Event()
    fs, calls = _collector(release)
    try:
        started = time.monotonic()
        reading = fs.read()
        assert time.monotonic() - started < 1.0
        assert reading.values["fs./.used"] == 40 and reading.values["fs./hung.used"] is None
        started = time.monotonic()
        reading = fs.read()  # the hung mount is not asked again: no wait at all
        assert time.monotonic() - started < 0.1
        assert calls.count("/hung") == 1 and "fs./.used" in reading.values
    finally:
        release.set()
    time.sleep(0.05)
    assert fs.read().values["fs./hung.used"] == 40 and not fs.hung


@pytest.mark.integration
def test_under_gevent_a_hanging_statfs_blocks_neither_the_tick_nor_the_loop(tmp_path):
    """In the server's own setting: monkey-patched, statfs blocked in the kernel (a pipe read)."""
    script = textwrap.dedent(
        """
        from gevent import monkey; monkey.patch_all()
        import os, time, gevent
        from collections import namedtuple
        from hostpulse.collect import disks
        Part = namedtuple("Part", "device mountpoint fstype opts")
        Usage = namedtuple("Usage", "total used free percent")
        r, w = os.pipe()
        def usage(mount):
            if mount == "/hung":
                os.read(r, 1)  # blocks this OS thread for real, like a dead NFS statfs
            return Usage(1, 1, 0, 100.0)
        parts = [Part("a", "/", "ext4", ""), Part("b", "/hung", "nfs", "")]
        fs = disks.FilesystemCollector(lambda all: parts, usage, "/nonexistent", timeout=0.3)
        beats = []
        def heartbeat():
            while True:
                beats.append(time.monotonic()); gevent.sleep(0.02)
        gevent.spawn(heartbeat)
        gevent.sleep(0.05)
        t = time.monotonic(); v1 = fs.read().values; first = time.monotonic() - t
        t = time.monotonic(); fs.read(); second = time.monotonic() - t
        gaps = max(b - a for a, b in zip(beats, beats[1:]))
        print(first, second, gaps, v1["fs./.used"] is not None, v1["fs./hung.used"] is not None)
        os._exit(0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    first, second, gap, has_root, has_hung = done.stdout.split()
    assert float(first) < 0.6 and float(second) < 0.1
    assert float(gap) < 0.2, "the event loop was blocked"
    assert has_root == "True" and has_hung == "False"


def test_wall_clock_steps_do_not_move_the_tick_schedule():
    """The schedule runs on the monotonic clock; the wall clock only stamps samples."""
    wall = [1_000_000.0]
    stamps: list[float] = []
    starts: list[float] = []

    class Stepper:
        name = "stepper"

        def read(self):
            starts.append(time.monotonic())
            wall[0] += -3600 if len(starts) == 3 else 7200 if len(starts) == 6 else 0
            from hostpulse.collect import Reading

            return Reading(values={"x.y": 1.0})

    sampler = Sampler([Stepper()], interval=0.25, wallclock=lambda: wall[0])
    sampler.subscribe(lambda s: stamps.append(s.ts))
    sampler.start()
    time.sleep(2.1)
    sampler.stop()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) >= 6 and all(0.15 < g < 0.4 for g in gaps), gaps
    assert sampler.stats.skipped == 0


def test_history_keeps_time_order_across_a_backward_step():
    history = History(background=False, clock=lambda: 2_000_100.0)
    for i, ts in enumerate([2_000_000.0, 2_000_001.0, 1_999_000.0, 2_000_002.0, 2_000_001.5]):
        history.add(Sample(seq=i, ts=ts, values={"x.y": float(i)}))
    got = history.recent(["x.y"], 200)
    points = [
        (t, v) for t, v in zip(got["ts"], got["series"]["x.y"]["avg"], strict=True) if v is not None
    ]
    assert [t for t, _ in points] == sorted(t for t, _ in points)
    assert [v for _, v in points] == [0.0, 1.0, 3.0]
    assert history.dropped == 2


@pytest.mark.integration
def test_more_hung_mounts_than_threads_stop_neither_the_others_nor_logins(tmp_path):
    """Under gevent, 60 mounts whose statfs never returns (more than the hub's pool and the
    collector's working threads together): the good mounts are still read every time, each
    read is time-boxed, and a password check (a pool of its own) and gevent's resolver (the
    hub's pool) answer at once."""
    script = textwrap.dedent(
        """
        from gevent import monkey; monkey.patch_all()
        import os, socket, time
        from collections import namedtuple
        from hostpulse.collect import disks
        from hostpulse.osthreads import OSThreads
        Part = namedtuple("Part", "device mountpoint fstype opts")
        Usage = namedtuple("Usage", "total used free percent")
        r, w = os.pipe()
        def usage(mount):
            if mount.startswith("/hung"):
                os.read(r, 1)  # blocks this OS thread for real, like a FUSE nobody serves
            return Usage(1, 1, 0, 100.0)
        parts = [Part(f"h{i}", f"/hung{i:02}", "fuse", "") for i in range(60)]
        parts += [Part("a", "/", "ext4", ""), Part("b", "/srv", "ext4", "")]
        fs = disks.FilesystemCollector(lambda all: parts, usage, "/nonexistent", timeout=0.3)
        took, good = [], []
        for _ in range(4):
            t = time.monotonic(); v = fs.read().values; took.append(time.monotonic() - t)
            good.append(v["fs./.used"] is not None and v["fs./srv.used"] is not None)
        v = fs.read().values
        hung_unknown = all(v[f"fs./hung{i:02}.used"] is None for i in range(60))
        t = time.monotonic(); OSThreads(2, "login").apply(sum, [1, 2]); login = time.monotonic() - t
        t = time.monotonic(); socket.getaddrinfo("localhost", 80); dns = time.monotonic() - t
        os.write(w, b"x" * 120)  # every hung call returns, and the next call too
        time.sleep(0.3)
        v = fs.read().values
        back = all(v[f"fs./hung{i:02}.used"] == 1 for i in range(60))
        print(max(took), all(good), hung_unknown, login, dns, back, len(fs.hung))
        os._exit(0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    slowest, good, unknown, login, dns, back, still_hung = done.stdout.split()
    assert float(slowest) < 1.0, "a read waited for more than its time box"
    assert good == "True" and unknown == "True"
    assert float(login) < 0.5 and float(dns) < 1.0
    assert back == "True" and still_hung == "0"
    assert done.stderr.count("statfs did not answer") == 60  # one line per mount, not per tick
