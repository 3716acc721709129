"""The browser of the e2e tier: Debian's chromium driven by Playwright (never a downloaded one)."""

import pytest

from support import CHROMIUM, CHROMIUM_ARGS, browser_missing, require


@pytest.fixture(scope="module")
def browser():
    require(browser_missing())
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()
