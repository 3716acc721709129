"""The containers panel in a real Chromium, against a real `hostpulse serve` reading a real
Podman API socket with real containers (tests/podman_support.py); and the REST API's facts."""

from __future__ import annotations

import re
import socket
import time

import pytest

from podman_support import PREFIX, Podman, podman_missing
from support import Page, Server, browser_missing, get_json, require

pytestmark = [pytest.mark.e2e, pytest.mark.containers]
require(browser_missing())
require(podman_missing())

PERCENT = re.compile(r"^\d+(\.\d+)? %$")


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    p = Podman(tmp_path_factory.mktemp("podman"))
    try:
        p.start_service()
        p.run("busy", "exec yes > /dev/null")
        p.run("sick", "exec sleep 600", "--health-cmd", "false", "--health-retries", "1")
        yield p
    finally:
        p.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory, podman):
    srv = Server(
        tmp_path_factory.mktemp("server"),
        extra_env={"HOSTPULSE_CONTAINERS_SOCKET": str(podman.socket)},
    ).start()
    yield srv
    srv.stop()


def test_panel_lists_running_containers_with_live_values(browser, served, podman):
    page = Page(browser, served.url)
    try:
        page.open()
        row = f"[data-testid=container-row][data-container={PREFIX}busy]"
        page.page.wait_for_selector(row, timeout=20000)
        assert page.page.is_visible("[data-testid=panel-containers]")
        sick = f"[data-testid=container-row][data-container={PREFIX}sick]"
        assert page.page.locator(sick).count() == 1
        cpu = f"{row} .col-cpu"
        page.page.wait_for_function(
            "(sel) => parseFloat(document.querySelector(sel).textContent) > 20",
            arg=cpu,
            timeout=15000,
        )
        seen = {page.text(cpu)}
        deadline = time.monotonic() + 15
        while len(seen) < 2 and time.monotonic() < deadline:
            page.wait_ticks(1)
            seen.add(page.text(cpu))
        assert len(seen) >= 2 and all(PERCENT.match(v) for v in seen), seen
        assert page.text(f"{row} [data-testid=container-state]") == "running"
        # its charts are the board's: filled live, then over the page's range from the history
        page.page.click(row)
        page.page.wait_for_selector("[data-testid=container-detail]", state="visible")
        assert page.text("[data-testid=container-detail-name]") == f"{PREFIX}busy"
        for chart in ("cpu", "mem", "net", "io"):
            assert page.page.locator(f"#container-chart-{chart} canvas").count() == 1
        # (a young container's first buckets of the hour average less than its whole core)
        busy_cpu = """([live, above]) => {
          const c = window.hostpulse.board.charts.get('container-cpu');
          const busy = c && c.cols[0].avg.filter((v) => v !== null && v > above).length;
          return c && c.live === live && busy > 0 && c.summary().shown;
        }"""
        wait_chart(page, busy_cpu, live=True, above=50)
        page.page.click("[data-testid=range-1h]")
        wait_chart(page, busy_cpu, live=False, above=10)
        shown = {c["name"]: c for c in page.page.evaluate("() => window.hostpulse.charts()")}
        assert shown["container-cpu"]["keys"] == [f"container.{PREFIX}busy.cpu"]
        window = (shown["container-cpu"]["xmin"], shown["container-cpu"]["xmax"])
        assert window == (shown["cpu"]["xmin"], shown["cpu"]["xmax"])
        assert abs(window[1] - window[0] - 3600) < 72, window
        page.page.click("[data-testid=range-live]")
        # sorted by CPU: the busy one first
        first = page.page.locator("[data-testid=container-row]").first
        assert first.get_attribute("data-container") == f"{PREFIX}busy"

        for _ in range(2):
            podman("healthcheck", "run", PREFIX + "sick", check=False)
        page.page.wait_for_function(
            "(sel) => document.querySelector(sel)?.textContent === 'unhealthy'",
            arg=f"{sick} [data-testid=container-health]",
            timeout=35000,  # re-inspected every 15 s, asked every 5 s
        )
        assert "1 unhealthy" in page.text("#containers-count")
        status, host = get_json(f"{served.url}/api/v1/hosts/{socket.gethostname()}")
        assert status == 200
        assert host["facts"]["containers"][PREFIX + "sick"]["health"] == "unhealthy"
        page.screenshot("page-containers.png")

        podman.rm("busy")  # stopped: its row goes
        page.page.wait_for_selector(row, state="detached", timeout=10000)
        assert page.problems == []
    finally:
        page.close()


def wait_chart(page: Page, ready: str, live: bool, above: float) -> None:
    """Wait for ``ready([live, above])``; on a timeout, fail with what the container's CPU
    chart holds."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.page.wait_for_function(ready, arg=[live, above], timeout=15000)
    except PlaywrightTimeout:
        held = page.page.evaluate(
            "() => { const c = window.hostpulse.board.charts.get('container-cpu');"
            " return c && [c.summary(), c.cols[0].avg.slice(-20)]; }"
        )
        pytest.fail(f"container CPU chart (live={live}) not filled: {held}; {page.problems}")
