"""Network interface counters: bytes, packets, errors and drops, per interface and summed.

Counters are cumulative; the sampler derives the per-second rates the field names promise.
The loopback interface is skipped: local traffic is not network load. ``net.total.*`` sums
every other interface, so traffic crossing a bridge and its members is counted on each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from hostpulse.collect import Reading
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


class NetworkCollector:
    name = "network"

    def __init__(self, io_counters: Callable[..., dict[str, Any]] = psutil.net_io_counters):
        self._io_counters = io_counters

    def read(self) -> Reading:
        # nowrap=False: psutil's wrap fix-up keeps module-level state; the sampler already
        # turns a counter that went backwards into "unknown" for one tick.
        per_nic = self._io_counters(pernic=True, nowrap=False) or {}
        counters: dict[str, float] = {}
        totals = dict.fromkeys(FIELDS, 0)
        for nic, io in per_nic.items():
            if nic in LOOPBACK:
                continue
            for field, attr in FIELDS.items():
                value = getattr(io, attr)
                counters[key("net", field, nic)] = value
                totals[field] += value
        for field, value in totals.items():
            counters[key("net", field, TOTAL)] = value
        return Reading(counters=counters)
