"""REST API, /metrics and /healthz through a real server."""

from __future__ import annotations

import json
import socket
import time

import pytest

from support import get_json, http_get

pytestmark = pytest.mark.integration


def host_id(server) -> str:
    return get_json(server.url + "/api/v1/hosts")[1]["hosts"][0]["id"]


def test_hosts_lists_this_host(server):
    status, body = get_json(server.url + "/api/v1/hosts")
    assert status == 200
    [host] = body["hosts"]
    assert host["id"] == socket.gethostname()
    assert host["status"] == "online"
    assert abs(host["last_seen"] - time.time()) < 5


def test_facts_and_sample(server):
    hid = host_id(server)
    status, facts = get_json(f"{server.url}/api/v1/hosts/{hid}")
    assert status == 200 and facts["facts"]["hostname"] == socket.gethostname()
    deadline = time.monotonic() + 10
    while True:  # the first tick has no rates (null): wait for the second
        status, sample = get_json(f"{server.url}/api/v1/hosts/{hid}/sample")
        assert status == 200
        if sample["seq"] >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert 0 <= sample["values"]["cpu.total"] <= 100
    assert sample["values"]["mem.total"] > 0


def test_history_returns_recent_points(server):
    hid = host_id(server)
    time.sleep(server.interval * 3)
    status, body = get_json(
        f"{server.url}/api/v1/hosts/{hid}/history?keys=cpu.total,mem.percent&since=-60&step=1"
    )
    assert status == 200, body
    series = body["series"]["mem.percent"]["avg"]
    assert len(series) == len(body["ts"])
    assert any(v is not None and 0 < v <= 100 for v in series)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "keys is required"),
        ("keys=cpu", "not a metric key"),
        ("keys=cpu.total&since=abc", "since must be a number"),
        ("keys=cpu.total&step=0", "step must be"),
        ("keys=cpu.total&step=nan", "finite"),
        ("keys=cpu.total&since=-10&until=-20", "until must be later"),
        ("keys=" + ",".join(f"cpu.core.{i}" for i in range(65)), "at most 64 keys"),
        ("keys=,,,", "keys is required"),
        ("keys=cpu.total&since=-1e20", "since must be epoch seconds"),
        ("keys=cpu.total&since=1e300", "since must be epoch seconds"),
        ("keys=cpu.total&until=-1e300", "until must be epoch seconds"),
        ("keys=cpu.total&since=inf", "since must be a finite number"),
        ("keys=cpu.total&sincee=-60", "unknown parameter 'sincee'"),
        ("keys=cpu.total&since=-60&since=-30", "since is given more than once"),
    ],
)
def test_history_bad_parameters_get_400_json(server, query, message):
    status, body = get_json(f"{server.url}/api/v1/hosts/{host_id(server)}/history?{query}")
    assert status == 400
    assert message in body["error"]


@pytest.mark.parametrize(
    "path", ["/api/v2/hosts", "/api/", "/api", "/api/v1/nothing", "/api/v1/hosts/x/y/z"]
)
def test_every_path_under_api_answers_json_404(server, path):
    status, headers, body = http_get(server.url + path)
    assert status == 404 and headers["Content-Type"] == "application/json", body
    assert f"'{path}'" in json.loads(body)["error"]  # it names the path


def test_unknown_host_404_json(server):
    status, body = get_json(server.url + "/api/v1/hosts/no-such-host/sample")
    assert status == 404 and "no-such-host" in body["error"]


def test_metrics_prometheus_text(server):
    status, headers, body = http_get(server.url + "/metrics")
    text = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    hid = host_id(server)
    assert f'hostpulse_mem_total{{host="{hid}"}}' in text
    assert 'hostpulse_fs_percent{host="' in text and 'mount="/"' in text
    assert "hostpulse_sampler_ticks_total" in text


def test_healthz(server):
    status, body = get_json(server.url + "/healthz")
    assert status == 200 and body["status"] == "ok"
    assert 0 <= body["last_tick_age"] < 3 * server.interval
