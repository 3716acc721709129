"""The dashboard page and the health check."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify, redirect, render_template, url_for

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    runtime = current_app.extensions["hostpulse"]
    return render_template("index.html", host_id=runtime.local.id)


@bp.get("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico on their own; the page links the SVG.
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.get("/healthz")
def healthz():
    """200 with the age of the last tick; 503 once the sampler missed 3 intervals."""
    sampler = current_app.extensions["hostpulse"].local.sampler
    last = sampler.stats.last_tick_monotonic
    if last is None:
        return jsonify(status="starting", last_tick_age=None), 503
    age = round(time.monotonic() - last, 3)
    healthy = age <= 3 * sampler.interval
    return jsonify(status="ok" if healthy else "stalled", last_tick_age=age), (
        200 if healthy else 503
    )
