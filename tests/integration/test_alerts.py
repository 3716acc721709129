"""Alerts through a real `hostpulse serve`: a bad rule stops it with one line, the API and
/metrics show a firing alert, and one killed with SIGKILL while an alert fires brings it
back firing on restart without a second FIRING transition."""

from __future__ import annotations

import signal
import time
from urllib.parse import quote

import pytest

from support import Server, get_json, hostpulse, http_get, wait_until

pytestmark = pytest.mark.integration

#: Always true on any machine (it has memory), so it fires within a second or two.
ALWAYS = """
[[alerts]]
name = "has-memory"
key = "mem.total"
above = 0
for = 1
severity = "critical"
"""


def firing(server, rule: str) -> list[dict]:
    status, body = get_json(server.url + "/api/v1/alerts")
    assert status == 200, body
    return [a for a in body["firing"] if a["name"] == rule]


def events(server, rule: str) -> list[dict]:
    status, body = get_json(server.url + "/api/v1/alerts")
    assert status == 200, body
    return [e for e in body["events"] if e["name"] == rule]


@pytest.mark.parametrize(
    ("rule", "names"),
    [
        ('name = "fs-x"\nkey = "fs.**"\nabove = 1', "rule 'fs-x': key 'fs.**'"),
        ('name = "slow"\nkey = "cpu.total"\nabove = 1\nfor = "5 min"', "rule 'slow': for must"),
        ('name = "t"\nkey = "cpu.total"\nabove = "ninety"', "rule 't': above must be a number"),
    ],
)
def test_a_bad_rule_stops_config_check_and_serve_with_one_line(tmp_path, rule, names):
    path = tmp_path / "hp.toml"
    path.write_text(f"[[alerts]]\n{rule}\n")
    serve = ("serve", "--port", "1", "--data-dir", str(tmp_path / "d"))
    for command in (("config", "check"), serve):
        done = hostpulse(*command, "--config", str(path))
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and names in lines[0] and str(path) in lines[0], done.stderr


def test_bad_alert_parameters_are_400_json(server):
    for query, says in [
        ("state=burning", "state must be one of"),
        ("since=yesterday", "since must be a number"),
        ("host=a%2Fb", "host must be a host id"),
        ("hots=x", "unknown parameter 'hots'"),
        ("since=-60&until=-120", "until must be later than since"),
    ]:
        status, body = get_json(f"{server.url}/api/v1/alerts?{query}")
        assert status == 400 and says in body["error"], (query, body)


def test_killed_while_firing_it_comes_back_firing_and_is_not_fired_again(tmp_path):
    config = tmp_path / "hp.toml"
    config.write_text(ALWAYS)
    srv = Server(tmp_path, interval=0.5, args=["--config", str(config)]).start()
    try:
        wait_until(lambda: firing(srv, "has-memory"), 10, "the alert firing")
        [alert] = firing(srv, "has-memory")
        assert alert["severity"] == "critical" and alert["value"] > 0
        assert alert["key"] == alert["instance"] == "mem.total"
        host = alert["host"]
        status, _, text = http_get(srv.url + "/metrics")
        line = (f'hostpulse_alert_firing{{host="{host}",instance="mem.total",'
                f'rule="has-memory",severity="critical"}} 1.0')  # fmt: skip
        assert status == 200 and line in text.decode(), text.decode()[-2000:]
        status, body = get_json(f"{srv.url}/api/v1/alerts?host={quote(host)}&state=firing")
        assert status == 200 and [e["name"] for e in body["events"]].count("has-memory") == 1
        # the event is written by the engine's thread: wait for it to be on disk
        wait_until(lambda: len(events(srv, "has-memory")) == 2, 5, "pending and firing events")
        time.sleep(0.5)
    finally:
        srv.stop(sig=signal.SIGKILL)
    srv = Server(tmp_path, interval=0.5, args=["--config", str(config)]).start()
    try:
        [again] = firing(srv, "has-memory")
        assert again["since"] == alert["since"]
        time.sleep(3)  # ticks on the restarted server, the alert still true
        assert [e["state"] for e in events(srv, "has-memory")] == ["firing", "pending"]
        assert [a["since"] for a in firing(srv, "has-memory")] == [alert["since"]]
    finally:
        srv.stop()
