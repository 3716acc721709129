"""NVIDIA for real: runs where pynvml finds a driver and at least one GPU (scripts/gpu-check.sh
on a GPU machine); skips with the reason elsewhere. The stub tests in test_gpu.py cover the
arithmetic; these check that the real library answers what the stub stands in for."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hostpulse import metrics
from hostpulse.collect.gpu import GpuCollector
from hostpulse.collect.gpu_nvml import NvmlGpus
from hostpulse.collect.processes import ProcessCollector

pynvml = pytest.importorskip("pynvml", reason="nvidia-ml-py not installed")


@pytest.fixture(scope="module")
def nvml_count() -> int:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        pytest.skip(f"no NVIDIA driver here: {exc}")
    count = pynvml.nvmlDeviceGetCount()
    if count == 0:
        pytest.skip("NVML sees no GPU")
    return count


def test_every_gpu_has_sane_values_and_facts(nvml_count: int) -> None:
    collector = GpuCollector([NvmlGpus()])
    reading = collector.read()
    table = reading.tables["gpus"]
    assert len(table) == nvml_count
    for index in map(str, range(nvml_count)):
        v = {
            metrics.parse(k).field: x for k, x in reading.values.items() if k.split(".")[1] == index
        }
        assert 0 <= v["util"] <= 100, v
        assert 0 < v["mem_used"] <= v["mem_total"], v
        assert v["mem_total"] == table[index]["mem_total"]
        assert 0 < v["temp"] < 120, v
        assert 0 < v["power"] <= 1.5 * v["power_limit"], v
        assert v["clock_mem"] > 0, v
        assert "fan" not in v or 0 <= v["fan"] <= 100
        assert table[index]["model"] and table[index]["bus_id"] and table[index]["uuid"]
        print(f"gpu.{index}: {table[index]['model']} {v}")


def test_process_memory_joins_rows(nvml_count: int) -> None:
    collector = GpuCollector([NvmlGpus()])
    collector.read()
    per_pid = collector.process_memory()
    assert per_pid is not None
    rows = ProcessCollector(gpu_memory=collector.process_memory).read().tables["processes"]
    assert all("gpu_mem" in r for r in rows["by_cpu"] + rows["by_memory"])
    print(f"GPU processes: {per_pid}")


def test_snapshot_json_has_the_gpus(nvml_count: int) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hostpulse", "snapshot", "--json", "--interval", "0.5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    document = json.loads(out)
    assert len(document["facts"]["gpus"]) >= nvml_count
    assert "gpu.0.util" in document["sample"]["values"]
