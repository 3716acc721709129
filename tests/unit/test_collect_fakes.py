"""Collectors against fakes: the cases the real OS cannot be made to produce on demand."""

from __future__ import annotations

import time
from collections import namedtuple
from pathlib import Path

import psutil
import pytest

from conftest import DiskIO, NetIO, Part, Usage
from hostpulse.collect import cpu, disks, host, memory, network, sensors

# --- cpu -------------------------------------------------------------------------------

LinuxTimes = namedtuple(
    "LinuxTimes", "user nice system idle iowait irq softirq steal guest guest_nice"
)
MacTimes = namedtuple("MacTimes", "user nice system idle")


def test_cpu_busy_excludes_idle_iowait_and_does_not_double_count_guest() -> None:
    t = LinuxTimes(10, 1, 5, 100, 4, 0, 0, 2, 3, 1)
    busy, total = cpu.busy_and_total(t)
    assert total == 10 + 1 + 5 + 100 + 4 + 2  # guest (3) and guest_nice (1) left out
    assert busy == total - 100 - 4


def test_cpu_kinds_present_only_where_the_os_has_them() -> None:
    def times(percpu: bool = False):
        t = MacTimes(10, 0, 5, 85)
        return [t, t, t] if percpu else t

    reading = cpu.CpuCollector(cpu_times=times, loadavg=lambda: (0.5, 0.4, 0.3)).read()
    assert set(reading.shares) == {
        "cpu.total", "cpu.user", "cpu.system", "cpu.core.0", "cpu.core.1", "cpu.core.2"
    }  # fmt: skip
    assert reading.shares["cpu.user"] == (10, 100)
    assert reading.values == {"load.1": 0.5, "load.5": 0.4, "load.15": 0.3}


def test_cpu_without_load_average_has_no_load_keys() -> None:
    def no_load():
        raise OSError("no load average here")

    reading = cpu.CpuCollector(loadavg=no_load).read()
    assert not any(k.startswith("load.") for k in reading.values)


# --- memory ----------------------------------------------------------------------------

VM = namedtuple("VM", "total available percent used free buffers cached")
Swap = namedtuple("Swap", "total used free percent sin sout")


def test_mem_used_is_total_minus_available_and_percent_agrees() -> None:
    vm = VM(total=1000, available=250, percent=75.0, used=600, free=100, buffers=50, cached=200)
    values = memory.memory_values(vm)
    assert values["mem.used"] == 750
    assert values["mem.percent"] == 75.0 == values["mem.used"] / values["mem.total"] * 100
    assert values["mem.cached"] == 200 and values["mem.buffers"] == 50


def test_no_swap_reads_zero_percent() -> None:
    assert memory.swap_values(Swap(0, 0, 0, 0.0, 0, 0)) == {
        "swap.total": 0, "swap.used": 0, "swap.percent": 0.0
    }  # fmt: skip


# --- filesystems -----------------------------------------------------------------------


def test_bind_mounts_keep_the_shortest_mount_point_and_images_are_skipped() -> None:
    parts = [
        Part("/dev/sda1", "/srv/data/bind", "ext4", ""),
        Part("/dev/sda1", "/srv", "ext4", ""),
        Part("/dev/sda2", "/", "ext4", ""),
        Part("/dev/loop3", "/snap/core/1", "squashfs", ""),
    ]
    kept = disks.real_filesystems(parts)
    assert [p.mountpoint for p in kept] == ["/", "/srv"]


def test_filesystem_keys_table_and_a_mount_that_vanished(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text("one\n")
    parts = [Part("/dev/sda1", "/", "ext4", ""), Part("/dev/sdb1", "/mnt/a.b", "xfs", "")]
    calls: list[bool] = []

    def partitions(all: bool) -> list[Part]:
        calls.append(all)
        return list(parts)

    def usage(path: str) -> Usage:
        if path not in {p.mountpoint for p in parts}:
            raise FileNotFoundError(path)
        return Usage(100, 40, 60, 40.0)

    fs = disks.FilesystemCollector(partitions, usage, str(mounts))
    reading = fs.read()
    assert calls == [False]
    assert reading.values["fs./mnt/a.b.percent"] == 40.0
    assert reading.values["fs./.total"] == 100
    assert reading.tables["filesystems"]["/mnt/a.b"] == {
        "mount": "/mnt/a.b", "device": "/dev/sdb1", "fstype": "xfs"
    }  # fmt: skip
    fs.read()
    assert len(calls) == 1  # mount table unchanged: no rediscovery

    parts.pop()  # unmounted, but the mount table text is not re-read yet
    reading = fs.read()
    assert "fs./mnt/a.b.used" not in reading.values and "fs./.used" in reading.values
    reading = fs.read()  # the failed stat forces rediscovery
    assert len(calls) == 2
    mounts.write_text("two\n")
    fs.read()
    assert len(calls) == 3  # the mount table changed


# --- disk I/O --------------------------------------------------------------------------


def _sys_block(tmp_path: Path, *names: str, device: tuple[str, ...] = ()) -> str:
    for name in names:
        (tmp_path / name).mkdir()
        if name in device:
            (tmp_path / name / "device").mkdir()
    return str(tmp_path)


def test_disk_io_counts_physical_disks_only(tmp_path: Path) -> None:
    root = _sys_block(tmp_path, "sda", "sdb", "loop0", "dm-0", device=("sda", "sdb"))
    per_disk = {
        "sda": DiskIO(1, 2, 100, 200, 0, 0, 500),
        "sda1": DiskIO(1, 2, 100, 200, 0, 0, 500),
        "sdb": DiskIO(3, 4, 300, 400, 0, 0, 1500),
        "loop0": DiskIO(9, 9, 9, 9, 0, 0, 9),
        "dm-0": DiskIO(9, 9, 9, 9, 0, 0, 9),
    }
    collector = disks.DiskIOCollector(lambda **kw: per_disk, root, clock=lambda: 10.0)
    reading = collector.read()
    assert {k.split(".")[1] for k in reading.counters} == {"sda", "sdb", "total"}
    assert reading.counters["disk.total.read_bps"] == 400
    assert reading.counters["disk.total.write_ops"] == 6
    assert reading.shares["disk.sda.busy"] == (500, 10_000.0)
    assert reading.shares["disk.total.busy"] == (2000, 20_000.0)


def test_disk_vanishing_between_reads(tmp_path: Path) -> None:
    root = _sys_block(tmp_path, "sda", "sdb", device=("sda", "sdb"))
    per_disk = {"sda": DiskIO(1, 1, 1, 1, 0, 0, 1), "sdb": DiskIO(2, 2, 2, 2, 0, 0, 2)}
    collector = disks.DiskIOCollector(lambda **kw: dict(per_disk), root)
    assert "disk.sdb.read_bps" in collector.read().counters
    del per_disk["sdb"]
    reading = collector.read()
    assert "disk.sdb.read_bps" not in reading.counters
    assert reading.counters["disk.total.read_bps"] == 1


@pytest.mark.parametrize("result", [None, {}, OSError("no diskstats"), RuntimeError("none")])
def test_disk_io_none_or_failing_yields_no_keys(tmp_path: Path, result) -> None:
    def io_counters(**kw):
        if isinstance(result, Exception):
            raise result
        return result

    reading = disks.DiskIOCollector(io_counters, str(tmp_path)).read()
    assert reading.counters == {} and reading.shares == {}


# --- network ---------------------------------------------------------------------------


def _sys_net(root: Path, physical: list[str], virtual: list[str]) -> str:
    for nic in physical:
        (root / nic / "device").mkdir(parents=True)
    for nic in virtual:
        (root / nic).mkdir(parents=True)
    return str(root)


def test_network_total_counts_physical_interfaces_once(tmp_path: Path) -> None:
    """A VLAN, bridge or veth carries traffic the physical NIC also counts: not added twice."""
    nics = {
        "lo": NetIO(999, 999, 9, 9, 0, 0, 0, 0),
        "eth0": NetIO(10, 20, 1, 2, 0, 1, 0, 3),
        "eth1": NetIO(1, 2, 0, 0, 0, 0, 0, 0),
        "eth0.100": NetIO(5, 6, 1, 1, 0, 0, 0, 0),
        "br0": NetIO(7, 8, 1, 1, 0, 0, 0, 0),
    }
    sys_net = _sys_net(tmp_path, ["eth0", "eth1"], ["eth0.100", "br0"])
    collector = network.NetworkCollector(lambda **kw: dict(nics), sys_net)
    reading = collector.read()
    assert reading.counters["net.eth0.100.rx_bps"] == 6
    assert reading.counters["net.br0.tx_bps"] == 7
    assert reading.counters["net.total.rx_bps"] == 22
    assert reading.counters["net.total.tx_bps"] == 11
    assert reading.counters["net.total.dropout_ps"] == 3
    assert not any(".lo." in k for k in reading.counters)
    nics["veth9"] = NetIO(100, 100, 1, 1, 0, 0, 0, 0)  # a container started: total unmoved
    (tmp_path / "veth9").mkdir()
    assert collector.read().counters["net.total.rx_bps"] == 22
    del nics["eth1"]
    reading = collector.read()
    assert "net.eth1.rx_bps" not in reading.counters
    assert reading.counters["net.total.rx_bps"] == 20


def test_network_without_physical_interfaces_sums_all_but_loopback(tmp_path: Path) -> None:
    """In a container eth0 is itself a veth: the total is what the container sees."""
    nics = {
        "lo": NetIO(9, 9, 9, 9, 0, 0, 0, 0),
        "eth0": NetIO(10, 20, 1, 2, 0, 0, 0, 0),
        "wg0": NetIO(1, 2, 0, 0, 0, 0, 0, 0),
    }
    sys_net = _sys_net(tmp_path, [], ["eth0", "wg0"])
    reading = network.NetworkCollector(lambda **kw: dict(nics), sys_net).read()
    assert reading.counters["net.total.rx_bps"] == 22
    assert reading.counters["net.total.tx_bps"] == 11


# --- sensors ---------------------------------------------------------------------------


def _hwmon(root: Path, entry: str, chip: str, files: dict[str, str]) -> None:
    d = root / entry
    d.mkdir(parents=True)
    (d / "name").write_text(chip + "\n")
    for name, text in files.items():
        (d / name).write_text(text + "\n")


def test_no_sensors_means_no_keys(tmp_path: Path) -> None:
    assert sensors.SensorCollector(str(tmp_path / "missing")).read().values == {}
    assert sensors.SensorCollector(str(tmp_path)).read().values == {}


def test_sensors_from_a_fake_sysfs_tree(tmp_path: Path) -> None:
    _hwmon(
        tmp_path,
        "hwmon0",
        "coretemp",
        {"temp1_input": "45500", "temp1_label": "Package id 0", "temp2_input": "41000",
         "temp1_max": "90000", "temp1_crit": "100000", "temp2_max": "0"},
    )  # fmt: skip
    _hwmon(tmp_path, "hwmon1", "it87", {"fan1_input": "1200", "temp1_input": "bad"})
    _hwmon(tmp_path, "hwmon2", "it87", {"fan1_input": "900"})
    values = sensors.SensorCollector(str(tmp_path)).read().values
    assert values == {
        "temp.coretemp_Package_id_0.celsius": 45.5,
        # the sensor's own marks; temp2's max of 0 means none
        "temp.coretemp_Package_id_0.high": 90.0,
        "temp.coretemp_Package_id_0.crit": 100.0,
        "temp.coretemp_temp2.celsius": 41.0,
        "fan.it87_fan1.rpm": 1200.0,
        "fan.it87_hwmon2_fan1.rpm": 900.0,
    }


def test_sensors_rediscover_rarely(tmp_path: Path) -> None:
    collector = sensors.SensorCollector(str(tmp_path), rediscover_every=3)
    collector.read()
    _hwmon(tmp_path, "hwmon0", "acpitz", {"temp1_input": "30000"})
    assert collector.read().values == {}  # not rediscovered yet
    collector.read()
    assert collector.read().values == {"temp.acpitz_temp1.celsius": 30.0}


# --- host ------------------------------------------------------------------------------


def test_os_release_parsing_with_quotes_comments_and_escapes() -> None:
    text = (
        '# comment\nNAME="Debian GNU/Linux"\nVERSION_ID=12\n'
        "PRETTY_NAME='Debian 12 (bookworm)'\nBROKEN=\"unbalanced\n"
        'ESCAPED="a \\"quoted\\" word"\n\nnot a line\n'
    )
    fields = host.parse_os_release(text)
    assert fields["NAME"] == "Debian GNU/Linux"
    assert fields["VERSION_ID"] == "12"
    assert fields["PRETTY_NAME"] == "Debian 12 (bookworm)"
    assert fields["BROKEN"] == "unbalanced"
    assert fields["ESCAPED"] == 'a "quoted" word'
    assert "# comment" not in fields and "not a line" not in fields


def test_os_facts_fall_back_to_platform(tmp_path: Path) -> None:
    facts = host.os_facts((str(tmp_path / "nope"),))
    assert facts["os_name"] and facts["os_pretty"]
    (tmp_path / "os-release").write_text('NAME="Alpine Linux"\nVERSION_ID=3.20.1\n')
    facts = host.os_facts((str(tmp_path / "os-release"),))
    assert facts == {
        "os_name": "Alpine Linux", "os_version": "3.20.1", "os_pretty": "Alpine Linux 3.20.1"
    }  # fmt: skip


Addr = namedtuple("Addr", "family address netmask broadcast ptp")


def test_addresses_skip_loopback_and_mac_and_strip_scope() -> None:
    import socket

    if_addrs = {
        "lo": [Addr(socket.AF_INET, "127.0.0.1", None, None, None)],
        "eth0": [
            Addr(socket.AF_INET, "10.0.0.5", None, None, None),
            Addr(socket.AF_INET6, "fe80::1%eth0", None, None, None),
            Addr(psutil.AF_LINK, "aa:bb:cc:dd:ee:ff", None, None, None),
        ],
    }
    assert host.addresses(if_addrs) == [
        {"interface": "eth0", "family": "ipv4", "address": "10.0.0.5"},
        {"interface": "eth0", "family": "ipv6", "address": "fe80::1"},
    ]


def test_fqdn_accepts_only_names_under_the_hostname(monkeypatch) -> None:
    monkeypatch.setattr(host.socket, "getfqdn", lambda name: "localhost")
    assert host.NameLookup().fqdn("web1") == "web1"
    monkeypatch.setattr(host.socket, "getfqdn", lambda name: "web1.example.org")
    assert host.NameLookup().fqdn("web1") == "web1.example.org"
    assert host.NameLookup().fqdn("web1.already.qualified") == "web1.already.qualified"


def test_fqdn_does_not_wait_for_a_hung_resolver_nor_pile_up_threads(monkeypatch) -> None:
    import threading

    release = threading.Event()
    calls = []

    def hung(name: str) -> str:
        calls.append(name)
        release.wait(5)
        return "web1.example.org"

    monkeypatch.setattr(host.socket, "getfqdn", hung)
    names = host.NameLookup(timeout=0.05)
    try:
        started = time.monotonic()
        assert [names.fqdn("web1") for _ in range(5)] == ["web1"] * 5
        assert time.monotonic() - started < 1.0  # one timeout, then answers at once
        assert len(calls) == 1  # one lookup thread, not one per read
    finally:
        release.set()
    deadline = time.monotonic() + 5
    while names.fqdn("web1") == "web1" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert names.fqdn("web1") == "web1.example.org"  # the late answer is kept


def test_virtualization_hints(tmp_path: Path) -> None:
    assert host.virtualization("flags\t: fpu vme\n", str(tmp_path)) is None
    assert host.virtualization("flags\t: fpu hypervisor\n", str(tmp_path)) == "vm"
    (tmp_path / "sys/class/dmi/id").mkdir(parents=True)
    (tmp_path / "sys/class/dmi/id/product_name").write_text("KVM\n")
    assert host.virtualization("", str(tmp_path)) == "kvm"
    (tmp_path / ".dockerenv").touch()
    assert host.virtualization("", str(tmp_path)) == "docker"


def test_cpu_model_from_cpuinfo() -> None:
    assert host.cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n") == "AMD EPYC 7B13"


def test_swap_from_meminfo_and_fallback(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nSwapCached: 0 kB\nSwapTotal: 200 kB\nSwapFree: 50 kB\n")
    assert memory.linux_swap(str(meminfo)) == (200 * 1024, 150 * 1024)
    fallback = memory.linux_swap(str(tmp_path / "missing"))
    assert fallback.total == psutil.swap_memory().total
