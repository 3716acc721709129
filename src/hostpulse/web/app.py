"""The Flask app factory: Flask and Socket.IO over a :class:`~hostpulse.runtime.Runtime`.

``create_app(settings, runtime)`` builds the web side only: the pages, the REST API,
``/metrics``, login, and the live layer over the runtime's one list of hosts. What samples or
reads those hosts was built before (hostpulse/runtime.py); with Redis, Socket.IO shares
viewers between workers through it as its message queue.
"""

from __future__ import annotations

from flask import Flask
from flask_socketio import SocketIO
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hostpulse import credentials
from hostpulse.config import Settings
from hostpulse.runtime import Runtime
from hostpulse.web import api, assets, auth, driver, guard, headers, pages, polling, revoked, secret
from hostpulse.web.access import AccessLog
from hostpulse.web.clientaddr import ClientAddress
from hostpulse.web.connections import Connections, open_files_limit, total_for
from hostpulse.web.hosts import AllowedHosts, HostCheck
from hostpulse.web.live.live import Live
from hostpulse.web.live.namespace import LiveNamespace
from hostpulse.web.live.sender import Sender
from hostpulse.web.prom import AlertCollector, NotifyCollector, RedisCollector, SampleCollector
from hostpulse.web.revoked import RevokedSessions

#: Client events are small; anything larger is refused by Engine.IO before it is parsed.
MAX_MESSAGE_BYTES = 16 * 1024
#: Where the app keeps what it serves from (``app.extensions``).
RUNTIME = "hostpulse"
LIVE = "hostpulse.live"
CONNECTIONS = "hostpulse.connections"


def create_app(settings: Settings, runtime: Runtime) -> Flask:
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
    connections = Connections(
        total_for(open_files_limit(), settings.max_connections),
        settings.max_connections_per_client,
        exempt=client_address.is_trusted,
    )
    access = auth.install(
        app,
        credentials.Store(settings.resolved_auth_file),
        client_address,
        RevokedSessions(settings.resolved_credentials_dir / revoked.FILENAME),
    )
    polling.install(socketio.server, app, access)  # inside guard's size check: installed first
    guard.install(socketio, MAX_MESSAGE_BYTES, settings.allowed_origins)
    outboxes = driver.install(socketio.server.eio, settings.stall_timeout)
    live = Live(
        socketio,
        runtime.hosts,
        Sender(socketio, outboxes),
        full_every=settings.full_every,
        default_host=runtime.default_host,
        discovers_hosts=runtime.discovers_hosts,
    )
    socketio.on_namespace(LiveNamespace(live, client_address, access.allow_connect))
    app.extensions[RUNTIME] = runtime
    app.extensions[LIVE] = live
    app.extensions[CONNECTIONS] = connections
    assets.install(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    _add_metrics_route(app, runtime, live, connections)
    headers.install(app)
    allowed = AllowedHosts(settings.bind, settings.allowed_hosts, runtime.machine_names)
    app.wsgi_app = AccessLog(HostCheck(app.wsgi_app, allowed), client_address)
    return app


def _add_metrics_route(app: Flask, runtime: Runtime, live: Live, connections: Connections) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SampleCollector(runtime.hosts, live, connections))
    if runtime.reader is not None:
        registry.register(RedisCollector(runtime.reader.boundary))
    if runtime.notifier is not None:
        registry.register(NotifyCollector(runtime.notifier))
    if runtime.alerts is not None:
        registry.register(AlertCollector(runtime.alerts))
    registry.register(live.fanout_seconds)

    @app.get("/metrics")
    def prometheus_metrics():
        return generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}
