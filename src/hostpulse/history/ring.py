"""The 1 s tier in memory: one slot per second for the last hour, overwritten in a circle."""

from __future__ import annotations

from array import array
from collections.abc import Iterator


class Ring:
    def __init__(self, size: int) -> None:
        self.size = size
        # Which second each position holds (-1: never written): a position still holding a
        # second from an earlier lap is stale, which is how gaps stay gaps.
        self._slot = array("q", [-1]) * size
        self._layout = array("l", [0]) * size
        self._rows: list[array | None] = [None] * size

    def put(self, slot: int, layout: int, row: array) -> None:
        i = slot % self.size
        self._slot[i] = slot
        self._layout[i] = layout
        self._rows[i] = row

    def range(self, start: int, end: int) -> Iterator[tuple[int, int, array]]:
        """(slot, layout, row) for each stored second in [start, end), oldest first."""
        for slot in range(max(start, end - self.size), end):
            i = slot % self.size
            if self._slot[i] == slot:
                yield slot, self._layout[i], self._rows[i]  # type: ignore[misc]
