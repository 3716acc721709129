"""Where this host's /proc, /sys and /etc are: ``/``, or the host's, mounted elsewhere.

Run in a container as the dashboard of its host, hostpulse reads the host through its
mounted /proc and /sys (the ``host_root`` setting, as node_exporter's ``--path.procfs`` and
Glances' container set-up do): ``podman run -v /proc:/host/proc:ro -v /sys:/host/sys:ro
-v /etc/hostname:/host/etc/hostname:ro … --host-root /host``.

Some /proc files answer for the *reader's* namespaces, whichever procfs mount they are read
through: ``/proc/self`` (so ``self/mounts`` and ``net`` are the container's) and
``/proc/sys/kernel/hostname`` (the reader's UTS namespace; tried). So the host's mounts and
network counters are read through its PID 1 (``<proc>/1/mountinfo``, ``<proc>/1/net/dev``),
and its name from its ``/etc/hostname``, mounted with the rest, or from the kernel when the
container shares the host's UTS namespace (``--uts host``).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from hostpulse.collect import read_text

HOST = "/"


@dataclass(frozen=True)
class HostRoot:
    root: str = HOST

    @property
    def is_own(self) -> bool:
        """True when the host is the machine (namespaces) this process runs in."""
        return os.path.normpath(self.root) == HOST

    def path(self, absolute: str) -> str:
        """``absolute`` (``/proc/stat``) as seen through the root (``/host/proc/stat``)."""
        return os.path.join(self.root, absolute.lstrip("/"))

    @property
    def proc(self) -> str:
        return self.path("/proc")

    @property
    def sys(self) -> str:
        return self.path("/sys")

    @property
    def init_proc(self) -> str:
        """The proc directory of a process in the host's mount and network namespaces: our
        own (``self``) on the host, the host's PID 1 from a container."""
        return self.path("/proc/self") if self.is_own else self.path("/proc/1")

    def hostname(self) -> str:
        """The host's name: its /etc/hostname under the root when it is mounted there, else
        the kernel's (the host's own when the container shares its UTS namespace)."""
        if not self.is_own:
            text = (read_text(self.path("/etc/hostname")) or "").strip()
            if text and not text.startswith("#"):
                return text.split()[0]
        return socket.gethostname()


def use_for_psutil(root: HostRoot) -> None:
    """psutil reads /proc through one module-level setting (``psutil.PROCFS_PATH``): point it
    at the host's before any collector reads, once per process (the data side's builder)."""
    import psutil

    psutil.PROCFS_PATH = root.proc
