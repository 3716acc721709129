"""The GPU panel in a real Chromium against a real `hostpulse serve` whose sysfs readers are
pointed (setting ``gpu_sysfs``) at a fake tree with an Intel and an AMD GPU, or whose
``import pynvml`` finds a stand-in module answering from the NVML stub: the OS cannot grow a
GPU, everything from the files (or the NVML calls) on is the real path (sampler, history, hub,
Socket.IO, the page). The test changes the files and watches the page follow."""

from __future__ import annotations

import re
import shutil
import socket
import time

import pytest

from gpu_fakes import amd_card, intel_igpu, write
from support import ROOT, Page, Server, browser_missing, get_json, http_get, require, wait_until

pytestmark = pytest.mark.e2e
require(browser_missing())


@pytest.fixture(scope="module")
def gpu_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gpu")
    sysfs = tmp / "sys"
    intel_igpu(sysfs, 0, mhz=1300)
    amd = amd_card(sysfs, 1, busy=42)
    srv = Server(tmp, extra_env={"HOSTPULSE_GPU_SYSFS": str(sysfs)}).start()
    srv.amd = amd
    srv.sysfs = sysfs
    yield srv
    srv.stop()


def wait_text(page: Page, selector: str, wanted: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.text(selector) == wanted:
            return
        time.sleep(0.1)
    raise AssertionError(f"{selector} never read {wanted!r}; last {page.text(selector)!r}")


def test_gpu_cards_follow_the_files(browser, gpu_server):
    page = Page(browser, gpu_server.url)
    try:
        page.open()
        page.page.wait_for_selector("[data-testid=panel-gpu]:visible", timeout=15000)
        cards = page.page.locator("[data-testid=gpu-card]")
        assert cards.count() == 2
        assert page.text("[data-testid=gpu-0-model]") == "Intel GPU 8086:46a6"
        assert page.text("[data-testid=gpu-1-model]") == "AMD GPU 1002:73bf"
        assert page.text("[data-testid=gpu-1-util]") == "42.0"
        assert page.text("[data-testid=gpu-1-mem]") == "3.0 GiB / 16.0 GiB"
        assert page.text("[data-testid=gpu-1-temp]") == "51 °C"
        assert page.text("[data-testid=gpu-1-power]") == "87 W / 203 W"
        assert page.text("[data-testid=gpu-1-clocks]") == "2105 / 1000 MHz"
        assert page.text("[data-testid=gpu-0-clocks]") == "1300 MHz"
        # Intel's integrated GPU tells no utilization nor memory in sysfs: not shown
        for part in ("util", "mem-meter", "chart", "fan"):
            assert not page.page.locator(f"[data-testid=gpu-0-{part}]").is_visible(), part
        assert page.page.locator("[data-testid=gpu-1-mem-meter]").is_visible()
        assert page.page.locator("[data-testid=gpu-1-chart] canvas").count() == 1

        # live: the files change, the page follows
        write(gpu_server.amd / "gpu_busy_percent", 77)
        write(gpu_server.amd / "mem_info_vram_used", 8 * 2**30)
        wait_text(page, "[data-testid=gpu-1-util]", "77.0")
        wait_text(page, "[data-testid=gpu-1-mem]", "8.0 GiB / 16.0 GiB")
        page.screenshot("page-gpu.png")

        # the REST history the chart is seeded from holds the GPU keys
        host = page.page.get_attribute("body", "data-host")
        url = f"{gpu_server.url}/api/v1/hosts/{host}/history?keys=gpu.1.util&since=-60&step=1"

        def stored():
            status, body = get_json(url)
            assert status == 200, body
            return 77 in body["series"]["gpu.1.util"]["avg"]

        wait_until(stored, 10, "gpu.1.util = 77 in the 1 s history")

        # the chart is one of the board's: a range sets its window as every other chart's,
        # drawn from the history of the GPU's utilization and memory %
        page.page.goto(gpu_server.url + "/?range=1h")
        page.wait_state("connected")
        page.page.wait_for_function(
            """() => {
              const c = window.hostpulse.charts().find((c) => c.name === 'gpu-1');
              return c && !c.live && Math.abs(c.xmax - c.xmin - 3600) < 72 && c.points > 0;
            }""",
            timeout=20000,
        )
        shown = {c["name"]: c for c in page.page.evaluate("() => window.hostpulse.charts()")}
        assert shown["gpu-1"]["keys"] == ["gpu.1.util", "gpu.1.mem_percent"]
        window = (shown["gpu-1"]["xmin"], shown["gpu-1"]["xmax"])
        assert window == (shown["cpu"]["xmin"], shown["cpu"]["xmax"])
        held = page.page.evaluate(
            "() => window.hostpulse.board.charts.get('gpu-1').cols"
            ".map((c) => c.avg.filter((v) => v !== null).length)"
        )
        assert all(n > 0 for n in held), held  # both lines have points

        # the card is unplugged: its keys are gone, so is its card
        shutil.rmtree(gpu_server.amd)
        page.page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=gpu-card]').length === 1",
            timeout=15000,
        )
        assert page.text("[data-testid=gpu-0-clocks]") == "1300 MHz"
        assert page.problems == []
    finally:
        page.close()


def test_metrics_and_facts_carry_the_gpus(gpu_server):
    host = socket.gethostname()
    status, body = get_json(f"{gpu_server.url}/api/v1/hosts/{host}")
    assert status == 200, body
    gpus = body["facts"]["gpus"]
    assert [gpus[i]["vendor"] for i in ("0", "1")] == ["intel", "amd"]
    assert gpus["1"]["bus_id"] == "0000:04:00.0" and gpus["1"]["mem_total"] == 16 * 2**30
    code, _, text = http_get(gpu_server.url + "/metrics")
    assert code == 200
    assert re.search(r'^hostpulse_gpu_clock_core\{(?=.*gpu="0").*\} 1300\.0$', text.decode(), re.M)


def test_no_gpu_no_panel(browser, tmp_path):
    """A host without GPUs (the readers pointed at an empty tree): no panel, no error."""
    srv = Server(tmp_path, extra_env={"HOSTPULSE_GPU_SYSFS": str(tmp_path / "empty")}).start()
    page = Page(browser, srv.url)
    try:
        page.open()
        page.wait_ticks(2)
        assert not page.page.locator("[data-testid=panel-gpu]").is_visible()
        assert page.page.locator("[data-testid=gpu-card]").count() == 0
        assert page.problems == []
    finally:
        page.close()
        srv.stop()


FAKE_PYNVML = """# pynvml for a test server: the stub of tests/gpu_fakes.py with one H200 on which
# every process holds 1 GiB, and this server process 5 GiB
import os, sys
from types import SimpleNamespace
sys.path.insert(0, {tests!r})
from gpu_fakes import StubGpu, StubNvml

class _Stub(StubNvml):
    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
        me = os.getpid()
        return [SimpleNamespace(pid=p, usedGpuMemory=(5 if p == me else 1) * 2**30) for p in pids]

_stub = _Stub([StubGpu()])
def __getattr__(name):
    return getattr(_stub, name)
"""


def test_nvidia_card_and_gpu_memory_in_the_processes_table(browser, tmp_path):
    fake = tmp_path / "fake-nvml"
    fake.mkdir()
    (fake / "pynvml.py").write_text(FAKE_PYNVML.format(tests=str(ROOT / "tests")))
    env = {"PYTHONPATH": str(fake), "HOSTPULSE_GPU_SYSFS": str(tmp_path / "no-sysfs")}
    srv = Server(tmp_path, extra_env=env).start()
    page = Page(browser, srv.url)
    try:
        page.open()
        page.page.wait_for_selector("[data-testid=gpu-card]", timeout=15000)
        assert page.text("[data-testid=gpu-0-model]") == "NVIDIA H200"
        assert page.text("[data-testid=gpu-0-util]") == "37.0"
        assert page.text("[data-testid=gpu-0-mem]") == "20.0 GiB / 141 GiB"
        assert page.text("[data-testid=gpu-0-power]") == "119 W / 700 W"
        assert not page.page.locator("[data-testid=gpu-0-fan]").is_visible()  # NotSupported
        page.page.click("#processes-panel summary")
        page.page.click("[data-testid=sort-memory]")
        page.page.wait_for_selector("[data-testid=process-row] td.col-gpu:visible", timeout=15000)
        assert page.page.locator("#processes-gpu-head").is_visible()
        rows = page.page.locator("tr[data-testid=process-row]:visible").evaluate_all(
            "rows => rows.map(r => [r.querySelector('.col-pid').textContent,"
            " r.querySelector('.col-gpu').textContent])"
        )
        assert len(rows) > 1, rows
        # each row has its own process's GPU memory (a process started after the stub's last
        # list may show none yet)
        for pid, gpu in rows:
            assert gpu in ("5.0 GiB" if pid == str(srv.process.pid) else "1.0 GiB", "–"), rows
        assert sum(gpu != "–" for _, gpu in rows) >= len(rows) - 2, rows
        page.screenshot("page-gpu-nvidia.png")
        assert page.problems == []
    finally:
        page.close()
        srv.stop()
