"""Layouts: which key sits at which position of a stored row.

Key sets change over time (an interface appears, a disk is unplugged), so a row does not
carry its keys; it carries the id of its layout, an ordered key tuple stored once. A sampler
builds its dict in the same order every tick, so a layout usually lives for hours.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

from hostpulse.history.aggregate import NAN


class Layouts:
    def __init__(self) -> None:
        self._ids: dict[tuple[str, ...], int] = {}
        self._keys: dict[int, tuple[str, ...]] = {}
        self._index: dict[int, dict[str, int]] = {}
        #: Every key of every layout, kept as layouts come (asked on each history request).
        self._known: set[str] = set()
        #: Layouts created since the last write to SQLite, as (id, keys).
        self.unsaved: list[tuple[int, tuple[str, ...]]] = []

    def id_for(self, keys: tuple[str, ...]) -> int:
        """The id of this ordered key tuple, created (and queued for saving) when new."""
        found = self._ids.get(keys)
        if found is None:
            found = max(self._keys, default=0) + 1
            self.load(found, keys)
            self.unsaved.append((found, keys))
        return found

    def load(self, layout: int, keys: Iterable[str]) -> None:
        keys = tuple(keys)
        self._ids.setdefault(keys, layout)
        self._keys[layout] = keys
        self._index[layout] = {k: i for i, k in enumerate(keys)}
        self._known.update(keys)

    def index(self, layout: int) -> dict[str, int]:
        """key -> position for one layout; an unknown layout has no keys."""
        return self._index.get(layout, {})

    def ids(self) -> list[int]:
        return list(self._keys)

    def keys_of(self, layout: int) -> tuple[str, ...]:
        return self._keys.get(layout, ())

    def all_keys(self) -> set[str]:
        """Every key of every layout (a copy)."""
        return set(self._known)

    def unknown(self, keys: Iterable[str]) -> list[str]:
        """Those of ``keys`` that no layout has."""
        return [k for k in keys if k not in self._known]

    def union(self, layouts: Iterable[int]) -> int:
        """A layout holding every key of ``layouts``, in order of first appearance."""
        merged: dict[str, None] = {}
        for layout in sorted(layouts):
            merged.update(dict.fromkeys(self._keys[layout]))
        return self.id_for(tuple(merged))

    def remap(self, row: array, source: int, target: int) -> array:
        """``row`` (in layout ``source``) rewritten in layout ``target``, NaN where absent."""
        index = self._index[source]
        return array("f", [row[index[k]] if k in index else NAN for k in self._keys[target]])
