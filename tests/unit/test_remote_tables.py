"""On-demand tables of remote hosts without Redis: their encoding and the feed's demand."""

from __future__ import annotations

import json

import pytest

from hostpulse.remote import wire
from hostpulse.remote.inbound import Boundary
from hostpulse.remote.reader import RemoteFeed
from hostpulse.sample import Table

ROW = {"pid": 1, "name": "init", "user": "root", "cpu": 0.0, "rss": 5, "mem_percent": 0.1,
       "state": "sleeping", "cmd": "/sbin/init"}  # fmt: skip


def test_a_table_round_trips_and_bad_entries_are_refused():
    table = Table("processes", 7, 1.5, {"count": 1, "by_cpu": [ROW], "by_memory": [ROW]})
    fields = {k.encode(): v.encode() for k, v in wire.encode_table(table).items()}
    assert wire.decode_table("processes", fields) == table
    for bad in ("{", "[]", '{"seq": 1, "ts": 1, "count": 1}', '{"seq": "x"}'):
        assert wire.decode_table("processes", {b"d": bad.encode()}) is None
    assert wire.decode_table("processes", {}) is None
    rows = [1, {"pid": 2}, ROW]
    odd = json.dumps({"seq": 1, "ts": 1, "count": 3, "by_cpu": rows, "by_memory": []})
    rows = wire.decode_table("processes", {"d": odd}).data["by_cpu"]
    assert Boundary().rows("web-1", rows) == [ROW]  # the rows are checked at the boundary


def test_keys_and_ttl():
    assert wire.want_key("web-1", "processes") == "hostpulse:want:processes:web-1"
    assert wire.table_key("web-1", "processes") == "hostpulse:processes:web-1"
    assert wire.want_ttl_ms(0.5) == 4000 and wire.want_ttl_ms(10) == 40000


def test_remote_feed_hands_tables_on_only_while_wanted():
    feed = RemoteFeed()
    got = []
    feed.subscribe_tables(got.append)
    table = Table("processes", 1, 1.0, {"count": 0, "by_cpu": [], "by_memory": []})
    feed.receive_table(table)
    feed.want("processes", "sid-1")
    feed.want("processes", "sid-2")
    feed.receive_table(table)
    feed.want("processes", "sid-1", False)
    assert feed.is_wanted("processes")
    feed.want("processes", "sid-2", False)
    feed.receive_table(table)
    assert got == [table] and not feed.is_wanted("processes")
    with pytest.raises(KeyError):
        feed.want("nope", "sid-1")
