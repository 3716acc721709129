"""What a viewer of ``/live`` can ask for, carried out: watch a host (its hello, then its
samples), open a panel (which switches that host's on-demand collection), open the overview,
resync, leave. Holds a :class:`~.broadcast.Broadcaster` per host of the one host list, the
:class:`~.viewers.Viewers` and the :class:`~.overview.Overview`; the namespace
(namespace.py) validates what a client sends before calling here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask_socketio import SocketIO

from hostpulse.host import Host, Hosts
from hostpulse.web.live.broadcast import Broadcaster, fanout_histogram
from hostpulse.web.live.hello import hello
from hostpulse.web.live.overview import Overview
from hostpulse.web.live.sender import Sender
from hostpulse.web.live.viewers import Viewers
from hostpulse.web.outbox import Outboxes


class Live:
    def __init__(
        self,
        socketio: SocketIO,
        hosts: Hosts,
        sender: Sender,
        *,
        full_every: int,
        default_host: str | None,
        discovers_hosts: bool = False,
    ) -> None:
        self.socketio = socketio
        self.hosts = hosts
        self.sender = sender
        #: The websocket connections of this worker (web/outbox.py).
        self.outboxes: Outboxes = sender.outboxes
        self.full_every = full_every
        #: The host a viewer that names none watches.
        self.default_host = default_host
        #: Hosts may appear later (Redis): a viewer may wait for one this worker lacks.
        self.discovers_hosts = discovers_hosts
        self.viewers = Viewers()
        self.fanout_seconds = fanout_histogram()
        self.broadcasters: dict[str, Broadcaster] = {}
        self.overview = Overview(hosts, self.viewers, self.sender)
        #: sid -> the seq of the state its last resync answered (a repeat of it is dropped).
        self._resynced: dict[str, int] = {}
        self._unsubscribe: list[Callable[[], None]] = []
        self._unsubscribe.append(hosts.on_added(self._add_host))

    def _add_host(self, host: Host) -> None:
        broadcaster = Broadcaster(
            host, self.viewers, self.sender, self.full_every, self.fanout_seconds
        )
        self.broadcasters[host.id] = broadcaster
        self._unsubscribe += [
            host.feed.subscribe(broadcaster.on_sample),
            host.feed.subscribe_facts(broadcaster.on_facts),
            host.feed.subscribe_tables(broadcaster.on_table),
        ]
        for sid in list(self.viewers.of_host(host.id)):  # they asked before it appeared
            broadcaster.send_hello(sid)

    # --- what viewers ask for ------------------------------------------------------------

    def connect(self, sid: str) -> None:
        """A viewer is connected, watching nothing yet."""
        self.viewers.connect(sid)

    def watch_host(self, sid: str, host_id: str | None) -> None:
        """``sid`` watches ``host_id`` from now on (leaving the one before); its ``hello``.
        A host that cannot appear (no Redis) is an ``error``, and nothing is kept of it."""
        if host_id not in self.broadcasters and host_id is not None and not self.discovers_hosts:
            self.error(sid, "watch", f"no host {host_id[:128]!r} here")
            return
        previous, closed = self.viewers.watch_host(sid, host_id)
        self._release(sid, previous, closed)
        broadcaster = self.broadcasters.get(host_id)
        if broadcaster is None:
            self.sender.send(sid, "hello", hello(host_id, self.full_every))
        else:
            broadcaster.send_hello(sid)

    def watch_overview(self, sid: str, on: bool) -> None:
        self.viewers.watch_overview(sid, on)
        if on:
            self.overview.open(sid)

    def watch_panels(self, sid: str, panels: frozenset[str]) -> None:
        """Open exactly ``panels`` of the host ``sid`` watches; its collection follows."""
        host = self.hosts.get(self.viewers.host_of.get(sid))
        if host is None:
            return
        opened, closed = self.viewers.watch_panels(sid, panels)
        for panel in opened:
            host.want(panel, sid, True)
        self._release(sid, host.id, closed)

    def resync(self, sid: str) -> None:
        """The current state of the host ``sid`` watches, as a full ``sample``; nothing when
        that very state was its last resync's answer (already sent, or on its way)."""
        broadcaster = self.broadcasters.get(self.viewers.host_of.get(sid))
        seq = None if broadcaster is None else broadcaster.feed.seq
        if seq is not None and self._resynced.get(sid) != seq:
            self._resynced[sid] = seq
            self.sender.send(sid, "sample", broadcaster.feed.full())

    def error(self, sid: str, event: str, message: str) -> None:
        self.sender.send(sid, "error", {"event": event, "message": message})

    def leave(self, sid: str) -> None:
        self._resynced.pop(sid, None)
        host_id, panels = self.viewers.leave(sid)
        self._release(sid, host_id, panels)

    def _release(self, sid: str, host_id: str | None, panels: Iterable[str]) -> None:
        """``sid`` no longer wants what these panels of ``host_id`` cost to collect."""
        host = self.hosts.get(host_id)
        if host is not None:
            for panel in panels:
                host.want(panel, sid, False)

    # --- life ----------------------------------------------------------------------------

    def start(self) -> None:
        self.socketio.start_background_task(self.overview.run)

    def stop(self) -> None:
        self.overview.stop()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
