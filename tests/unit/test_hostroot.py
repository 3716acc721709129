"""host_root: the host's /proc, /sys and /etc/hostname read from under another root, as in
a container with them mounted (collect/hostroot.py). The trees here are files the test
writes; tests/image/ runs the real thing in Podman."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from hostpulse import config, local
from hostpulse.collect import registry
from hostpulse.collect.disks import HostPartitions, parse_mountinfo
from hostpulse.collect.hostroot import HostRoot
from hostpulse.collect.network import parse_net_dev

NET_DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    500       5    0    0    0     0          0         0      500       5    0    0    0     0       0          0
  eth0: 1000      10    1    2    0     0          0         0     2000      20    3    4    0     0       0          0
"""  # noqa: E501


def host_tree(tmp_path: Path, hostname: str = "the-host") -> Path:
    root = tmp_path / "host"
    (root / "proc/1/net").mkdir(parents=True)
    (root / "proc/1/net/dev").write_text(NET_DEV)
    (root / "proc/filesystems").write_text("nodev\tsysfs\nnodev\tproc\n\text4\n\txfs\n")
    (root / "sys/class/net/eth0/device").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc/hostname").write_text(f"{hostname}\n")
    data = root / "data"  # a directory on the test's own filesystem: a "mounted" one
    data.mkdir()
    dev = os.stat(data).st_dev
    major, minor = os.major(dev), os.minor(dev)
    (root / "proc/1/mountinfo").write_text(
        f"22 1 0:21 / /proc rw - proc proc rw\n"
        f"27 1 {major}:{minor} / /data rw,relatime shared:1 - ext4 /dev/vdb rw\n"
        f"28 1 {major + 1}:{minor} / /etc rw - ext4 /dev/vdc rw\n"  # /etc here: not that fs
        f"29 1 {major}:{minor} / /not\\040mounted rw - xfs /dev/vdd rw\n"
    )
    return root


def test_paths_and_the_own_root():
    own = HostRoot()
    assert own.is_own and own.proc == "/proc" and own.path("/sys/block") == "/sys/block"
    assert own.init_proc == "/proc/self" and own.hostname() == socket.gethostname()
    host = HostRoot("/host")
    assert not host.is_own and host.proc == "/host/proc" and host.init_proc == "/host/proc/1"
    assert config.load(environ={"HOSTPULSE_HOST_ROOT": "/host"}).host_root == Path("/host")


def test_hostname_is_the_hosts_file_not_the_kernels(tmp_path):
    root = host_tree(tmp_path, hostname="web-7.example")
    assert HostRoot(str(root)).hostname() == "web-7.example"
    settings = config.load(environ={"HOSTPULSE_HOST_ROOT": str(root)})
    assert local.host_id(settings) == "web-7.example"
    (root / "etc/hostname").unlink()  # not mounted: the kernel's name (right with --uts host)
    assert HostRoot(str(root)).hostname() == socket.gethostname()


def test_net_dev_fields_are_psutils():
    eth0 = parse_net_dev(NET_DEV)["eth0"]
    assert (eth0.bytes_recv, eth0.packets_recv, eth0.errin, eth0.dropin) == (1000, 10, 1, 2)
    assert (eth0.bytes_sent, eth0.packets_sent, eth0.errout, eth0.dropout) == (2000, 20, 3, 4)


def test_network_reads_the_hosts_pid_1_namespace(tmp_path):
    root = host_tree(tmp_path)
    (network,) = [
        c for c in registry.default_collectors(HostRoot(str(root))) if c.name == "network"
    ]
    counters = network.read().counters
    assert counters["net.eth0.rx_bps"] == 1000 and counters["net.total.tx_bps"] == 2000
    assert "net.lo.rx_bps" not in counters


def test_mountinfo_parsing_unescapes_and_reads_devices():
    line = "29 1 8:3 / /mnt/my\\040disk rw shared:4 master:1 - ext4 /dev/sda3 rw,errors=remount-ro"
    ((part, device),) = parse_mountinfo(line)
    assert part.mountpoint == "/mnt/my disk" and part.device == "/dev/sda3"
    assert part.fstype == "ext4" and device == os.makedev(8, 3)


def test_only_filesystems_mounted_under_the_root_are_shown(tmp_path):
    root = host_tree(tmp_path)
    partitions = HostPartitions(HostRoot(str(root)))
    found = partitions()
    # /proc: not a block type; /etc: a directory of the container's, not the host's fs;
    # "/not mounted": absent under the root
    assert [p.mountpoint for p in found] == ["/data"]
    assert (
        partitions.usage("/data").total
        == os.statvfs(root / "data").f_blocks * os.statvfs(root / "data").f_frsize
    )
    (filesystems,) = [
        c for c in registry.default_collectors(HostRoot(str(root))) if c.name == "filesystems"
    ]
    reading = filesystems.read()
    assert reading.tables["filesystems"]["/data"]["device"] == "/dev/vdb"
    assert reading.values["fs./data.total"] > 0
