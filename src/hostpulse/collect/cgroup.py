"""One container's numbers from its cgroup: CPU time, memory, block I/O, process count.

Both layouts: cgroup v2 (one directory: ``cpu.stat``, ``memory.current``, ``io.stat`` …) and
v1 (a directory per controller: ``cpuacct.usage``, ``memory.usage_in_bytes``,
``blkio.throttle.io_service_bytes_recursive`` …), including the hybrid layout where v1
controllers sit beside an empty v2 mount. Where a container's cgroup is comes from
``/proc/<pid>/cgroup`` of its init process and the cgroup mounts in ``/proc/self/mountinfo``,
found once per container, not per tick.

Per tick the files are read with ``pread`` on descriptors kept open (a cgroup file regenerates
its text at offset 0): about a tenth of an open/read/close. When the container stops, its
cgroup is removed and a read fails: :class:`Gone`.

Memory used is usage minus inactive file pages, as ``docker stats`` shows it: page cache the
kernel can drop at once is not the container's working set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: A v1 memory limit at or above this is "no limit" (the kernel's page-counter maximum).
NO_LIMIT = 1 << 62


class Gone(Exception):
    """The cgroup (or the process) is no more: the container stopped."""


@dataclass(frozen=True, slots=True)
class Stats:
    cpu_seconds: float
    mem_usage: int
    mem_inactive_file: int
    read_bytes: int | None
    write_bytes: int | None
    pids: int | None

    @property
    def mem_used(self) -> int:
        return max(0, self.mem_usage - self.mem_inactive_file)


def cgroup_mounts(mountinfo: str) -> dict[str, tuple[str, str]]:
    """controller -> (mount point, mount root) of each v1 controller, and ``""`` for v2.

    An empty v2 mount (hybrid layout, no controllers enabled in it) is still listed; the
    caller uses it only when a v1 memory controller is absent.
    """
    found: dict[str, tuple[str, str]] = {}
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or len(tail) < 3:
            continue
        root, point, fstype = fields[3], _unescape(fields[4]), tail[0]
        if fstype == "cgroup2":
            found.setdefault("", (point, root))
        elif fstype == "cgroup":
            for option in tail[2].split(","):
                found.setdefault(option, (point, root))
    return found


def _unescape(text: str) -> str:
    # mountinfo writes a space in a path as \040 (and tab, newline, backslash likewise)
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")


def _join(mount: tuple[str, str], path: str) -> str:
    point, root = mount
    if root != "/" and (path == root or path.startswith(root + "/")):
        path = path[len(root) :]  # we run in a cgroup namespace or a nested mount
    return point + path if path != "/" else point


@dataclass(frozen=True, slots=True)
class Location:
    """The directories of one container's cgroup: one for v2, one per controller for v1."""

    version: int
    cpu: str
    memory: str
    io: str | None
    pids: str | None


def locate(proc_cgroup: str, mounts: dict[str, tuple[str, str]]) -> Location | None:
    """Where the cgroup named in a ``/proc/<pid>/cgroup`` text is, or None if unreadable."""
    v1: dict[str, str] = {}
    v2: str | None = None
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            v2 = path
        for controller in controllers.split(","):
            if controller:
                v1[controller] = path
    if "memory" in v1 and "memory" in mounts and "cpuacct" in v1 and "cpuacct" in mounts:
        return Location(
            1,
            cpu=_join(mounts["cpuacct"], v1["cpuacct"]),
            memory=_join(mounts["memory"], v1["memory"]),
            io=_join(mounts["blkio"], v1["blkio"]) if "blkio" in v1 and "blkio" in mounts else None,
            pids=_join(mounts["pids"], v1["pids"]) if "pids" in v1 and "pids" in mounts else None,
        )
    if v2 is not None and "" in mounts:
        where = _join(mounts[""], v2)
        return Location(2, cpu=where, memory=where, io=where, pids=where)
    return None


# --- reading, per tick ------------------------------------------------------------------

_V1_FILES = {
    "cpu": ("cpu", "cpuacct.usage"),
    "mem": ("memory", "memory.usage_in_bytes"),
    "memstat": ("memory", "memory.stat"),
    "limit": ("memory", "memory.limit_in_bytes"),
    "io": ("io", "blkio.throttle.io_service_bytes_recursive"),
    "pids": ("pids", "pids.current"),
}
_V2_FILES = {
    "cpu": ("cpu", "cpu.stat"),
    "mem": ("memory", "memory.current"),
    "memstat": ("memory", "memory.stat"),
    "limit": ("memory", "memory.max"),
    "io": ("io", "io.stat"),
    "pids": ("pids", "pids.current"),
}
#: Files a container cannot do without: when one cannot be opened it has no cgroup here.
_REQUIRED = ("cpu", "mem", "memstat")


class CgroupReader:
    """Keeps one container's cgroup files open and reads its :class:`Stats`."""

    def __init__(self, where: Location) -> None:
        self.where = where
        self._fds: dict[str, int] = {}
        files = _V1_FILES if where.version == 1 else _V2_FILES
        try:
            for name, (attr, file) in files.items():
                directory = getattr(where, attr)
                if directory is None:
                    continue
                try:
                    self._fds[name] = os.open(os.path.join(directory, file), os.O_RDONLY)
                except OSError:
                    if name in _REQUIRED:
                        raise
        except OSError as exc:
            self.close()
            raise Gone(f"{where.cpu}: {exc.strerror}") from None

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}

    def _bytes(self, name: str) -> bytes | None:
        fd = self._fds.get(name)
        if fd is None:
            return None
        try:
            return os.pread(fd, 65536, 0)
        except OSError as exc:  # ENODEV once the cgroup was removed
            if name in _REQUIRED:
                raise Gone(f"{self.where.cpu}: {exc.strerror}") from None
            return None

    def limit(self) -> int | None:
        """The memory limit in bytes, None when unlimited."""
        text = (self._bytes("limit") or b"").strip()
        if not text.isdigit():  # v2 writes "max"
            return None
        value = int(text)
        return None if value >= NO_LIMIT else value

    def read(self) -> Stats:
        """Raises :class:`Gone` when the cgroup is no more, ValueError on text that is not
        what the kernel writes. Bytes parsed as they are: int() takes b" 123\n"."""
        fds, pread = self._fds, os.pread
        try:  # the three files every cgroup has, read in a row
            cpu = pread(fds["cpu"], 4096, 0)
            mem = pread(fds["mem"], 64, 0)
            memstat = pread(fds["memstat"], 65536, 0)
        except OSError as exc:
            raise Gone(f"{self.where.cpu}: {exc.strerror}") from None
        v1 = self.where.version == 1
        pids = self._bytes("pids")
        read, write = _io_bytes(self._bytes("io"), v1)
        return Stats(
            cpu_seconds=int(cpu) / 1e9 if v1 else _stat_field(cpu, b"usage_usec") / 1e6,
            mem_usage=int(mem),
            # v1: total_ includes descendant cgroups, like usage_in_bytes does
            mem_inactive_file=_stat_field(
                memstat, b"total_inactive_file" if v1 else b"inactive_file"
            ),
            read_bytes=read,
            write_bytes=write,
            pids=int(pids) if pids and pids.strip().isdigit() else None,
        )


def _stat_field(text: bytes, name: bytes) -> int:
    """One ``name value`` line of a flat-keyed cgroup file (memory.stat, cpu.stat); 0 if none."""
    if text.startswith(name + b" "):
        start = 0
    else:  # the line start: "inactive_file" is also inside "total_inactive_file"
        start = text.find(b"\n" + name + b" ")
        if start < 0:
            return 0
        start += 1
    end = text.find(b"\n", start)
    return int(text[start + len(name) + 1 : end if end >= 0 else None])


def _io_bytes(text: bytes | None, v1: bool) -> tuple[int | None, int | None]:
    """Bytes read and written, summed over devices; (None, None) when the file is missing."""
    if text is None:
        return None, None
    read = write = 0
    for line in text.splitlines():
        parts = line.split()
        if v1:  # "8:0 Read 4096"; "Total 4096" at the end
            if len(parts) == 3:
                if parts[1] == b"Read":
                    read += int(parts[2])
                elif parts[1] == b"Write":
                    write += int(parts[2])
        else:  # "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0"
            for part in parts[1:]:
                name, _, value = part.partition(b"=")
                if name == b"rbytes":
                    read += int(value)
                elif name == b"wbytes":
                    write += int(value)
    return read, write
