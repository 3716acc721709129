"""GPUs across Redis: an agent whose sysfs readers see a fake AMD GPU and one without GPUs,
one `serve --redis` worker, a real Chromium. The overview card of the GPU host shows its GPU
utilization and the other's shows no GPU row; the GPU host's page has its GPU card."""

from __future__ import annotations

import pytest

from gpu_fakes import amd_card, write
from redis_support import REDIS_SERVER, fleet
from support import Page, browser_missing, require

pytestmark = pytest.mark.e2e
require(None if REDIS_SERVER else "redis-server not installed (apt-get install redis-server)")
require(browser_missing())


def test_agents_publish_gpus_and_the_overview_shows_them(browser, tmp_path):
    from playwright.sync_api import expect

    sysfs = tmp_path / "sys"
    amd = amd_card(sysfs, 0, busy=42)
    agents = {
        "gpu-host": {"HOSTPULSE_GPU_SYSFS": str(sysfs)},
        "plain": {"HOSTPULSE_GPU_SYSFS": str(tmp_path / "no-gpus")},
    }
    with fleet(tmp_path, agents) as worker, Page(browser, worker.url) as view:
        page = view.page
        page.goto(worker.url + "/")
        expect(page.get_by_test_id("ov-card")).to_have_count(2, timeout=20000)
        gpu_card = page.locator("[data-testid=ov-card][data-host=gpu-host]")
        expect(gpu_card.get_by_test_id("ov-gpu")).to_have_text("42.0 %", timeout=15000)
        expect(gpu_card.get_by_test_id("ov-gpu")).to_be_visible()
        plain = page.locator("[data-testid=ov-card][data-host=plain]")
        expect(plain.get_by_test_id("ov-gpu")).to_be_hidden()
        write(amd / "gpu_busy_percent", 64)
        expect(gpu_card.get_by_test_id("ov-gpu")).to_have_text("64.0 %", timeout=15000)
        gpu_card.click()
        page.wait_for_url("**/host/gpu-host")
        expect(page.get_by_test_id("gpu-0-model")).to_have_text("AMD GPU 1002:73bf", timeout=15000)
        expect(page.get_by_test_id("gpu-0-util")).to_have_text("64.0", timeout=15000)
        view.screenshot("overview-gpu-host.png")
        assert view.problems == []
