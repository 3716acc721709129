"""The dashboard page in a real Chromium against a real `hostpulse serve`.

Needs Debian's chromium (`apt-get install chromium`) and the vendored browser assets
(`make assets`); skips with a reason when either is missing (fails in CI). The server sends a strict
Content-Security-Policy (checked here), so an inline script or style, or an eval, shows up as
a console error and fails the test. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import json
import re
import socket
import time

import psutil
import pytest

from support import Page, Server, browser_missing, get_json, require

pytestmark = pytest.mark.e2e
require(browser_missing())

NUMBER = re.compile(r"^\d+(\.\d+)?$")
RATE = re.compile(r"^\d+(\.\d+)? (B|KiB|MiB|GiB|TiB|PiB)/s$")


@pytest.fixture
def page(browser, server):
    p = Page(browser, server.url)
    yield p
    p.close()


def test_live_values_facts_and_transport(page):
    page.open()
    assert page.transport() == "websocket"
    assert page.text("#hostname") == socket.gethostname()
    assert page.text("#conn-state") == "connected"

    # the CPU figure moves with the ticks (interval 0.5 s: give it a few)
    seen = {page.text("#cpu-total")}
    deadline = time.monotonic() + 20
    while len(seen) < 2 and time.monotonic() < deadline:
        page.wait_ticks(1)
        seen.add(page.text("#cpu-total"))
    assert len(seen) >= 2, f"cpu-total never changed: {seen}"
    assert all(NUMBER.match(v) for v in seen), seen

    cores = page.page.locator("[data-testid=cpu-cores] .core")
    assert cores.count() >= 1
    assert re.match(r"^\d+(\.\d+)? ms$", page.text("#rtt")), page.text("#rtt")
    assert re.match(r"^(\d+d )?\d+(:\d\d){1,2}$", page.text("#uptime")), page.text("#uptime")
    assert page.page.locator("[data-testid=fs-row]").count() >= 1
    # uplot drew the charts
    assert page.page.locator("#cpu-chart canvas").count() == 1
    page.screenshot("page-1280.png")
    assert page.problems == []


def test_processes_panel_watches_only_while_open(page):
    page.open()
    rows = page.page.locator("[data-testid=processes-table] tbody tr[data-testid=process-row]")
    assert rows.count() == 0
    page.page.click("#processes-panel summary")
    page.page.wait_for_selector("[data-testid=process-row]", timeout=15000)
    assert rows.count() > 1
    page.page.click("[data-testid=sort-memory]")
    assert page.page.get_attribute("[data-testid=sort-memory]", "aria-pressed") == "true"
    page.screenshot("page-processes.png")
    page.page.click("#processes-panel summary")  # closed: rows hidden, no more updates
    page.wait_ticks(2)
    assert page.page.locator("tr[data-testid=process-row]:visible").count() == 0
    assert page.problems == []


def test_swap_row_says_no_swap_only_when_the_host_has_none(page):
    """No swap: the words "no swap", and neither numbers, a percentage nor an empty bar."""
    page.open()
    page.wait_ticks(2)
    has_swap = psutil.swap_memory().total > 0
    visible = page.page.is_visible
    assert visible("#swap-none") is not has_swap
    assert visible("#swap-numbers") is has_swap
    assert visible("#swap-percent") is has_swap
    assert visible("#swap-row .bar") is has_swap
    assert page.problems == []


def test_narrow_screen_single_column(browser, server):
    p = Page(browser, server.url, width=375, scheme="dark")
    try:
        p.open()
        p.wait_ticks(2)
        assert p.page.evaluate("() => document.documentElement.scrollWidth") <= 375
        p.screenshot("page-375-dark.png")
        assert p.problems == []
    finally:
        p.close()


def test_reconnects_after_server_restart(browser, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = Server(tmp_path / "a").start()
    p = Page(browser, first.url)
    try:
        p.open()
        # the page's history requests done: one cut by the stop would be logged as an error
        p.page.wait_for_function("() => window.hostpulse.loader.last !== null", timeout=15000)
        first.stop()
        p.wait_state("disconnected")
        assert "disconnected" in p.text("#conn-state")
        second = Server(tmp_path / "b", port=first.port).start()
        try:
            p.wait_state("connected", timeout=20000)
            p.wait_ticks(2)
            assert p.text("#hostname") == socket.gethostname()
        finally:
            second.stop()
        # Chromium logs each refused reconnect attempt; those are not the page's errors
        assert [m for m in p.problems if "/socket.io/" not in m] == []
    finally:
        p.close()


def test_disk_and_network_choosers_follow_the_devices(page, server):
    """Each chooser offers the host total plus every device of the sample; picking one shows it."""
    page.open()
    page.wait_ticks(2)
    host = page.page.get_attribute("body", "data-host")
    status, sample = get_json(f"{server.url}/api/v1/hosts/{host}/sample")
    assert status == 200, sample
    _, facts = get_json(f"{server.url}/api/v1/hosts/{host}")
    down = {n for n, nic in facts["facts"]["interfaces"].items() if not nic["up"]}
    for family, field in (("disk", "read_bps"), ("net", "rx_bps")):
        devices = sorted(
            k[len(family) + 1 : -len(field) - 1]
            for k in sample["values"]
            if k.startswith(f"{family}.")
            and k.endswith(f".{field}")
            and k != f"{family}.total.{field}"
        )
        if family == "net":  # an interface that is down is offered only when asked for
            shown_all = devices
            devices = [d for d in devices if d not in down]
        select = page.page.locator(f"#{family}-select")
        offered = select.locator("option").evaluate_all("opts => opts.map(o => o.value)")
        assert offered == ["total", *devices], (family, offered)
        assert RATE.match(page.text(f"#{family}-{field.removesuffix('_bps')}"))
        if devices:
            select.select_option(devices[-1])
            page.wait_ticks(1)
            assert RATE.match(page.text(f"#{family}-{field.removesuffix('_bps')}"))
    page.page.check("#net-show-down")
    offered = page.page.locator("#net-select option").evaluate_all("o => o.map(x => x.value)")
    assert offered == ["total", *shown_all]
    assert page.problems == []


# --- what the server relays may be wrong (an agent's facts, a process table) -------------

HOSTILE_FACTS = {
    "hostname": {"not": "a string"},
    "fqdn": ["a", "list"],
    "addresses": "not a list",
    "kernel": 5,
    "cores_logical": "many",
    "mem_total": [1],
    "boot_time": {"a": 1},
    "os_pretty": None,
}


def rewrite_events(page: Page, change) -> None:
    """Relay the page's websocket to the real server, passing each /live event the server
    sends through ``change(name, payload)`` (what a bad agent in Redis could make it send)."""
    prefix = "42/live,"

    def route(ws) -> None:
        server = ws.connect_to_server()

        def from_server(message) -> None:
            if isinstance(message, str) and message.startswith(prefix):
                name, *rest = json.loads(message[len(prefix) :])
                payload = change(name, rest[0] if rest else None)
                message = prefix + json.dumps([name, payload])
            ws.send(message)

        server.on_message(from_server)

    page.page.route_web_socket(re.compile(r"/socket\.io/"), route)


def test_facts_of_unexpected_types_still_give_a_title_and_a_live_page(browser, server):
    page = Page(browser, server.url)
    hosts = []

    def change(name, payload):
        if name == "hello":
            hosts.append(payload["host"])
            payload["facts"] = HOSTILE_FACTS
        return payload

    rewrite_events(page, change)
    try:
        page.open()  # connected and the CPU figure shown
        host = hosts[0]
        assert page.text("#host-title") == host
        assert page.page.title() == f"{host} · hostpulse"
        assert page.text("#hostname") == "–" and page.text("#os") == "–"
        assert page.page.locator("#addresses li").count() == 1  # the "–" line
        page.wait_ticks(2)
        assert page.problems == []
    finally:
        page.close()


def test_one_bad_process_row_does_not_stop_the_table(browser, server):
    page = Page(browser, server.url)
    good = []

    def change(name, payload):
        if name == "processes" and isinstance(payload, dict):
            # the table shows both top tables once each (by pid), the first 25 by CPU
            pids = {r["pid"] for t in ("by_cpu", "by_memory") for r in payload.get(t) or []}
            good.append(len(pids))
            for table in ("by_cpu", "by_memory"):
                rows = payload.get(table) or []
                odd = {"pid": {"x": 1}, "name": 7, "cpu": "x", "mem_percent": None, "rss": "1"}
                payload[table] = [None, "a row?", odd, *rows]
        return payload

    rewrite_events(page, change)
    try:
        page.open()
        page.page.click("#processes-panel summary")
        rows = page.page.locator("tr[data-testid=process-row]:visible")
        page.page.wait_for_function(
            "() => document.querySelectorAll('tr[data-testid=process-row]:not([hidden])')"
            ".length > 1",
            timeout=15000,
        )
        page.wait_ticks(2)
        # the odd row (once from each table) is shown with what it has, after the good ones
        assert rows.count() == min(25, good[-1] + 2)
        if good[-1] < 24:
            odd = rows.last.locator("td")
            assert odd.nth(0).text_content() == "" and odd.nth(3).text_content() == "–"
        assert page.problems == []
    finally:
        page.close()
