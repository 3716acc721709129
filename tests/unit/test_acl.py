"""The ACL rules `hostpulse redis-acl` prints (tested against a real redis-server in
tests/integration/test_redis_boundary.py)."""

from __future__ import annotations

import hashlib

from hostpulse import cli
from hostpulse.remote import acl


def test_a_host_id_is_matched_literally():
    assert acl.glob_literal("web-1") == "web-1"
    assert acl.glob_literal("a*b?[c]\\") == "a\\*b\\?\\[c\\]\\\\"


def test_agent_rules_name_only_its_own_keys_and_store_no_password():
    rules = acl.agent_rules("web-1", "pw")
    keys = [r for r in rules if "~" in r]
    assert all(r.endswith((":web-1", "hostpulse:hosts")) for r in keys)
    assert "#" + hashlib.sha256(b"pw").hexdigest() in rules and "pw" not in " ".join(rules)
    assert rules.index("-@all") < rules.index("+xadd")


def test_an_invalid_host_id_is_refused(capsys):
    assert cli.main(["redis-acl", "agent", "has space"]) == cli.EXIT_CONFIG
    assert "host id must be" in capsys.readouterr().err


def test_the_url_quotes_user_and_password():
    assert acl.url_for("a:b", "p@ss/") == "redis://a%3Ab:p%40ss%2F@REDIS-HOST:6379/0"
