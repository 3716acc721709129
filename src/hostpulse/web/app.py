"""The Flask app factory: one app, one Socket.IO server, one runtime holding the host."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from flask import Flask
from flask_socketio import SocketIO
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hostpulse import credentials
from hostpulse.config import Settings
from hostpulse.local import LocalHost, build_local_host
from hostpulse.web import api, auth, guard, headers, pages, secret
from hostpulse.web.access import AccessLog
from hostpulse.web.clientaddr import ClientAddress
from hostpulse.web.live import Broadcaster, LiveNamespace
from hostpulse.web.prom import SampleCollector

#: Client events are small; anything larger is refused by Engine.IO before it is parsed.
MAX_MESSAGE_BYTES = 16 * 1024

log = logging.getLogger("hostpulse.web")


@dataclass
class Runtime:
    """What the web layer serves from; kept in ``app.extensions['hostpulse']``."""

    settings: Settings
    local: LocalHost
    broadcaster: Broadcaster
    hosts: dict[str, LocalHost] = field(default_factory=dict)
    _unsubscribe: list = field(default_factory=list)

    def status_of(self, host: LocalHost) -> str:
        last = host.sampler.stats.last_tick_monotonic
        if last is None:
            return "starting"
        late = time.monotonic() - last
        return "online" if late <= 3 * host.sampler.interval else "stale"

    def start(self) -> None:
        """Start sampling: with the server, not with the first viewer."""
        sampler = self.local.sampler
        self._unsubscribe = [
            sampler.subscribe(self.broadcaster.on_sample),
            sampler.subscribe_facts(self.broadcaster.on_facts),
        ]
        self.local.start()

    def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self.local.stop()


def create_app(settings: Settings, local: LocalHost | None = None) -> Flask:
    local = local or build_local_host(settings)
    app = Flask(__name__)
    app.config["SECRET_KEY"] = secret.load_or_create(settings.data_dir)
    app.json.sort_keys = False
    socketio = SocketIO(
        app,
        async_mode="gevent",
        max_http_buffer_size=MAX_MESSAGE_BYTES,
        logger=False,
        engineio_logger=False,
    )
    client_address = ClientAddress(settings.trusted_proxies)
    guard.install(socketio, MAX_MESSAGE_BYTES, settings.allowed_origins)
    store = credentials.Store(settings.resolved_auth_file)
    access = auth.install(app, store, client_address)
    broadcaster = Broadcaster(socketio, local, settings.full_every)
    socketio.on_namespace(LiveNamespace(broadcaster, client_address, access.allow_connect))
    runtime = Runtime(settings, local, broadcaster, hosts={local.id: local})
    app.extensions["hostpulse"] = runtime
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    _add_metrics_route(app, runtime)
    headers.install(app)
    app.wsgi_app = AccessLog(app.wsgi_app, client_address)
    return app


def _add_metrics_route(app: Flask, runtime: Runtime) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SampleCollector(runtime))

    @app.get("/metrics")
    def prometheus_metrics():
        return generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}
