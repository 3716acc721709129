"""The dashboard page and the health check."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, url_for

from hostpulse import hostid

bp = Blueprint("pages", __name__)


def runtime():
    return current_app.extensions["hostpulse"]


@bp.get("/")
def index():
    """One host (no Redis): its dashboard, as always. Hosts that come and go: the overview."""
    if not runtime().discovers_hosts:
        return render_template("index.html", host_id=runtime().default_host, fleet=False)
    return render_template("overview.html")


@bp.get("/host/<host_id>")
def host_page(host_id: str):
    """A host's dashboard, bookmarkable. With Redis, a host not seen yet may still appear."""
    discovers = runtime().discovers_hosts
    if not hostid.is_valid(host_id) or (not discovers and host_id not in runtime().hosts):
        abort(404)
    return render_template("index.html", host_id=host_id, fleet=discovers)


@bp.get("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico on their own; the page links the SVG.
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.get("/healthz")
def healthz():
    """200 with the age of the last tick; 503 once the sampler missed 3 intervals.

    A worker without a sampler of its own (Redis) is healthy while it can read Redis.
    """
    body, healthy = runtime().health()
    return jsonify(body), 200 if healthy else 503
