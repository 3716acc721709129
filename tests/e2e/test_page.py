"""The dashboard page in a real Chromium against a real `hostpulse serve`.

Needs Debian's chromium (`apt-get install chromium`) and the vendored browser assets
(`make assets`); skips with a reason when either is missing (fails in CI). The server sends a strict
Content-Security-Policy (checked here), so an inline script or style, or an eval, shows up as
a console error and fails the test. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from support import Server, require

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
VENDOR = ROOT / "src" / "hostpulse" / "web" / "static" / "vendor"
CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NUMBER = re.compile(r"^\d+(\.\d+)?$")

ASSETS = ("socket.io.min.js", "uPlot.iife.min.js", "uPlot.min.css")
_MISSING = (
    "Debian chromium not installed (apt-get install chromium)"
    if not CHROMIUM.exists()
    else "browser assets missing: run `make assets`"
    if not all((VENDOR / name).exists() for name in ASSETS)
    else None
)
require(_MISSING)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A Playwright page with console problems (CSP violations among them) collected."""

    def __init__(self, browser, base_url: str, width: int = 1280, scheme: str = "light"):
        self.base_url = base_url
        self.context = browser.new_context(
            viewport={"width": width, "height": 900}, color_scheme=scheme
        )
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))

    def _console(self, msg) -> None:
        if msg.type != "error":
            return
        self.problems.append(f"console.{msg.type}: {msg.text} @ {(msg.location or {}).get('url')}")

    def open(self) -> None:
        response = self.page.goto(self.base_url + "/")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        self.wait_state("connected")
        self.page.wait_for_function(
            "() => /^[0-9.]+$/.test(document.querySelector('#cpu-total').textContent)",
            timeout=15000,
        )

    def wait_state(self, state: str, timeout: float = 15000) -> None:
        self.page.wait_for_function(
            "(s) => document.querySelector('#conn-state').dataset.state === s",
            arg=state,
            timeout=timeout,
        )

    def text(self, selector: str) -> str:
        return self.page.locator(selector).first.text_content() or ""

    def seq(self) -> int | None:
        return self.page.evaluate("() => window.hostpulse.live.seq")

    def wait_ticks(self, n: int, timeout: float = 15.0) -> None:
        start = self.seq()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.seq()
            if start is not None and now is not None and now >= start + n:
                return
            time.sleep(0.1)
        raise AssertionError(f"fewer than {n} ticks applied in {timeout}s (seq {start})")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.evaluate("() => window.scrollTo(0, 0)")
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(browser, server):
    p = Page(browser, server.url)
    yield p
    p.close()


def test_live_values_facts_and_transport(page):
    page.open()
    assert (
        page.page.evaluate("() => window.hostpulse.live.socket.io.engine.transport.name")
        == "websocket"
    )
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
