"""Alerts where people see them, in a real Chromium: a rule that fires at once (cpu.total
above -1 for 0) on a real `hostpulse serve`. The host page shows it at the top, marks the
CPU panel and the filesystem row, lists the event with a link to its window and puts a
marker on the charts; the notification reaches a real webhook receiver with the window link.
Across Redis (two agents, one worker), the overview card of the host it fires on shows the
count and the worst severity, and the filter keeps only that card."""

from __future__ import annotations

import re

import pytest

from notify_support import JsonReceiver
from redis_support import REDIS_SERVER, fleet
from support import Page, Server, browser_missing, require

pytestmark = pytest.mark.e2e
require(browser_missing())

RULES = """
[[alerts]]
name = "always-busy"
key = "cpu.total"
above = -1
for = 0
severity = "critical"
hosts = "{hosts}"

[[alerts]]
name = "root-full"
key = "fs./.percent"
above = -1
for = 0
severity = "warning"
hosts = "{hosts}"
"""


def config(tmp_path, hosts: str = "*", notify: str = "") -> str:
    path = tmp_path / "hostpulse.toml"
    path.write_text(RULES.format(hosts=hosts) + notify)
    return str(path)


def test_a_firing_alert_shows_on_the_host_page_and_is_notified(browser, tmp_path):
    from playwright.sync_api import expect

    with JsonReceiver() as hook:
        notify = f'\n[notify]\nurls = ["{hook.url()}"]\npublic_url = "https://dash.example.com"\n'
        server = Server(tmp_path, args=["--config", config(tmp_path, notify=notify)]).start()
        view = Page(browser, server.url)
        try:
            view.open()
            page = view.page
            firing = page.locator("[data-testid=alert-firing][data-rule=always-busy]")
            expect(firing).to_be_visible(timeout=15000)
            expect(firing).to_have_attribute("data-severity", "critical")
            expect(firing).to_contain_text("cpu.total")
            expect(page.get_by_test_id("panel-cpu")).to_have_attribute("data-alert", "critical")
            root = page.locator("[data-testid=fs-row][data-mount='/']")
            expect(root).to_have_attribute("data-alert", "warning")
            expect(page.get_by_test_id("panel-memory")).not_to_have_attribute(
                "data-alert", re.compile(".*")
            )
            page.get_by_test_id("alert-events").locator("summary").click()
            event = page.locator("[data-testid=alert-event][data-state=firing]").first
            expect(event).to_be_visible()
            href = event.get_by_test_id("alert-event-link").get_attribute("href")
            assert re.fullmatch(r"/\?from=\d+&to=\d+", href), href  # one host: the window on /
            page.wait_for_function("() => window.hostpulse.board.markers.length >= 2")
            kinds = page.evaluate("() => window.hostpulse.board.markers.map((m) => m.kind)")
            assert set(kinds) == {"firing"}
            view.screenshot("alerts-host-page.png")
            messages = hook.wait_for(2, timeout=15)
            titles = sorted(m["title"] for m in messages)
            assert titles[0].startswith("[CRITICAL] always-busy on ")
            assert titles[1].startswith("[WARNING] root-full on ")
            assert re.search(
                r"https://dash\.example\.com/host/[^?]+\?from=\d+&to=\d+", messages[0]["message"]
            )
            page.goto(server.url + href)  # the event's window: the page pinned there
            view.wait_state("connected")
            assert page.evaluate("() => window.hostpulse.view.current.kind") == "fixed"
            assert view.problems == []
        finally:
            view.close()
            server.stop()


@pytest.mark.skipif(not REDIS_SERVER, reason="redis-server not installed")
def test_the_overview_card_shows_the_alert_count_and_the_filter_keeps_it(browser, tmp_path):
    from playwright.sync_api import expect

    with JsonReceiver() as hook:
        # Under serve (gevent) with the Redis ledger: each transition notified once.
        notify = f'\n[notify]\nurls = ["{hook.url()}"]\n'
        rules = config(tmp_path, hosts="busy-*", notify=notify)
        with (
            fleet(tmp_path, {"busy-1": {}, "calm-1": {}}, ["--config", rules]) as worker,
            Page(browser, worker.url) as view,
        ):
            page = view.page
            page.goto(worker.url + "/")
            expect(page.get_by_test_id("ov-card")).to_have_count(2, timeout=20000)
            busy = page.locator("[data-testid=ov-card][data-host=busy-1]")
            calm = page.locator("[data-testid=ov-card][data-host=calm-1]")
            badge = busy.get_by_test_id("ov-alerts")
            expect(badge).to_have_text("2 alerts", timeout=20000)
            expect(badge).to_have_attribute("data-severity", "critical")
            expect(busy).to_have_attribute("data-alerts", "critical")
            expect(calm.get_by_test_id("ov-alerts")).to_have_count(0)
            expect(page.get_by_test_id("ov-alerts-summary")).to_have_text("1 host with alerts")
            page.get_by_test_id("ov-alerts-only").check()
            expect(calm).to_be_hidden()
            expect(busy).to_be_visible()
            expect(page.get_by_test_id("ov-counts")).to_contain_text("1 shown")
            view.screenshot("alerts-overview.png")
            page.get_by_test_id("ov-alerts-only").uncheck()
            expect(calm).to_be_visible()
            busy.click()
            page.wait_for_url("**/host/busy-1")
            expect(page.locator("[data-testid=alert-firing][data-rule=always-busy]")).to_be_visible(
                timeout=15000
            )
            page.get_by_test_id("alert-events").locator("summary").click()
            href = page.get_by_test_id("alert-event-link").first.get_attribute("href")
            assert re.fullmatch(r"/host/busy-1\?from=\d+&to=\d+", href), href  # the window link
            titles = sorted(m["title"] for m in hook.wait_for(2, timeout=15))
            assert titles == [
                "[CRITICAL] always-busy on busy-1 cpu.total",
                "[WARNING] root-full on busy-1 fs./.percent",
            ]
            assert view.problems == []
