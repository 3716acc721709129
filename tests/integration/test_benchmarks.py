"""The benchmarks still run: a short pass of each cheap one (their figures are not checked).

A benchmark is code nobody runs every day; a rename in the package breaks it silently. The
long ones (viewers, fleet, soak) are covered by the tests that share their client code.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support import ROOT, browser_missing, require

pytestmark = pytest.mark.integration


def run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_collect_benchmark_prints_every_row():
    out = run("benchmarks/collect.py", "--ticks", "20", "--pause", "0", "--cpu-seconds", "2")
    for what in (
        "collector processes",
        "host facts",
        "whole sample, with processes",
        "worker",
        "gpu NVML reader, stub",
        "gpu sysfs amd",
        "battery collector",
    ):
        assert what in out, out


def test_alerts_benchmark_prints_every_row():
    out = run("benchmarks/alerts.py", "--ticks", "6", "--hosts", "20")
    for what in ("default rules, local host", "alerts on", "default rules, 20 remote hosts"):
        assert what in out, out


def test_top_processes_benchmark_prints_cost_and_storage():
    out = run(
        "benchmarks/top_processes.py", "--reads", "3", "--gap", "0", "--spawn", "5", "--days", "1"
    )
    for what in ("% of a core at 10 s", "file size (MiB)", "at() found"):
        assert what in out, out


def test_page_cost_benchmark_prints_a_line_a_run():
    require(browser_missing())
    out = run("benchmarks/page_cost.py", "--seconds", "1", "--rounds", "1")
    name, _, figures = out.strip().partition(" ")
    assert name == "this" and {"task_ms_s", "script_ms_s", "heap_mb"} <= json.loads(figures).keys()
