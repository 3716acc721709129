"""Fixtures every tier shares: a real server, and Debian's chromium driven by Playwright
(never a downloaded browser)."""

import pytest

from support import CHROMIUM, CHROMIUM_ARGS, Server, browser_missing, require


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One real `hostpulse serve` shared by a module's tests."""
    srv = Server(tmp_path_factory.mktemp("server")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    """Skips locally without chromium or Playwright; fails in CI (support.require)."""
    require(browser_missing())
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()
