"""Network interface counters: bytes, packets, errors and drops, per interface and summed.

Counters are cumulative; the sampler derives the per-second rates the field names promise.
The loopback interface is skipped: local traffic is not network load. ``net.total.*`` is the
host's traffic counted once: the sum of its physical interfaces (those with a device under
/sys/class/net), because a packet through a bridge, VLAN, bond, tunnel or container veth is
also counted on the physical interface it leaves by. A host with no physical interface (a
container, whose eth0 is itself a veth) sums every interface but loopback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NamedTuple

import psutil

from hostpulse.collect import Reading, read_text
from hostpulse.metrics import TOTAL, key

#: Our field name -> psutil's snetio attribute.
FIELDS: dict[str, str] = {
    "rx_bps": "bytes_recv",
    "tx_bps": "bytes_sent",
    "rx_pps": "packets_recv",
    "tx_pps": "packets_sent",
    "errin_ps": "errin",
    "errout_ps": "errout",
    "dropin_ps": "dropin",
    "dropout_ps": "dropout",
}

LOOPBACK = frozenset({"lo", "lo0"})


class NetDev(NamedTuple):
    """One line of /proc/net/dev, with psutil's snetio field names."""

    bytes_sent: int
    bytes_recv: int
    packets_sent: int
    packets_recv: int
    errin: int
    errout: int
    dropin: int
    dropout: int


def parse_net_dev(text: str) -> dict[str, NetDev]:
    """``/proc/<pid>/net/dev``: per interface, receive columns then transmit columns."""
    nics = {}
    for line in text.splitlines()[2:]:  # two header lines
        name, sep, rest = line.partition(":")
        fields = rest.split()
        if not sep or len(fields) < 16:
            continue
        rx, tx = [int(f) for f in fields[:8]], [int(f) for f in fields[8:16]]
        nics[name.strip()] = NetDev(tx[0], rx[0], tx[1], rx[1], rx[2], tx[2], rx[3], tx[3])
    return nics


def net_dev_reader(path: str) -> Callable[..., dict[str, NetDev]]:
    """An ``io_counters`` reading the interfaces of the network namespace ``path`` belongs
    to (the host's PID 1's ``net/dev`` in a container: psutil's reads the container's)."""

    def io_counters(pernic: bool = True, nowrap: bool = False) -> dict[str, NetDev]:
        text = read_text(path)
        return parse_net_dev(text) if text is not None else {}

    return io_counters


class NetworkCollector:
    name = "network"

    def __init__(
        self,
        io_counters: Callable[..., dict[str, Any]] = psutil.net_io_counters,
        sys_net: str = "/sys/class/net",
    ):
        self._io_counters = io_counters
        self._sys_net = sys_net
        #: interface name -> physical?; names come and go (veths), so kept for the present ones
        self._physical: dict[str, bool] = {}

    def read(self) -> Reading:
        # nowrap=False: psutil's wrap fix-up keeps module-level state; the sampler already
        # turns a counter that went backwards into "unknown" for one tick.
        per_nic = self._io_counters(pernic=True, nowrap=False) or {}
        nics = {nic: io for nic, io in per_nic.items() if nic not in LOOPBACK}
        counters = {
            key("net", field, nic): getattr(io, attr)
            for nic, io in nics.items()
            for field, attr in FIELDS.items()
        }
        counted = self._counted_in_total(nics)
        for field, attr in FIELDS.items():
            counters[key("net", field, TOTAL)] = sum(getattr(nics[nic], attr) for nic in counted)
        return Reading(counters=counters)

    def _counted_in_total(self, nics: dict[str, Any]) -> list[str]:
        known = {nic: self._physical.get(nic) for nic in nics}
        self._physical = {
            nic: self._is_physical(nic) if physical is None else physical
            for nic, physical in known.items()
        }
        physical = [nic for nic, yes in self._physical.items() if yes]
        return physical or list(nics)

    def _is_physical(self, nic: str) -> bool:
        # /sys/class/net/<nic>/device exists for hardware (and a VM's virtio) NICs only
        return os.path.exists(os.path.join(self._sys_net, nic, "device"))
