"""The Flask app factory: one app, one Socket.IO server, one runtime holding the hosts.

Without Redis the runtime holds this machine alone, sampled in this process. With Redis
(``settings.redis``) it holds every host a :class:`~hostpulse.remote.reader.Reader` finds
there, and Socket.IO shares viewers between workers through Redis as its message queue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask_socketio import SocketIO
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hostpulse import credentials
from hostpulse.config import Settings
from hostpulse.local import LocalHost, build_local_host
from hostpulse.web import api, auth, fanout, guard, headers, pages, secret
from hostpulse.web.access import AccessLog
from hostpulse.web.clientaddr import ClientAddress
from hostpulse.web.fleet import Fleet, host_status
from hostpulse.web.live import LiveNamespace
from hostpulse.web.prom import SampleCollector

#: Client events are small; anything larger is refused by Engine.IO before it is parsed.
MAX_MESSAGE_BYTES = 16 * 1024

log = logging.getLogger("hostpulse.web")


@dataclass
class Runtime:
    """What the web layer serves from; kept in ``app.extensions['hostpulse']``."""

    settings: Settings
    #: This machine sampled in this process (None with Redis and no ``sample_local``).
    local: LocalHost | None
    fleet: Fleet
    hosts: dict[str, Any] = field(default_factory=dict)
    reader: Any = None
    publisher: Any = None

    def status_of(self, host) -> str:
        return host_status(host)

    def add_host(self, host) -> None:
        self.hosts[host.id] = host
        self.fleet.add_host(host)

    def start(self) -> None:
        """Start sampling and reading: with the server, not with the first viewer."""
        if self.local is not None:
            self.local.start()
        if self.reader is not None:
            self.reader.start()
        if self.publisher is not None:
            self.publisher.start()
        self.fleet.socketio.start_background_task(self.fleet.run_overview)

    def stop(self) -> None:
        self.fleet.stop()
        if self.publisher is not None:
            self.publisher.stop()
        if self.reader is not None:
            self.reader.stop()
        if self.local is not None:
            self.local.stop()


def create_app(settings: Settings, local: LocalHost | None = None) -> Flask:
    publisher = None
    if settings.redis is None:
        local = local or build_local_host(settings)
    elif settings.sample_local:
        # This machine goes through Redis like any agent, so every worker shows it.
        from hostpulse.agent import build

        local_sampler, publisher = build(settings)
        local = None
    app = Flask(__name__)
    app.config["SECRET_KEY"] = secret.load_or_create(settings.secret_key_file)
    app.json.sort_keys = False
    socketio = SocketIO(
        app,
        async_mode="gevent",
        max_http_buffer_size=MAX_MESSAGE_BYTES,
        logger=False,
        engineio_logger=False,
        message_queue=settings.redis,
    )
    client_address = ClientAddress(settings.trusted_proxies)
    guard.install(socketio, MAX_MESSAGE_BYTES, settings.allowed_origins)
    # After guard: our websocket driver replaces its capped simple-websocket one and applies
    # the same cap (max_http_buffer_size) as each message's first bytes over it arrive.
    outboxes = fanout.install(socketio.server.eio, settings.stall_timeout)
    store = credentials.Store(settings.resolved_auth_file)
    access = auth.install(app, store, client_address)
    default = local.id if local else (publisher.host_id if publisher else None)
    fleet = Fleet(socketio, settings.full_every, default=default, outboxes=outboxes)
    socketio.on_namespace(LiveNamespace(fleet, client_address, access.allow_connect))
    runtime = Runtime(settings, local, fleet)
    if local is not None:
        runtime.add_host(local)
    if settings.redis is not None:
        from hostpulse.remote.reader import Reader

        history_dir = None if settings.memory_only else settings.data_dir / "hosts"
        runtime.reader = Reader(
            settings.redis,
            maxlen=settings.redis_maxlen,
            history_dir=history_dir,
            on_new_host=runtime.add_host,
            process_cmdline=settings.process_cmdline,
        )
        if publisher is not None:
            runtime.publisher = _LocalAgent(local_sampler, publisher)
    app.extensions["hostpulse"] = runtime
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    _add_metrics_route(app, runtime)
    headers.install(app)
    app.wsgi_app = AccessLog(app.wsgi_app, client_address)
    return app


class _LocalAgent:
    """This machine's sampler publishing to Redis from inside a worker."""

    def __init__(self, sampler, publisher) -> None:
        self.sampler, self.publisher = sampler, publisher

    def start(self) -> None:
        self.publisher.start()
        self.sampler.start()

    def stop(self) -> None:
        self.sampler.stop()
        self.publisher.stop()


def _add_metrics_route(app: Flask, runtime: Runtime) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SampleCollector(runtime))
    registry.register(runtime.fleet.fanout_seconds)

    @app.get("/metrics")
    def prometheus_metrics():
        return generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}
