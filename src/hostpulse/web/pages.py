"""The dashboard page and the health check."""

from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, url_for

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    """One host without Redis: its dashboard, as always. With Redis: the overview."""
    runtime = current_app.extensions["hostpulse"]
    if runtime.settings.redis is None:
        return render_template("index.html", host_id=runtime.local.id, fleet=False)
    return render_template("overview.html")


@bp.get("/host/<host_id>")
def host_page(host_id: str):
    """A host's dashboard, bookmarkable. With Redis, a host not seen yet may still appear."""
    runtime = current_app.extensions["hostpulse"]
    if runtime.settings.redis is None and host_id not in runtime.hosts:
        abort(404)
    if len(host_id) > 128 or "/" in host_id:
        abort(404)
    return render_template("index.html", host_id=host_id, fleet=runtime.settings.redis is not None)


@bp.get("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico on their own; the page links the SVG.
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.get("/healthz")
def healthz():
    """200 with the age of the last tick; 503 once the sampler missed 3 intervals.

    A worker without a sampler of its own (Redis) is healthy while it can read Redis.
    """
    runtime = current_app.extensions["hostpulse"]
    if runtime.local is None:
        connected = runtime.reader is not None and runtime.reader.connected
        body = {"status": "ok" if connected else "redis unreachable", "hosts": len(runtime.hosts)}
        return jsonify(body), 200 if connected else 503
    sampler = runtime.local.sampler
    last = sampler.stats.last_tick_monotonic
    if last is None:
        return jsonify(status="starting", last_tick_age=None), 503
    age = round(time.monotonic() - last, 3)
    healthy = age <= 3 * sampler.interval
    return jsonify(status="ok" if healthy else "stalled", last_tick_age=age), (
        200 if healthy else 503
    )
