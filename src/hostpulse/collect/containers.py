"""Running containers (Docker, Podman): numbers every tick, names and health every few seconds.

Two halves with two paces:

- The **engine** (collect/engine.py) says which containers run, under what name, image,
  health, restart count and start time. Asking it costs one HTTP call for the list plus one
  per container (the inspect that has the pid, the health and the restart count: about
  0.3 ms of our CPU each, and more of the engine's), so the list is asked every
  :data:`REFRESH` seconds and a known container re-inspected only every :data:`REINSPECT`
  seconds or when its list entry changes, in a thread of its own: a socket that hangs or
  answers garbage delays only that thread (each call has a deadline), never the tick. It is
  also asked at once when a tick finds a container gone.
  Health checks run every 30 s by default in Docker, and a stopped container is noticed by the
  next tick anyway (its cgroup is removed), so a few seconds is fresh enough; a new container
  shows within :data:`REFRESH` seconds.
- The **numbers** come straight from each container's cgroup (collect/cgroup.py) and from
  ``/proc/<init pid>/net/dev`` (the container's own network namespace), read every tick on
  descriptors kept open.

Keys, per running container (``<name>`` cleaned like every instance name):
``container.<name>.cpu`` (% of one core; counter), ``.mem_used``, ``.mem_limit`` (the host's
memory when unlimited, as ``docker stats``), ``.pids``, and the counters ``.rx_bps``,
``.tx_bps``, ``.read_bps``, ``.write_bps``. The ``containers`` table (id, image, created,
state, health, restart count, started_at) travels with the host's facts: sent on change only.

Nothing here reads a container's environment or files, or calls anything but read-only GETs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

from hostpulse.collect import Reading, read_text
from hostpulse.collect.cgroup import CgroupReader, Gone, cgroup_mounts, locate
from hostpulse.collect.engine import (
    ContainerInfo,
    Engine,
    EngineError,
    find_socket,
    health_hint,
)
from hostpulse.metrics import instance_name, key

log = logging.getLogger("hostpulse.collect")

#: Seconds between questions to the engine (see the module docstring for why).
REFRESH = 5.0
#: A running container is inspected again at least this often (its health, for an engine
#: that does not put health in the list, as Podman does not), and at once when its list
#: entry says something new: not running, or another health (Docker's list has it).
REINSPECT = 15.0
#: The ``containers_socket`` value that turns container collection off.
OFF = "off"


class NetReader:
    """Bytes received and sent in one network namespace, from a ``/proc/<pid>/net/dev`` kept
    open (the namespace of the process when it was opened)."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDONLY)

    def read(self) -> tuple[int, int]:
        rx = tx = 0
        for line in os.pread(self._fd, 65536, 0).splitlines()[2:]:  # two header lines
            name, sep, numbers = line.partition(b":")
            if sep and name.strip() != b"lo":
                fields = numbers.split()
                rx += int(fields[0])
                tx += int(fields[8])
        return rx, tx

    def close(self) -> None:
        os.close(self._fd)


#: The fields of a container's keys, in the order of :attr:`Entry.keys`.
FIELDS = ("cpu", "mem_used", "mem_limit", "pids", "read_bps", "write_bps", "rx_bps", "tx_bps")


@dataclass(eq=False)
class Entry:
    """One container followed by the tick: its engine info and its open files."""

    info: ContainerInfo
    instance: str
    cgroup: CgroupReader
    net: NetReader | None
    limit: int | None
    #: Its metric keys, built once (see :data:`FIELDS`).
    keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.keys = tuple(key("container", field, self.instance) for field in FIELDS)

    def close(self) -> None:
        self.cgroup.close()
        if self.net is not None:
            self.net.close()


class ContainerCollector:
    name = "containers"

    def __init__(
        self,
        socket_path: str | None = None,
        *,
        refresh: float = REFRESH,
        reinspect: float = REINSPECT,
        timeout: float | None = None,
        proc: str = "/proc",
        find: Callable[[], str | None] = find_socket,
        mem_total: int | None = None,
    ) -> None:
        """``socket_path``: the engine's socket; None finds it where engines put it."""
        self._named = socket_path
        self._find = find
        self._refresh = refresh
        self._reinspect = reinspect
        self._timeout = timeout
        #: id -> (info, monotonic time of its inspect, its list entry's health hint)
        self._inspected: dict[str, tuple[ContainerInfo, float, str]] = {}
        #: ids the tick found gone while the engine still listed them: inspect them again
        self._stale: set[str] = set()
        self._proc = proc
        self._mem_total = mem_total or psutil.virtual_memory().total
        #: The engine's latest answer (replaced whole by the refresher: no lock needed to read).
        self._found: dict[str, ContainerInfo] | None = None
        self._found_version = 0
        self._seen_version = -1
        self._entries: dict[str, Entry] = {}
        self._table: dict[str, dict[str, Any]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_problem: str | None = None
        #: Calls made to the engine and how many failed (for tests and the curious).
        self.refreshes = 0
        self.failures = 0

    # --- the engine side (its own thread) ------------------------------------------------

    def _socket(self) -> str | None:
        return self._named if self._named is not None else self._find()

    def refresh_once(self) -> None:
        """Ask the engine once; on failure keep the last answer and log the problem once."""
        path = self._socket()
        if path is None:
            self._problem(
                "no container engine socket found (set containers_socket to name one); "
                "no containers shown",
                logging.INFO,
            )
            self._publish(None)  # no table at all: no containers panel
            return
        engine = Engine(path) if self._timeout is None else Engine(path, self._timeout)
        self.refreshes += 1
        stale, self._stale = self._stale, set()
        listed_at = time.monotonic()
        hints: dict[str, str] = {}

        def reuse(ident: str, listed: dict[str, Any]) -> ContainerInfo | None:
            hints[ident] = hint = health_hint(listed)
            known = self._inspected.get(ident)
            if known is None or ident in stale or listed.get("State") != known[0].state:
                return None
            info, at, known_hint = known
            fresh = listed_at - at < self._reinspect and hint == known_hint
            return info if fresh else None

        try:
            running = engine.running(reuse)
        except EngineError as exc:
            self.failures += 1
            self._problem(f"container engine at {path}: {exc}; retrying every {self._refresh:g} s")
            return
        if self._last_problem is not None:
            log.info("container engine at %s answers: %d running", path, len(running))
            self._last_problem = None
        inspected = {}
        for info in running:
            known = self._inspected.get(info.id)
            at = known[1] if known is not None and known[0] is info else listed_at
            inspected[info.id] = (info, at, hints.get(info.id, ""))
        self._inspected = inspected
        self._publish({info.id: info for info in running})

    def _problem(self, text: str, level: int = logging.WARNING) -> None:
        if text != self._last_problem:  # once per distinct problem, not once per refresh
            log.log(level, text)
            self._last_problem = text

    def _publish(self, found: dict[str, ContainerInfo] | None) -> None:
        # A new version on every answer, even an unchanged one: the tick then re-reads each
        # container's memory limit, and reopens one whose files failed on a passing error.
        self._found = found
        self._found_version += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh_once()
            except Exception:  # the refresher must outlive any surprise
                log.exception("container refresh failed")
            self._wake.wait(self._refresh)
            self._wake.clear()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="hostpulse-containers", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stop asking the engine and close every open file."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(1)  # a daemon: an engine call still hanging ends by itself
            self._thread = None
        for entry in self._entries.values():
            entry.close()
        self._entries = {}

    # --- the tick side -------------------------------------------------------------------

    def read(self) -> Reading:
        self.start()  # lazily: building a collector starts nothing
        version = self._found_version  # read before the answer: never skip a newer one
        if version != self._seen_version:
            self._seen_version = version
            self._follow(self._found or {})
        values: dict[str, Any] = {}
        counters: dict[str, float] = {}
        for ident, entry in list(self._entries.items()):
            try:
                self._read_one(entry, values, counters)
            except (Gone, OSError, ValueError):  # stopped since the engine was asked
                self._drop(ident)
                self._stale.add(ident)  # restarted, maybe: a new pid to find
                self._wake.set()
        tables = {"containers": self._table} if self._found is not None else {}
        return Reading(values=values, counters=counters, tables=tables)

    def _read_one(self, entry: Entry, values: dict[str, Any], counters: dict[str, float]) -> None:
        stats = entry.cgroup.read()
        cpu, mem_used, mem_limit, pids, read, write, rx, tx = entry.keys
        # CPU seconds x 100: the sampler's rate of it is the % of one core.
        counters[cpu] = stats.cpu_seconds * 100.0
        values[mem_used] = stats.mem_used
        values[mem_limit] = entry.limit or self._mem_total
        values[pids] = stats.pids
        if stats.read_bytes is not None:
            counters[read] = stats.read_bytes
            counters[write] = stats.write_bytes or 0
        if entry.net is not None:
            counters[rx], counters[tx] = entry.net.read()

    def _follow(self, found: dict[str, ContainerInfo]) -> None:
        """Open the files of new containers, close those of gone ones (once per answer)."""
        for ident in [i for i, e in self._entries.items() if found.get(i) != e.info]:
            if ident not in found or found[ident].pid != self._entries[ident].info.pid:
                self._drop(ident)
            else:  # same container, new health or restart count
                self._entries[ident].info = found[ident]
        mounts = None
        for ident, info in found.items():
            if ident not in self._entries:
                if mounts is None:
                    mounts = cgroup_mounts(read_text(f"{self._proc}/self/mountinfo") or "")
                self._open(info, mounts)
        for entry in self._entries.values():
            entry.limit = entry.cgroup.limit()  # `docker update` can change it
        self._table = {e.instance: _fact_row(e.info) for e in self._entries.values()}

    def _open(self, info: ContainerInfo, mounts: dict[str, tuple[str, str]]) -> None:
        where = locate(read_text(f"{self._proc}/{info.pid}/cgroup") or "", mounts)
        if where is None:
            return  # exited already, or no cgroup we can read
        try:
            cgroup = CgroupReader(where)
        except Gone:
            return
        try:
            net = NetReader(f"{self._proc}/{info.pid}/net/dev")
        except OSError:
            net = None
        used = {e.instance for e in self._entries.values()}
        instance = instance_name(info.name)
        if instance in used:  # two names that clean to the same instance
            instance = instance_name(f"{info.name}_{info.id[:12]}")
        self._entries[info.id] = Entry(info, instance, cgroup, net, cgroup.limit())

    def _drop(self, ident: str) -> None:
        entry = self._entries.pop(ident, None)
        if entry is not None:
            entry.close()
            self._table = {e.instance: _fact_row(e.info) for e in self._entries.values()}


def _fact_row(info: ContainerInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "image": info.image,
        "created": info.created,
        "state": info.state,
        "health": info.health,
        "restart_count": info.restart_count,
        "started_at": info.started_at,
    }
