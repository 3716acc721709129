"""REST API, /metrics and /healthz through a real server."""

from __future__ import annotations

import json
import socket
import time

import pytest

from support import get_json, http_get, wait_until

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


def wait_history(server, hid: str, key: str) -> None:
    """Until the key has a point held (the server just started)."""

    def held():
        status, body = get_json(f"{server.url}/api/v1/hosts/{hid}/history?keys={key}&since=-60")
        return status == 200 and any(v is not None for v in body["series"][key]["avg"])

    wait_until(held, 10, f"a point of {key}")


def test_history_of_a_key_the_host_never_had_is_404_naming_it(server):
    hid = host_id(server)
    wait_history(server, hid, "cpu.total")
    status, body = get_json(
        f"{server.url}/api/v1/hosts/{hid}/history?keys=cpu.total,cpu.totl&since=-60"
    )
    assert status == 404 and "'cpu.totl'" in body["error"], body


def test_keys_lists_units_and_the_span_held(server):
    hid = host_id(server)
    wait_history(server, hid, "mem.percent")
    status, body = get_json(f"{server.url}/api/v1/hosts/{hid}/keys")
    assert status == 200 and body["host"] == hid
    listed = {k["key"]: k for k in body["keys"]}
    assert [k["key"] for k in body["keys"]] == sorted(listed)
    assert listed["mem.percent"]["unit"] == "%" and listed["mem.used"]["unit"] == "B"
    now = time.time()
    for key in ("cpu.total", "mem.percent"):
        first, last = listed[key]["first"], listed[key]["last"]
        assert now - 180 < first <= last <= now + 2, listed[key]
    status, body = get_json(f"{server.url}/api/v1/hosts/{hid}/keys?x=1")
    assert status == 400 and "no parameters" in body["error"]


def test_history_as_csv_has_the_json_points(server):
    hid = host_id(server)
    wait_history(server, hid, "mem.percent")
    until = int(time.time()) - 1
    query = f"keys=mem.percent,cpu.total&since={until - 30}&until={until}&step=1"
    _, answer = get_json(f"{server.url}/api/v1/hosts/{hid}/history?{query}")
    status, headers, body = http_get(f"{server.url}/api/v1/hosts/{hid}/history?{query}&format=csv")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    header, *lines = body.decode().splitlines()
    assert (
        header
        == "ts,mem.percent,mem.percent_min,mem.percent_max,cpu.total,cpu.total_min,cpu.total_max"
    )
    assert len(lines) == len(answer["ts"])
    for line, ts, i in zip(lines, answer["ts"], range(len(lines)), strict=True):
        cells = line.split(",")
        want = [
            answer["series"][k][part][i] for k in ("mem.percent", "cpu.total")
            for part in ("avg", "min", "max")
        ]  # fmt: skip
        assert float(cells[0]) == ts
        assert [None if c == "" else float(c) for c in cells[1:]] == want
    assert any(c != "" for line in lines for c in line.split(",")[1:])
    status, body = get_json(f"{server.url}/api/v1/hosts/{hid}/history?{query}&format=xml")
    assert status == 400 and "format must be one of json, csv" in body["error"]
