"""Which process did it, through a real `serve`: a child burning CPU is in the top-process
table the server keeps every 10 s, answered by `GET /api/v1/hosts/<id>/processes?at=`; and
the answers before any table, for a bad `at`, and after a restart (the table is in the file)."""

from __future__ import annotations

import time

import pytest

from proc_support import MARK, start_burner
from support import Server, get_json, wait_until

pytestmark = pytest.mark.integration


def processes(server: Server, query: str):
    _, body = get_json(f"{server.url}/api/v1/hosts")
    host = body["hosts"][0]["id"]
    return get_json(f"{server.url}/api/v1/hosts/{host}/processes?{query}")


def test_a_busy_child_is_the_top_row_within_20_seconds(tmp_path):
    server = Server(tmp_path, interval=1.0).start()
    started = time.time()
    burner = start_burner()  # after the start: it must not slow the server's start
    try:
        # The first read is a baseline: no table for the first 10 s.
        status, body = processes(server, "at=0")
        assert status == 404 and "no process table" in body["error"], body
        for query in ("", "at=", "at=soon", "at=1e99", "at=0&at=1", "when=0"):
            status, body = processes(server, query)
            assert status == 400 and body["error"], (query, body)

        def table():
            status, body = processes(server, "at=0")
            return body if status == 200 else None

        body = wait_until(table, 25, "a process table")
        assert started - 1 < body["ts"] <= time.time()
        top = body["rows"][0]
        assert top["pid"] == burner.pid, body["rows"][:3]
        assert top["name"].startswith("python") and MARK in top["cmd"]
        assert top["cpu"] > 20 and top["rss"] > 0 and top["user"]
        assert set(top) == {"pid", "name", "user", "cpu", "rss", "cmd"}
        assert len(body["rows"]) <= 20
        cpus = [r["cpu"] for r in body["rows"]]
        assert cpus == sorted(cpus, reverse=True)
        # Epoch seconds ask the same; a time before the table answers none.
        status, same = processes(server, f"at={body['ts']}")
        assert status == 200 and same["ts"] == body["ts"]
        assert processes(server, f"at={body['ts'] - 0.01}")[0] == 404
    finally:
        burner.kill()
        burner.wait()
        server.stop()
    # Kept in the history file: a restarted server answers it at once.
    again = Server(tmp_path, interval=1.0).start()
    try:
        status, kept = processes(again, f"at={body['ts']}")
        assert status == 200 and kept["rows"][0]["pid"] == burner.pid
    finally:
        again.stop()
