"""Small fakes shared by the collector tests."""

from __future__ import annotations

from collections import namedtuple

Part = namedtuple("Part", "device mountpoint fstype opts")
Usage = namedtuple("Usage", "total used free percent")
DiskIO = namedtuple(
    "DiskIO", "read_count write_count read_bytes write_bytes read_time write_time busy_time"
)
NetIO = namedtuple(
    "NetIO",
    "bytes_sent bytes_recv packets_sent packets_recv errin errout dropin dropout",
)
