"""Alerts through a real `hostpulse serve`: a bad rule stops it with one line; bad API
parameters are a 400. (A firing alert on the API and /metrics, and a server killed while
it fires: tests/integration/test_alerts_notify.py.)"""

from __future__ import annotations

import pytest

from support import get_json, hostpulse

pytestmark = pytest.mark.integration


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
