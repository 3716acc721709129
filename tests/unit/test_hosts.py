"""The Host header rule (web/hosts.py) and the revoked-sessions file (web/revoked.py)."""

from __future__ import annotations

import pytest

from hostpulse.web.hosts import AllowedHosts, host_of
from hostpulse.web.revoked import COMPACT_AFTER, RevokedSessions


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("Example.COM:8080", "example.com"),
        ("example.com.", "example.com"),
        ("[::1]:8080", "::1"),
        ("[0:0::1]", "::1"),
        ("::1", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("a.example:port", None),
        ("[::1]x", None),
        ("a b", None),
        ("user@evil.example", None),
        ("", None),
    ],
)
def test_host_of_a_header(header, host):
    assert host_of(header) == host


def test_allowed_hosts_and_learning_new_addresses():
    now = [0.0]
    machine = {"box", "box.lan", "192.0.2.5"}
    allowed = AllowedHosts(
        "0.0.0.0", ["dash.example.com", ".example.org"], lambda: set(machine), lambda: now[0]
    )
    ours = ["localhost:1", "app.localhost", "127.1.2.3", "[::1]", "box:8080", "BOX.lan."]
    ours += ["192.0.2.5", "dash.example.com", "example.org", "x.y.example.org", None]
    for ok in ours:
        assert allowed(ok), ok
    for bad in ("0.0.0.0", "evil.example", "example.com", "xexample.org", "198.51.100.1"):
        assert not allowed(bad), bad
    machine.add("198.51.100.1")  # an address that came up later: learnt, not at once
    assert not allowed("198.51.100.1")
    now[0] = 31
    assert allowed("198.51.100.1")
    assert AllowedHosts("192.0.2.9", ["*"], set, lambda: 0)("anything.example")
    assert AllowedHosts("192.0.2.9", [], set, lambda: 0)("192.0.2.9:80")


def test_revoked_sessions_are_shared_through_the_file_and_compacted(tmp_path):
    path = tmp_path / "creds" / "revoked_sessions"
    one, two = RevokedSessions(path), RevokedSessions(path)
    one.revoke("a" * 24, 4e9)
    assert two.is_revoked("a" * 24) and not two.is_revoked("b" * 24)
    assert path.stat().st_mode & 0o777 == 0o600
    two.revoke("../not an id", 4e9)  # not a session id: ignored
    for i in range(COMPACT_AFTER):
        two.revoke(f"expired{i:017d}", 1.0)  # long expired
    assert len(path.read_text().splitlines()) < COMPACT_AFTER // 2
    assert one.is_revoked("a" * 24) and RevokedSessions(path).is_revoked("a" * 24)
    path.write_text(path.read_text() + "c" * 24 + " 40")  # half written by another worker
    assert one.is_revoked("a" * 24) and not one.is_revoked("c" * 24)
