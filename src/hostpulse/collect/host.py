"""Facts about the host that rarely change: names, addresses, OS, hardware, boot time.

Read once per viewer connection (and when the sampler checks for changes), not per tick.
Nothing here connects anywhere or runs a program; the one name lookup is bounded in time.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import platform
import shlex
import socket
import sys
import threading
from datetime import UTC, datetime
from typing import Any

import psutil

import hostpulse
from hostpulse.collect import read_text
from hostpulse.collect.hostroot import HostRoot

FQDN_TIMEOUT = 0.5  # seconds: a slow resolver must not hold up a viewer's first frame
_FAMILIES = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}
log = logging.getLogger("hostpulse.collect")
#: DMI product names of common hypervisors, lower-cased substring -> hint.
_DMI_HINTS = {
    "kvm": "kvm",
    "qemu": "qemu",
    "virtualbox": "virtualbox",
    "vmware": "vmware",
    "virtual machine": "hyperv",
    "hvm domu": "xen",
    "google compute engine": "gce",
    "amazon ec2": "amazon",
}


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines of os-release(5); values may be quoted and shell-escaped."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, raw = line.strip().partition("=")
        if not sep or not name or name.startswith("#"):
            continue
        try:
            parts = shlex.split(raw)
        except ValueError:  # unbalanced quote: take the text as it is
            parts = [raw.strip("\"'")]
        fields[name] = " ".join(parts)
    return fields


def os_facts(paths: tuple[str, ...] = ("/etc/os-release", "/usr/lib/os-release")) -> dict:
    for path in paths:
        text = read_text(path)
        if text is not None:
            rel = parse_os_release(text)
            name = rel.get("NAME") or platform.system()
            version = rel.get("VERSION_ID") or rel.get("VERSION") or None
            pretty = rel.get("PRETTY_NAME") or " ".join(filter(None, [name, version]))
            return {"os_name": name, "os_version": version, "os_pretty": pretty}
    name, version = platform.system(), platform.release()
    return {"os_name": name, "os_version": version, "os_pretty": f"{name} {version}"}


class NameLookup:
    """The host's fully qualified name, looked up in a daemon thread, one lookup at a time.

    Facts are re-read every 30 s; a resolver that hangs keeps its one thread, and until it
    returns each read answers at once with the last name found (or the bare hostname) instead
    of starting another thread.
    """

    def __init__(self, timeout: float = FQDN_TIMEOUT) -> None:
        self._timeout = timeout
        self._pending: threading.Thread | None = None
        self._found: dict[str, str] = {}  # hostname -> its FQDN, from the last lookup

    def fqdn(self, hostname: str) -> str:
        """The fully qualified name, or ``hostname`` when DNS is slow or says something odd."""
        if "." in hostname:
            return hostname
        if self._pending is None or not self._pending.is_alive():
            # daemon: a hung resolver thread must not keep the process alive
            self._pending = threading.Thread(target=self._resolve, args=(hostname,), daemon=True)
            self._pending.start()
            self._pending.join(self._timeout)
        return self._found.get(hostname, hostname)

    def _resolve(self, hostname: str) -> None:
        name = socket.getfqdn(hostname)
        # getfqdn returns some alias of the first address (often "localhost") when unsure.
        self._found[hostname] = name if name.startswith(hostname + ".") else hostname


def addresses(if_addrs: dict[str, list[Any]] | None = None) -> list[dict[str, str]]:
    """Every non-loopback IPv4/IPv6 address, by interface; no scope suffix on link-local."""
    if if_addrs is None:
        if_addrs = psutil.net_if_addrs()
    found = []
    for interface, addrs in sorted(if_addrs.items()):
        for addr in addrs:
            family = _FAMILIES.get(addr.family)
            if family is None:  # MAC (AF_PACKET / AF_LINK) rows
                continue
            text = addr.address.split("%", 1)[0]  # fe80::1%eth0: the interface is known
            try:
                if ipaddress.ip_address(text).is_loopback:
                    continue
            except ValueError:
                continue
            found.append({"interface": interface, "family": family, "address": text})
    return found


def interfaces(if_stats: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Each interface's link state (``up``) and speed in Mb/s (0: unknown), loopback left
    out: the page leaves interfaces that are down out of its choosers."""
    if if_stats is None:
        try:
            if_stats = psutil.net_if_stats()
        except OSError as exc:  # pragma: no cover - /sys unreadable
            log.warning("cannot read interface states: %s", exc)
            return {}
    return {
        name: {"up": bool(st.isup), "speed": int(st.speed)}
        for name, st in sorted(if_stats.items())
        if name not in ("lo", "lo0")
    }


def machine_names(lookup: NameLookup | None = None) -> set[str]:
    """This machine's host names (short and fully qualified, lower case) and the addresses
    of its interfaces, loopback ones included: what a request to it may name as its Host."""
    hostname = socket.gethostname()
    names = {hostname, (lookup or NameLookup()).fqdn(hostname)}
    try:
        if_addrs = psutil.net_if_addrs()
    except OSError as exc:  # pragma: no cover - /proc unreadable
        log.warning("cannot list this machine's addresses: %s", exc)
        if_addrs = {}
    for addrs in if_addrs.values():
        for addr in addrs:
            if addr.family in _FAMILIES:
                names.add(addr.address.split("%", 1)[0])
    return {name.lower().rstrip(".") for name in names if name}


def cpu_model(cpuinfo: str | None) -> str | None:
    for line in (cpuinfo or "").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() in ("model name", "Hardware", "cpu model") and value.strip():
            return value.strip()
    return platform.processor() or None


def virtualization(cpuinfo: str | None, root: str = "/") -> str | None:
    """A cheap hint of the container or hypervisor we run in, or None when unknown."""
    if os.path.exists(os.path.join(root, ".dockerenv")):
        return "docker"
    if os.path.exists(os.path.join(root, "run/.containerenv")):
        return "podman"
    cgroup = read_text(os.path.join(root, "proc/1/cgroup")) or ""
    for marker in ("kubepods", "docker", "lxc", "containerd"):
        if marker in cgroup:
            return marker
    product = (read_text(os.path.join(root, "sys/class/dmi/id/product_name")) or "").lower()
    for marker, hint in _DMI_HINTS.items():
        if marker in product:
            return hint
    flags = next((ln for ln in (cpuinfo or "").splitlines() if ln.startswith("flags")), "")
    return "vm" if " hypervisor" in flags else None


class FactsReader:
    """Reads every host fact; keeps the one state facts need (the name lookup) between reads."""

    def __init__(self, host: HostRoot | None = None) -> None:
        self._names = NameLookup()
        self._host = host or HostRoot()

    def read(self) -> dict[str, Any]:
        """All host facts as a JSON-able dict."""
        host = self._host
        hostname = host.hostname()
        cpuinfo = read_text(host.path("/proc/cpuinfo"))
        # A container's own os-release is not the host's: only the host's, when mounted.
        releases = (host.path("/etc/os-release"), host.path("/usr/lib/os-release"))
        boot = psutil.boot_time()
        return {
            "hostname": hostname,
            "fqdn": self._names.fqdn(hostname),
            "addresses": addresses(),
            "interfaces": interfaces(),
            **os_facts(releases),
            "kernel": platform.release(),
            "arch": platform.machine(),
            "cpu_model": cpu_model(cpuinfo),
            "cores_physical": psutil.cpu_count(logical=False),
            "cores_logical": psutil.cpu_count(logical=True),
            "mem_total": psutil.virtual_memory().total,
            "boot_time": datetime.fromtimestamp(boot, UTC).isoformat().replace("+00:00", "Z"),
            "boot_time_epoch": boot,
            "python_version": platform.python_version(),
            "hostpulse_version": hostpulse.__version__,
            "virtualization": virtualization(cpuinfo, host.root),
        }


if __name__ == "__main__":  # python -m hostpulse.collect.host: print this machine's facts
    import json

    json.dump(FactsReader().read(), sys.stdout, indent=2)
