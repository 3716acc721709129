"""What one connection may send: a token bucket of frames (or requests) and one of bytes.

A client that keeps within ``rate`` a second, with bursts up to ``burst``, never notices;
one that floods is over budget within a fraction of a second and its connection is closed
(web/driver.py for websockets, web/server.py for HTTP keep-alive), so no client can make the
server do more than a bounded amount of work for it.
"""

from __future__ import annotations

import time

#: What a real page sends is a few events on each click and a pong every 25 s; a hundred
#: frames at once and 20 a second sustained leave it plenty of room.
FRAMES_PER_SECOND = 20.0
FRAME_BURST = 100.0
#: Bytes: one message may be up to MAX_MESSAGE_BYTES (16 KiB); four of them at once.
BYTES_PER_SECOND = 16 * 1024.0
BYTE_BURST = 64 * 1024.0


class InputBudget:
    """Two token buckets in one object (a viewer holds one for its whole life)."""

    __slots__ = ("at", "byte_burst", "byte_rate", "bytes", "frame_burst", "frame_rate", "frames")

    def __init__(
        self,
        frame_rate: float = FRAMES_PER_SECOND,
        frame_burst: float = FRAME_BURST,
        byte_rate: float = BYTES_PER_SECOND,
        byte_burst: float = BYTE_BURST,
        now: float | None = None,
    ) -> None:
        self.frame_rate, self.frame_burst, self.frames = frame_rate, frame_burst, frame_burst
        self.byte_rate, self.byte_burst, self.bytes = byte_rate, byte_burst, byte_burst
        self.at = time.monotonic() if now is None else now

    def spend(self, frames: int, nbytes: int, now: float | None = None) -> bool:
        """Take ``frames`` and ``nbytes`` from the buckets; False, taking nothing, when
        either does not hold that much (a refusal costs nothing: once a flood stops, the
        budget is back within ``burst / rate`` seconds)."""
        now = time.monotonic() if now is None else now
        elapsed = max(0.0, now - self.at)
        self.at = now
        self.frames = min(self.frame_burst, self.frames + elapsed * self.frame_rate)
        self.bytes = min(self.byte_burst, self.bytes + elapsed * self.byte_rate)
        if frames > self.frames or nbytes > self.bytes:
            return False
        self.frames -= frames
        self.bytes -= nbytes
        return True

    def describe(self) -> str:
        return (
            f"{self.frame_rate:g} frames/s (burst {self.frame_burst:g}), "
            f"{self.byte_rate / 1024:g} KiB/s (burst {self.byte_burst / 1024:g} KiB)"
        )
