"""Who is connected to this worker and what each one watches: one host (or none yet), that
host's panels, the overview. Bookkeeping only: nothing here sends or collects anything.

A viewer may watch a host this worker does not know yet (with Redis, an agent that has not
published): it is kept with that id and becomes one of the host's viewers once it appears.
"""

from __future__ import annotations

#: Panels of a host page that cost something to feed, fed only while watched.
PANELS = frozenset({"processes"})
_NOBODY: frozenset[str] = frozenset()


class Viewers:
    def __init__(self) -> None:
        #: sid -> the host id it watches (None: none), for every connected viewer.
        self.host_of: dict[str, str | None] = {}
        #: sid -> the panels it has open (of its host).
        self.panels_of: dict[str, frozenset[str]] = {}
        #: host id -> the sids watching it.
        self._of_host: dict[str, set[str]] = {}
        #: sids watching the overview.
        self.overview: set[str] = set()
        #: Changes whenever anyone comes, goes or watches something else.
        self.version = 0

    def __len__(self) -> int:
        return len(self.host_of)

    def of_host(self, host_id: str) -> set[str] | frozenset[str]:
        # Asked by every host's broadcaster every tick: no new empty set each time.
        return self._of_host.get(host_id, _NOBODY)

    def with_panel(self, host_id: str, panel: str) -> set[str]:
        return {sid for sid in self.of_host(host_id) if panel in self.panels_of.get(sid, ())}

    def connect(self, sid: str) -> None:
        self.host_of.setdefault(sid, None)

    def watch_host(self, sid: str, host_id: str | None) -> tuple[str | None, frozenset[str]]:
        """``sid`` now watches ``host_id``; (the host it watched before, the panels it had
        open there, now closed)."""
        previous, closed = self._drop_host(sid)
        self.host_of[sid] = host_id
        if host_id is not None:
            self._of_host.setdefault(host_id, set()).add(sid)
        self.version += 1
        return previous, closed

    def watch_panels(self, sid: str, panels: frozenset[str]) -> tuple[set[str], set[str]]:
        """``sid`` now has exactly ``panels`` open; (opened, closed)."""
        before = self.panels_of.get(sid, frozenset())
        if panels:
            self.panels_of[sid] = panels
        else:
            self.panels_of.pop(sid, None)
        self.version += 1
        return set(panels - before), set(before - panels)

    def watch_overview(self, sid: str, on: bool) -> None:
        self.host_of.setdefault(sid, None)
        (self.overview.add if on else self.overview.discard)(sid)
        self.version += 1

    def leave(self, sid: str) -> tuple[str | None, frozenset[str]]:
        """``sid`` is gone; (the host it watched, the panels it had open)."""
        previous, closed = self._drop_host(sid)
        self.host_of.pop(sid, None)
        self.overview.discard(sid)
        self.version += 1
        return previous, closed

    def _drop_host(self, sid: str) -> tuple[str | None, frozenset[str]]:
        previous = self.host_of.get(sid)
        closed = self.panels_of.pop(sid, frozenset())
        if previous is not None:
            watchers = self._of_host.get(previous)
            if watchers is not None:
                watchers.discard(sid)
                if not watchers:
                    del self._of_host[previous]
        return previous, closed
