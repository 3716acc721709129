"""Collectors against this machine, checked against the OS's own files where we can."""

from __future__ import annotations

import os
import socket

import psutil
import pytest

from hostpulse.collect import disks
from hostpulse.collect.host import FactsReader
from hostpulse.collect.registry import default_collectors
from hostpulse.rates import share


def _meminfo() -> dict[str, int]:
    with open("/proc/meminfo") as f:
        return {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f}


def _all_readings():
    return {c.name: c.read() for c in default_collectors()}


def test_every_percentage_is_within_0_100() -> None:
    collectors = default_collectors()
    first = {c.name: c.read() for c in collectors}
    psutil.cpu_times()  # let some time pass
    second = {c.name: c.read() for c in collectors}
    for name, reading in second.items():
        for k, v in reading.values.items():
            if k.endswith(".percent"):
                assert 0 <= v <= 100, (name, k, v)
        for k, pair in reading.shares.items():
            assert 0 <= pair[0] <= pair[1] or k.startswith("disk."), (k, pair)
            s = share(first[name].shares.get(k), pair)
            assert s is None or 0 <= s <= 100


def test_mem_percent_agrees_with_proc_meminfo() -> None:
    values = _all_readings()["memory"].values
    info = _meminfo()
    os_used = 100 * (info["MemTotal"] - info["MemAvailable"]) / info["MemTotal"]
    assert abs(values["mem.percent"] - os_used) < 2
    assert values["mem.percent"] == pytest.approx(100 * values["mem.used"] / values["mem.total"])
    assert values["swap.total"] == info["SwapTotal"]


def _expected_mounts() -> set[str]:
    """Our rule, applied to /proc/self/mounts by hand."""
    with open("/proc/filesystems") as f:
        block_types = {ln.split()[-1] for ln in f if not ln.startswith("nodev")}
    by_device: dict[str, str] = {}
    with open("/proc/self/mounts") as f:
        for line in f:
            device, mount, fstype = line.split()[:3]
            mount = mount.replace("\\040", " ")
            if fstype not in block_types or fstype in disks.SKIP_FSTYPES:
                continue
            if device not in by_device or (len(mount), mount) < (
                len(by_device[device]),
                by_device[device],
            ):
                by_device[device] = mount
    return set(by_device.values())


def test_every_real_filesystem_is_present() -> None:
    reading = _all_readings()["filesystems"]
    mounts = {row["mount"] for row in reading.tables["filesystems"].values()}
    expected = _expected_mounts()
    assert expected, "this machine has a block-device filesystem"
    assert mounts == expected
    assert "fs./.used" in reading.values


def test_cpu_cores_match_os_cpu_count() -> None:
    shares = _all_readings()["cpu"].shares
    cores = [k for k in shares if k.startswith("cpu.core.")]
    assert len(cores) == os.cpu_count()
    assert "cpu.total" in shares and "load.1" in _all_readings()["cpu"].values


def test_network_skips_loopback_and_has_totals() -> None:
    counters = _all_readings()["network"].counters
    assert "net.total.rx_bps" in counters
    assert not any(k.startswith("net.lo.") for k in counters)


def test_host_facts_name_this_machine() -> None:
    facts = FactsReader().read()
    assert facts["hostname"] == socket.gethostname()
    assert facts["fqdn"].startswith(facts["hostname"])
    assert facts["cores_logical"] == os.cpu_count()
    assert facts["boot_time"].endswith("Z")
    has_address = any(
        a.family in (socket.AF_INET, socket.AF_INET6) and not a.address.startswith(("127.", "::1"))
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
    )
    if has_address:
        assert facts["addresses"], "a non-loopback address exists but was not reported"
    import json

    json.dumps(facts)  # JSON-able
