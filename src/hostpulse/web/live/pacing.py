"""When the overview message goes out: shortly after new samples, at most once a tick.

A free-running timer makes every sample wait for the next tick, half a tick on average even
when a single host changed. Instead, the first sample after a message opens a short
coalescing window (samples arriving together ride in one message), and a message is never
sent sooner than a tick after the previous one, so the protocol's "one overview message per
tick, not one per host" holds however many hosts publish. With nothing new the overview is
still looked at once a tick, so status changes (stale, offline) go out without samples.

Pure bookkeeping on times the caller passes in (monotonic seconds), so it is testable
without clocks or greenlets.
"""

from __future__ import annotations

import math


class Pacer:
    def __init__(self, tick: float, coalesce: float) -> None:
        self.tick = tick
        self.coalesce = coalesce
        self._last_sent = -math.inf
        self._last_check = -math.inf
        self._pending_since: float | None = None

    def changed(self, now: float) -> bool:
        """A new sample arrived; True when it opens a window (the caller wakes its loop)."""
        if self._pending_since is not None:
            return False
        self._pending_since = now
        return True

    def due(self) -> float:
        """When the overview should next be built (and sent, if anything changed)."""
        not_before = self._last_sent + self.tick
        if self._pending_since is None:
            return max(not_before, self._last_check + self.tick)
        return max(not_before, self._pending_since + self.coalesce)

    def done(self, started: float, sent: bool) -> None:
        """The overview was built from ``started`` on; ``sent`` when a message went out.

        A sample that arrived after ``started`` may have missed this message: its window
        stays open."""
        self._last_check = started
        if self._pending_since is not None and self._pending_since <= started:
            self._pending_since = None
        if sent:
            self._last_sent = started
