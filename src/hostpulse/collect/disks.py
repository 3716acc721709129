"""Filesystem usage and disk I/O counters.

Which filesystems: what ``psutil.disk_partitions(all=False)`` returns, i.e. filesystems whose
type needs a block device (per /proc/filesystems on Linux). That leaves out tmpfs, devtmpfs,
overlay, proc, cgroup and network filesystems (a hung NFS server cannot stall the tick);
tmpfs lives in RAM and already shows in memory. We also skip read-only image types
(squashfs: snaps, live media) which are always 100 % full. A device mounted more than once
(bind mounts) is reported once, at its shortest mount point.

A mount whose statfs hangs (a dead NFS server bind-mounted somewhere, a FUSE file system
nobody serves) must not stall the tick: each statfs runs in a real OS thread of the
collector's own pool (hostpulse/osthreads.py) and is waited for at most ``STATFS_TIMEOUT``
seconds. A mount that did not answer shows as unknown (null values), is logged once, and is
not asked again until that call returns. Each hung call holds a thread, so the pool has
room for ``MAX_HUNG`` of them besides ``STATFS_THREADS`` working ones, and a call is made
only while a thread is free for it: however many mounts hang, the others are still asked
(or, past ``MAX_HUNG``, show as unknown too) and no call waits behind a hung one.

Which disks: whole disks backed by a device, i.e. names in /sys/block with a ``device``
entry. That skips partitions (sda1: already inside sda), loop, ram, zram, and device-mapper
and md devices (their I/O is already counted on the member disks). Where /sys/block does not
exist (not Linux) every disk psutil reports is kept.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import psutil

from hostpulse.collect import Reading, read_text
from hostpulse.metrics import TOTAL, instance_name, key
from hostpulse.osthreads import OSThreads

log = logging.getLogger("hostpulse.collect")

SKIP_FSTYPES = frozenset({"squashfs"})
#: Longest wait for one tick's statfs calls (they run in parallel).
STATFS_TIMEOUT = 0.5
#: Threads for statfs calls that answer, and room for this many more that never return
#: (a statfs blocked in the kernel cannot be cancelled: each holds its thread until it
#: returns). Threads are started only as calls need them.
STATFS_THREADS = 4
MAX_HUNG = 1024
FS_FIELDS = ("total", "used", "free", "percent")
#: Re-list partitions at least this often even when the mount table text looks unchanged
#: (or cannot be read, off Linux).
REDISCOVER_EVERY = 60


def real_filesystems(partitions: Iterable[Any]) -> list[Any]:
    """Partitions worth showing: skip image filesystems, keep one mount per device."""
    by_device: dict[str, Any] = {}
    for part in partitions:
        if part.fstype in SKIP_FSTYPES:
            continue
        kept = by_device.get(part.device)
        if kept is None or _shorter(part.mountpoint, kept.mountpoint):
            by_device[part.device] = part
    return sorted(by_device.values(), key=lambda p: p.mountpoint)


class Partition(NamedTuple):
    """A mounted filesystem, with psutil's sdiskpart field names."""

    device: str
    mountpoint: str
    fstype: str
    opts: str


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash in paths as octal escapes (\040)
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[tuple[Partition, int]]:
    """``/proc/<pid>/mountinfo`` lines as (partition, device number) pairs (proc(5))."""
    found = []
    for line in text.splitlines():
        head, sep, tail = line.partition(" - ")
        fields, after = head.split(), tail.split()
        if not sep or len(fields) < 6 or len(after) < 2:
            continue
        major, _, minor = fields[2].partition(":")
        part = Partition(_unescape(after[1]), _unescape(fields[4]), after[0], fields[5])
        found.append((part, os.makedev(int(major), int(minor))))
    return found


def block_fstypes(filesystems: str | None) -> set[str] | None:
    """Types in /proc/filesystems that need a device (no ``nodev``), as psutil keeps them."""
    if filesystems is None:
        return None
    return {fields[0] for fields in map(str.split, filesystems.splitlines()) if len(fields) == 1}


class HostPartitions:
    """The host's filesystems seen from a container (``host_root``): its PID 1's mounts, kept
    only where the host's mount point, under the root, is that very filesystem (same device
    number). A filesystem not mounted into the container is left out, not shown with the
    container's own numbers."""

    def __init__(self, root: Any) -> None:
        self._root = root

    def mountinfo_path(self) -> str:
        return os.path.join(self._root.init_proc, "mountinfo")

    def __call__(self, all: bool = False) -> list[Partition]:
        text = read_text(self.mountinfo_path()) or ""
        wanted = block_fstypes(read_text(os.path.join(self._root.proc, "filesystems")))
        found = []
        for part, device in parse_mountinfo(text):
            if wanted is not None and part.fstype not in wanted:
                continue
            try:
                if os.stat(self._root.path(part.mountpoint)).st_dev != device:
                    continue
            except OSError:
                continue
            found.append(part)
        return found

    def usage(self, mountpoint: str) -> Any:
        return psutil.disk_usage(self._root.path(mountpoint))


def _shorter(a: str, b: str) -> bool:
    return (len(a), a) < (len(b), b)


class FilesystemCollector:
    name = "filesystems"

    def __init__(
        self,
        partitions: Callable[..., list[Any]] = psutil.disk_partitions,
        usage: Callable[[str], Any] = psutil.disk_usage,
        mounts_path: str = "/proc/self/mounts",
        timeout: float = STATFS_TIMEOUT,
        calls: OSThreads | None = None,
    ) -> None:
        self._partitions = partitions
        self._usage = usage
        self._mounts_path = mounts_path
        self._timeout = timeout
        self._calls = calls
        #: mount point -> the statfs call that has not returned yet.
        self.hung: dict[str, Any] = {}
        self._crowded = False  # logged that mounts went unasked for want of a thread
        self._mounts_text: str | None = None
        self._reads_since_discovery = 0
        self._filesystems: list[Any] = []

    def _discover_if_changed(self) -> None:
        # /proc files have no useful mtime; comparing the raw text costs a few µs, while
        # disk_partitions() also reads /proc/filesystems and builds tuples for every line.
        text = read_text(self._mounts_path)
        self._reads_since_discovery += 1
        if (
            text is not None
            and text == self._mounts_text
            and self._reads_since_discovery < REDISCOVER_EVERY
        ):
            return
        self._filesystems = real_filesystems(self._partitions(all=False))
        self._mounts_text = text
        self._reads_since_discovery = 0

    def _usages(self) -> dict[str, Any]:
        """mount point -> usage, or the OSError it raised; unknown mounts are absent."""
        if self._calls is None:
            self._calls = OSThreads(STATFS_THREADS + MAX_HUNG, "hostpulse-statfs")
        calls = self._calls
        for mount, handle in list(self.hung.items()):
            if calls.done(handle):
                del self.hung[mount]
                log.warning("filesystem %s answers statfs again", mount)
        asked = [p.mountpoint for p in self._filesystems if p.mountpoint not in self.hung]
        free = calls.size - len(self.hung)  # every thread not held by a hung call
        self._note_crowding(asked[free:])
        pending = {mount: calls.submit(self._usage, mount) for mount in asked[:free]}
        calls.wait(pending.values(), time.monotonic() + self._timeout)
        results: dict[str, Any] = {}
        for mount, handle in pending.items():
            if not calls.done(handle):
                self.hung[mount] = handle
                log.warning(
                    "filesystem %s: statfs did not answer in %.1fs; unknown until it does",
                    mount,
                    self._timeout,
                )
                continue
            try:
                results[mount] = calls.result(handle)
            except OSError as exc:
                results[mount] = exc
        return results

    def _note_crowding(self, unasked: list[str]) -> None:
        if unasked and not self._crowded:
            log.warning(
                "%d filesystems hang in statfs: %d others not asked (unknown) until one answers",
                len(self.hung),
                len(unasked),
            )
        self._crowded = bool(unasked)

    def read(self) -> Reading:
        self._discover_if_changed()
        usages = self._usages()
        values: dict[str, float | None] = {}
        table: dict[str, dict[str, str]] = {}
        for part in self._filesystems:
            use = usages.get(part.mountpoint)
            if isinstance(use, OSError):  # unmounted since discovery, or not ours to stat
                self._mounts_text = None
                continue
            mount = instance_name(part.mountpoint)
            for field in FS_FIELDS:  # a mount that does not answer: unknown
                values[key("fs", field, mount)] = None if use is None else getattr(use, field)
            table[mount] = {
                "mount": part.mountpoint,
                "device": part.device,
                "fstype": part.fstype,
            }
        return Reading(values=values, tables={"filesystems": table})


#: Our field name -> psutil's sdiskio attribute (cumulative bytes and operation counts).
IO_FIELDS: dict[str, str] = {
    "read_bps": "read_bytes",
    "write_bps": "write_bytes",
    "read_ops": "read_count",
    "write_ops": "write_count",
}


def physical_disks(names: Iterable[str], sys_block: str) -> set[str]:
    """The names that are whole, device-backed disks (see the module docstring)."""
    if not os.path.isdir(sys_block):
        return set(names)
    return {n for n in names if os.path.exists(os.path.join(sys_block, n, "device"))}


class DiskIOCollector:
    name = "diskio"

    def __init__(
        self,
        io_counters: Callable[..., Any] = psutil.disk_io_counters,
        sys_block: str = "/sys/block",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._io_counters = io_counters
        self._sys_block = sys_block
        self._clock = clock
        self._seen: frozenset[str] = frozenset()
        self._disks: set[str] = set()

    def _per_disk(self) -> dict[str, Any]:
        try:
            per_disk = self._io_counters(perdisk=True, nowrap=False)
        except (OSError, RuntimeError):  # no /proc/diskstats, or no disks at all
            return {}
        return per_disk or {}  # None where the OS reports no disks

    def read(self) -> Reading:
        per_disk = self._per_disk()
        now_ms = self._clock() * 1000.0  # read right after the counters: same moment
        names = frozenset(per_disk)
        if names != self._seen:  # a disk came or went: classify the names again
            self._disks = physical_disks(names, self._sys_block)
            self._seen = names
        counters: dict[str, float] = {}
        shares: dict[str, tuple[float, float]] = {}
        totals = dict.fromkeys(IO_FIELDS, 0)
        busy_sum, busy_disks = 0.0, 0
        for disk in sorted(self._disks):
            io = per_disk[disk]
            for field, attr in IO_FIELDS.items():
                value = getattr(io, attr)
                counters[key("disk", field, disk)] = value
                totals[field] += value
            busy = getattr(io, "busy_time", None)  # Linux and FreeBSD only
            if busy is not None:
                shares[key("disk", "busy", disk)] = (busy, now_ms)
                busy_sum, busy_disks = busy_sum + busy, busy_disks + 1
        if self._disks:
            for field, value in totals.items():
                counters[key("disk", field, TOTAL)] = value
        if busy_disks:
            # Mean busy share over the disks: whole is one wall clock per disk.
            shares[key("disk", "busy", TOTAL)] = (busy_sum, busy_disks * now_ms)
        return Reading(counters=counters, shares=shares)
