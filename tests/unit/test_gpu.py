"""GPUs and batteries: NVML against a stub of its API, AMD and Intel against fake sysfs trees
made here (the OS cannot grow a GPU), batteries against a fake psutil answer."""

from __future__ import annotations

import logging
import os
import shutil
from collections import namedtuple
from pathlib import Path

import psutil
import pytest

from gpu_fakes import StubGpu, StubNvml, amd_card, intel_arc, intel_igpu, nvidia_card, write
from hostpulse import metrics
from hostpulse.collect.battery import BatteryCollector
from hostpulse.collect.gpu import GpuCollector
from hostpulse.collect.gpu_nvml import NvmlGpus
from hostpulse.collect.gpu_sysfs import DrmGpus
from hostpulse.collect.processes import ProcessCollector
from hostpulse.collect.procsource import ProcStat
from hostpulse.hub import HostFeed, WirePrecision
from hostpulse.sampler import Sampler

GiB = 2**30


def nvml_collector(stub: StubNvml) -> tuple[GpuCollector, NvmlGpus]:
    source = NvmlGpus(nvml=stub)
    return GpuCollector([source]), source


# --- keys, units, labels ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit", "shown"),
    [
        ("gpu.0.util", "%", "37.0 %"),
        ("gpu.0.fan", "%", "37.0 %"),
        ("gpu.1.mem_used", "B", "37 B"),
        ("gpu.1.mem_total", "B", "37 B"),
        ("gpu.1.mem_percent", "%", "37.0 %"),
        ("gpu.0.temp", "°C", "37.0 °C"),
        ("gpu.0.power", "W", "37.0 W"),
        ("gpu.0.power_limit", "W", "37.0 W"),
        ("gpu.0.clock_core", "MHz", "37 MHz"),
        ("gpu.0.clock_mem", "MHz", "37 MHz"),
        ("battery.percent", "%", "37.0 %"),
        ("battery.time_left", "s", "37 s"),
        ("battery.plugged", "", "37"),
    ],
)
def test_gpu_and_battery_units(text: str, unit: str, shown: str) -> None:
    assert metrics.unit_of(text) == unit
    assert metrics.human(text, 37) == shown


def test_gpu_keys_become_prometheus_series_with_a_gpu_label() -> None:
    assert metrics.prometheus_series("gpu.1.power") == ("hostpulse_gpu_power", {"gpu": "1"})
    assert metrics.prometheus_series("battery.percent") == ("hostpulse_battery_percent", {})


def test_wire_precision_of_watts_and_megahertz() -> None:
    rounding = WirePrecision()
    assert rounding("gpu.0.power", 118.4567) == 118.5
    assert rounding("gpu.0.clock_core", 1980.4) == 1980
    assert rounding("gpu.0.mem_used", 21474836481) == 21470000000  # 4 significant digits


# --- NVIDIA through the NVML stub ---------------------------------------------------------


def test_nvml_arithmetic_facts_and_one_init() -> None:
    stub = StubNvml([StubGpu(), StubGpu(name="NVIDIA L4", fan=55, util=3, power_mw=16_250)])
    collector, _ = nvml_collector(stub)
    for _ in range(5):
        reading = collector.read()
    values = reading.values
    assert values["gpu.0.util"] == 37.0
    assert values["gpu.0.mem_used"] == 20 * GiB
    assert values["gpu.0.mem_total"] == 141 * GiB
    assert values["gpu.0.mem_percent"] == pytest.approx(100 * 20 / 141)
    assert values["gpu.0.temp"] == 41.0
    assert values["gpu.0.power"] == 118.5  # mW -> W
    assert values["gpu.0.power_limit"] == 700.0
    assert values["gpu.0.clock_core"] == 1980.0
    assert values["gpu.0.clock_mem"] == 2619.0
    assert "gpu.0.fan" not in values  # passively cooled: no fan key, not zero
    assert values["gpu.1.fan"] == 55.0
    assert values["gpu.1.power"] == 16.25
    assert all(metrics.is_valid(k) for k in values)
    assert stub.calls["init"] == 1  # opened once
    assert stub.calls["handle"] == 2  # a handle per GPU, taken once
    gpus = reading.tables["gpus"]
    assert gpus["0"] == {
        "index": 0,
        "vendor": "nvidia",
        "driver": "nvidia",
        "driver_version": "570.86.15",  # bytes from NVML, text here
        "model": "NVIDIA H200",
        "bus_id": "00000000:19:00.0",
        "mem_total": 141 * GiB,
        "uuid": "GPU-00000000",
    }
    assert gpus["1"]["model"] == "NVIDIA L4"


def test_nvml_unsupported_reading_is_asked_once_per_gpu() -> None:
    stub = StubNvml([StubGpu(fan=None)])
    collector, _ = nvml_collector(stub)
    for _ in range(10):
        collector.read()
    assert stub.calls["fan"] == 1
    assert stub.calls["util"] == 10


def test_nvml_other_errors_leave_a_value_out_and_are_logged_once(caplog) -> None:
    gpu = StubGpu(fail={"power": 15})  # GPU is lost
    stub = StubNvml([gpu])
    collector, _ = nvml_collector(stub)
    with caplog.at_level(logging.WARNING, logger="hostpulse.collect"):
        for _ in range(5):
            reading = collector.read()
    assert "gpu.0.power" not in reading.values
    assert reading.values["gpu.0.util"] == 37.0
    lines = [r for r in caplog.records if "power failed" in r.getMessage()]
    assert len(lines) == 1, caplog.text
    gpu.fail.clear()  # it answers again: the value is back
    assert collector.read().values["gpu.0.power"] == 118.5


def test_nvml_missing_module_means_no_gpus_and_one_info_line(caplog) -> None:
    def no_module():
        raise ImportError("No module named 'pynvml'")

    collector = GpuCollector([NvmlGpus(load=no_module)], rediscover_every=2)
    with caplog.at_level(logging.DEBUG, logger="hostpulse.collect"):
        readings = [collector.read() for _ in range(10)]
    assert all(r.values == {} and r.tables == {"gpus": {}} for r in readings)
    assert len(caplog.records) == 1, caplog.text
    assert caplog.records[0].levelno == logging.INFO
    assert "nvidia-ml-py" in caplog.records[0].getMessage()


def test_nvml_init_error_means_no_gpus_one_info_line_and_no_retry(caplog) -> None:
    stub = StubNvml([StubGpu()], init_error=12)  # libnvidia-ml.so.1 not found
    collector = GpuCollector([NvmlGpus(nvml=stub)], rediscover_every=2)
    with caplog.at_level(logging.DEBUG, logger="hostpulse.collect"):
        for _ in range(10):
            assert collector.read().values == {}
    assert stub.calls["init"] == 1
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "NVML Shared Library Not Found" in caplog.text
    assert collector.process_memory() is None


def test_real_pynvml_without_a_driver_is_no_gpus(caplog) -> None:
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        pass
    else:
        pynvml.nvmlShutdown()
        pytest.skip("this machine has an NVIDIA driver: tests/unit/test_gpu_real.py covers it")
    with caplog.at_level(logging.INFO, logger="hostpulse.collect"):
        assert NvmlGpus().discover() == []
    assert "NVML says" in caplog.text


def test_per_process_gpu_memory_joins_the_process_table() -> None:
    stub = StubNvml(
        [
            # pid 10 on both lists of GPU 0 with one allocation; 12's memory is unknown
            StubGpu(compute=[(10, 4 * GiB), (12, None)], graphics=[(10, 4 * GiB), (11, GiB)]),
            StubGpu(compute=[(10, 2 * GiB)]),
        ]
    )
    collector, _ = nvml_collector(stub)
    collector.read()
    assert collector.process_memory() == {10: 6 * GiB, 11: GiB}
    stub.calls.clear()

    class Source:
        def stats(self):
            for pid in (10, 11, 12, 13):
                yield ProcStat(pid, f"p{pid}", "running", 1.0, 1.0, pid * 2**20)

        def uid(self, pid):
            return 0

        def cmdline(self, pid):
            return [f"p{pid}"]

    table = ProcessCollector(
        source=Source(), mem_total=GiB, gpu_memory=collector.process_memory
    ).read()
    rows = {r["pid"]: r for r in table.tables["processes"]["by_memory"]}
    assert {pid: r["gpu_mem"] for pid, r in rows.items()} == {
        10: 6 * GiB,
        11: GiB,
        12: None,
        13: None,
    }
    assert stub.calls["processes"] == 2  # asked once per GPU for the one table read


def test_no_gpu_rows_have_no_gpu_field() -> None:
    class Source:
        def stats(self):
            yield ProcStat(1, "init", "sleeping", 1.0, 1.0, 2**20)

        def uid(self, pid):
            return 0

        def cmdline(self, pid):
            return ["init"]

    collector = GpuCollector([NvmlGpus(nvml=StubNvml([], init_error=12))])
    collector.read()
    table = ProcessCollector(
        source=Source(), mem_total=GiB, gpu_memory=collector.process_memory
    ).read()
    assert "gpu_mem" not in table.tables["processes"]["by_cpu"][0]


# --- AMD and Intel through fake sysfs trees ---------------------------------------------


def test_amd_card_read_from_sysfs(tmp_path: Path) -> None:
    amd_card(tmp_path, 0)
    nvidia_card(tmp_path, 1)  # nvidia-drm: left to NVML
    reading = GpuCollector([DrmGpus(str(tmp_path))]).read()
    assert reading.values == {
        "gpu.0.util": 42.0,
        "gpu.0.mem_used": 3 * GiB,
        "gpu.0.mem_total": 16 * GiB,
        "gpu.0.mem_percent": 18.75,
        "gpu.0.temp": 51.0,  # edge, not junction
        "gpu.0.power": pytest.approx(87.0),
        "gpu.0.power_limit": pytest.approx(203.0),
        "gpu.0.fan": pytest.approx(40.0),  # pwm 102 of 255
        "gpu.0.clock_core": pytest.approx(2105.0),
        "gpu.0.clock_mem": pytest.approx(1000.0),
    }
    assert reading.tables["gpus"] == {
        "0": {
            "index": 0,
            "vendor": "amd",
            "model": "AMD GPU 1002:73bf",
            "driver": "amdgpu",
            "driver_version": None,
            "bus_id": "0000:03:00.0",
            "mem_total": 16 * GiB,
        }
    }


def test_amd_power_input_on_newer_kernels(tmp_path: Path) -> None:
    amd_card(tmp_path, 0, average=False, power_uw=12_500_000)
    reading = GpuCollector([DrmGpus(str(tmp_path))]).read()
    assert reading.values["gpu.0.power"] == pytest.approx(12.5)


def test_a_vanished_file_and_a_vanished_card(tmp_path: Path) -> None:
    device = amd_card(tmp_path, 0)
    collector = GpuCollector([DrmGpus(str(tmp_path))])
    assert "gpu.0.temp" in collector.read().values
    (device / "hwmon" / "hwmon4" / "temp1_input").unlink()
    values = collector.read().values
    assert "gpu.0.temp" not in values  # absent, not 0, not an error
    assert values["gpu.0.util"] == 42.0
    shutil.rmtree(device)  # unplugged (an eGPU) or the driver unloaded
    assert collector.read().values == {}


def make_unreadable(path: Path) -> None:
    """A file that cannot be read. Permission bits do not stop root (these tests may run as
    root), so there a directory stands in: read() fails with EISDIR, an OSError as EACCES is."""
    if os.geteuid() == 0:
        path.unlink()
        path.mkdir()
    else:
        path.chmod(0)


def test_an_unreadable_file_and_garbage_leave_only_that_value_out(tmp_path: Path) -> None:
    device = amd_card(tmp_path, 0)
    collector = GpuCollector([DrmGpus(str(tmp_path))])
    collector.read()
    make_unreadable(device / "gpu_busy_percent")
    write(device / "hwmon" / "hwmon4" / "power1_average", "N/A")
    values = collector.read().values
    assert "gpu.0.util" not in values
    assert "gpu.0.power" not in values
    assert values["gpu.0.mem_used"] == 3 * GiB


def test_a_suspended_amd_gpu_is_not_woken(tmp_path: Path) -> None:
    device = amd_card(tmp_path, 0, runtime="suspended")
    # were the busy or hwmon files read, these values would show
    values = GpuCollector([DrmGpus(str(tmp_path))]).read().values
    assert values == {
        "gpu.0.util": 0.0,
        "gpu.0.mem_used": 3 * GiB,
        "gpu.0.mem_total": 16 * GiB,
        "gpu.0.mem_percent": 18.75,
    }
    write(device / "power" / "runtime_status", "active")
    assert DrmGpus(str(tmp_path)).discover()[0].read().gauges["util"] == 42.0


def test_intel_igpu_clock_and_rapl_power_through_the_sampler(tmp_path: Path) -> None:
    intel_igpu(tmp_path, 0, energy_uj=5_000_000)
    energy = tmp_path / "class" / "powercap" / "intel-rapl:0:1" / "energy_uj"
    now = [100.0]
    sampler = Sampler([GpuCollector([DrmGpus(str(tmp_path))])], clock=lambda: now[0])
    first = sampler.tick()
    assert first.values == {"gpu.0.clock_core": 1300.0, "gpu.0.power": None}  # no rate yet
    write(energy, 12_500_000)  # 7.5 J in 1 s
    now[0] += 1.0
    assert sampler.tick().values["gpu.0.power"] == pytest.approx(7.5)
    facts = sampler.facts["gpus"]["0"]
    assert facts["vendor"] == "intel" and facts["driver"] == "i915"
    assert facts["mem_total"] is None


def test_a_counter_that_resets_gives_no_value_that_tick(tmp_path: Path) -> None:
    intel_arc(tmp_path, 1, energy_uj=900_000_000)
    energy = tmp_path / "devices" / "0000:03:00.0" / "hwmon" / "hwmon7" / "energy1_input"
    now = [0.0]
    sampler = Sampler([GpuCollector([DrmGpus(str(tmp_path))])], clock=lambda: now[0])
    sampler.tick()
    powers = []
    for joules_after in (940, 1_000, 3, 23):  # 40 W, 60 W, wrapped/reset, 20 W
        write(energy, joules_after * 1_000_000)
        now[0] += 1.0
        powers.append(sampler.tick().values["gpu.0.power"])
    assert powers == [pytest.approx(40.0), pytest.approx(60.0), None, pytest.approx(20.0)]
    values = sampler.latest.values
    assert values["gpu.0.clock_core"] == 2400.0
    assert values["gpu.0.power_limit"] == pytest.approx(190.0)


def test_rapl_unreadable_by_this_user_means_no_power(tmp_path: Path, caplog) -> None:
    intel_igpu(tmp_path, 0)
    make_unreadable(tmp_path / "class" / "powercap" / "intel-rapl:0:1" / "energy_uj")
    source = DrmGpus(str(tmp_path))
    with caplog.at_level(logging.INFO, logger="hostpulse.collect"):
        for _ in range(3):
            gpus = source.discover()
    read = gpus[0].read()
    assert read.gauges == {"clock_core": 1300.0} and read.counters == {}
    assert caplog.text.count("root only") == 1


def test_mixed_vendors_are_numbered_nvidia_first(tmp_path: Path) -> None:
    intel_igpu(tmp_path, 0)
    amd_card(tmp_path, 2)
    nvidia_card(tmp_path, 1)
    collector = GpuCollector([NvmlGpus(nvml=StubNvml([StubGpu()])), DrmGpus(str(tmp_path))])
    table = collector.read().tables["gpus"]
    assert [table[i]["vendor"] for i in ("0", "1", "2")] == ["nvidia", "intel", "amd"]


def test_no_gpus_no_keys_and_an_empty_table(tmp_path: Path) -> None:
    reading = GpuCollector([DrmGpus(str(tmp_path / "nothing"))]).read()
    assert reading.values == {} and reading.counters == {} and reading.tables == {"gpus": {}}


def test_gpus_travel_as_facts_and_a_removed_gpu_is_gone(tmp_path: Path) -> None:
    device = amd_card(tmp_path, 0)
    sampler = Sampler([GpuCollector([DrmGpus(str(tmp_path))], rediscover_every=1)], read_facts=dict)
    feed = HostFeed("h")
    feed.update(sampler.tick())
    assert sampler.facts["gpus"]["0"]["model"] == "AMD GPU 1002:73bf"
    shutil.rmtree(device)
    (tmp_path / "class" / "drm" / "card0" / "device").unlink()
    payload = feed.update(sampler.tick())
    fields = [
        "util",
        "mem_used",
        "mem_total",
        "mem_percent",
        "temp",
        "power",
        "power_limit",
        "fan",
        "clock_core",
        "clock_mem",
    ]
    assert sorted(payload["gone"]) == sorted(f"gpu.0.{f}" for f in fields)
    assert sampler.facts["gpus"] == {}


# --- batteries ----------------------------------------------------------------------------

Battery = namedtuple("Battery", "percent secsleft power_plugged")


def test_battery_discharging_and_plugged() -> None:
    state = [Battery(81.5, 5400, False)]
    collector = BatteryCollector(battery=lambda: state[0])
    assert collector.read().values == {
        "battery.percent": 81.5,
        "battery.plugged": 0,
        "battery.time_left": 5400.0,
    }
    state[0] = Battery(82.0, psutil.POWER_TIME_UNLIMITED, True)
    assert collector.read().values == {"battery.percent": 82.0, "battery.plugged": 1}
    state[0] = Battery(82.0, psutil.POWER_TIME_UNKNOWN, None)
    assert collector.read().values == {"battery.percent": 82.0}


def test_no_battery_is_asked_again_only_now_and_then() -> None:
    asked = []
    collector = BatteryCollector(battery=lambda: asked.append(1), recheck_every=100)
    for _ in range(250):
        assert collector.read().values == {}
    assert len(asked) == 3  # reads 0, 100 and 200


# --- the overview card ------------------------------------------------------------------


def test_overview_summary_has_the_mean_gpu_utilization_only_with_gpus() -> None:
    from types import SimpleNamespace

    # the web layer is not there where scripts/gpu-check.sh runs these tests without it
    overview = pytest.importorskip("hostpulse.web.live.overview", exc_type=ImportError)
    from hostpulse.sample import Sample

    summary = overview.summary

    def host(values):
        return SimpleNamespace(latest=Sample(1, 0.0, values), interval=1.0, facts={})

    with_gpus = summary(host({"cpu.total": 5.0, "gpu.0.util": 30.0, "gpu.1.util": 91.0}), "ok")
    assert with_gpus["gpu"] == 60.5
    # without a GPU (or its utilization) the summary is what it always was: no field
    assert "gpu" not in summary(host({"cpu.total": 5.0, "gpu.0.util": None}), "ok")
    assert "gpu" not in summary(host({"cpu.total": 5.0}), "ok")


# --- agents publish GPUs like any other keys ------------------------------------------------


def test_gpu_keys_facts_and_gpu_memory_cross_redis_unchanged() -> None:
    from hostpulse.remote import wire
    from hostpulse.sample import Sample, Table

    stub = StubNvml([StubGpu(compute=[(10, 4 * GiB)])])
    collector, _ = nvml_collector(stub)
    reading = collector.read()
    sample = Sample(7, 1.5, reading.values)
    assert wire.decode(wire.encode_sample(sample, "run-1")) == ("s", sample)
    facts = {"hostname": "gpu-1", "gpus": reading.tables["gpus"]}
    assert wire.decode(wire.encode_facts(facts)) == ("f", facts)
    row = {"pid": 10, "name": "python", "cpu": 99.0, "rss": GiB, "gpu_mem": 4 * GiB}
    table = Table("processes", 7, 1.5, {"count": 1, "by_cpu": [row], "by_memory": [row]})
    decoded = wire.decode_table("processes", wire.encode_table(table))
    assert decoded.data["by_cpu"][0]["gpu_mem"] == 4 * GiB
