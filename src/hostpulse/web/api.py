"""REST API v1 (docs/API.md): hosts, facts, latest sample, history, process tables. Errors
are JSON."""

from __future__ import annotations

import csv
import io
import math
import time
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from hostpulse import hostid, metrics
from hostpulse.alerts.transition import FIRING, OK, PENDING, RESOLVED
from hostpulse.host import Host

MAX_KEYS = 64
MAX_POINTS = 2000
MAX_STEP = 86400.0
#: Times are epoch seconds (absolute) or seconds before now (zero or negative); anything
#: beyond this either way is no time a history holds (and overflows SQLite's integers).
MAX_TIME = 1e10
#: The parameters of each route; any other is refused by name (a typo must not be ignored).
HISTORY_PARAMETERS = frozenset({"keys", "since", "until", "step", "format"})
HISTORY_FORMATS = ("json", "csv")
ALERTS_PARAMETERS = frozenset({"host", "state", "since", "until"})
ALERT_STATES = (PENDING, FIRING, RESOLVED, OK)
MAX_EVENTS = 500

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class BadRequest(ValueError):
    """A parameter that cannot be used; the message says which and why."""


def runtime():
    return current_app.extensions["hostpulse"]


def _host(host_id: str) -> Host:
    host = runtime().hosts.get(host_id)
    if host is None:
        abort(404, description=f"unknown host {host_id!r}")
    return host


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest):
    return jsonify(error=str(exc)), 400


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return jsonify(error=exc.description or exc.name), exc.code


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _unrouted(exc: HTTPException):
    """A path under /api/ that matches no route (another version too) answers JSON, not
    Flask's HTML page."""
    if request.path == "/api" or request.path.startswith("/api/"):
        if request.url_rule is not None:  # a route answered 404 itself: its reason
            return jsonify(error=exc.description or exc.name), exc.code
        if exc.code == 404 and not request.path.startswith(f"{bp.url_prefix}/"):
            return jsonify(error=f"no API at {request.path[:100]!r}: this is {bp.url_prefix}"), 404
        if exc.code == 404:
            return jsonify(error=f"no such API path: {request.path[:100]!r}"), 404
        return jsonify(error=exc.description or exc.name), exc.code
    return exc.get_response()


@bp.get("/hosts")
def hosts():
    hosts = sorted(runtime().hosts, key=lambda host: host.id)
    return jsonify(hosts=[_summary(host) for host in hosts])


def _summary(host: Host) -> dict[str, Any]:
    latest = host.latest
    return {
        "id": host.id,
        "hostname": host.facts.get("hostname"),
        "status": host.status(),
        "last_seen": None if latest is None else latest.ts,
        "interval": host.interval,
        # A second agent that tried to publish under this id recently (see docs/REDIS.md).
        "conflict": host.conflict,
    }


@bp.get("/hosts/<host_id>")
def host_facts(host_id: str):
    host = _host(host_id)
    return jsonify(id=host.id, status=host.status(), facts=host.facts)


@bp.get("/hosts/<host_id>/sample")
def latest_sample(host_id: str):
    latest = _host(host_id).latest
    if latest is None:
        abort(503, description="no sample yet")
    return jsonify(host=host_id, seq=latest.seq, ts=latest.ts, values=latest.values)


@bp.get("/hosts/<host_id>/history")
def history(host_id: str):
    host = _host(host_id)
    check_parameters(HISTORY_PARAMETERS)
    keys = parse_keys(request.args.get("keys"))
    since = parse_time("since", request.args.get("since"), default=-3600.0)
    until = parse_time("until", request.args.get("until"), default=None)
    step = parse_number("step", request.args.get("step"), default=None)
    if step is not None and not 0 < step <= MAX_STEP:
        raise BadRequest(f"step must be more than 0 and at most {MAX_STEP:g} seconds")
    if until is not None and _absolute(until) <= _absolute(since):
        raise BadRequest("until must be later than since")
    answer = request.args.get("format") or "json"
    if answer not in HISTORY_FORMATS:
        raise BadRequest(f"format must be one of {', '.join(HISTORY_FORMATS)}, got {answer[:40]!r}")
    # A typo must not read as a gap: a key this host never had is an error, not nulls.
    never = host.history.unknown_keys(keys)
    if never:
        abort(404, description=f"host {host_id!r} has no history for key {never[0]!r}")
    result = host.history.query(keys, since=since, until=until, step=step, max_points=MAX_POINTS)
    if answer == "csv":
        return Response(history_csv(keys, result), mimetype="text/csv")
    return jsonify(host=host_id, **result)


@bp.get("/alerts")
def alerts():
    """Alerts firing now and recorded transitions, newest first (docs/ALERTS.md)."""
    check_parameters(ALERTS_PARAMETERS)
    host = request.args.get("host") or None
    if host is not None and not hostid.is_valid(host):
        raise BadRequest(f"host must be a host id ({hostid.RULE}), got {host[:40]!r}")
    state = request.args.get("state") or None
    if state is not None and state not in ALERT_STATES:
        raise BadRequest(f"state must be one of {', '.join(ALERT_STATES)}, got {state[:40]!r}")
    since = parse_time("since", request.args.get("since"), default=None)
    until = parse_time("until", request.args.get("until"), default=None)
    since = None if since is None else _absolute(since)
    until = None if until is None else _absolute(until)
    if since is not None and until is not None and until <= since:
        raise BadRequest("until must be later than since")
    engine = runtime().alerts
    if engine is None:
        return jsonify(firing=[], events=[])
    events = engine.events(host=host, state=state, since=since, until=until, limit=MAX_EVENTS)
    return jsonify(firing=engine.firing(host), events=events)


def history_csv(keys: list[str], result: dict) -> str:
    """The JSON's points as CSV: ts, then avg/min/max per key in the order asked; an empty
    cell for a gap."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["ts", *(f"{k}{s}" for k in keys for s in ("", "_min", "_max"))])
    columns = [result["series"][k][part] for k in keys for part in ("avg", "min", "max")]
    for i, ts in enumerate(result["ts"]):
        writer.writerow([ts, *("" if c[i] is None else repr(c[i]) for c in columns)])
    return out.getvalue()


@bp.get("/hosts/<host_id>/keys")
def keys(host_id: str):
    """Every key with history held, its unit and the span held."""
    host = _host(host_id)
    check_parameters(frozenset())
    ranges = host.history.key_ranges()
    return jsonify(
        host=host_id,
        keys=[
            {"key": k, "unit": metrics.unit_of(k), "first": first, "last": last}
            for k, (first, last) in sorted(ranges.items())
        ],
    )


PROCESSES_PARAMETERS = frozenset({"at"})


@bp.get("/hosts/<host_id>/processes")
def processes_at(host_id: str):
    """The top-process table stored nearest at or before ``at`` (docs/API.md)."""
    host = _host(host_id)
    check_parameters(PROCESSES_PARAMETERS)
    at = parse_time("at", request.args.get("at"), default=None)
    if at is None:
        raise BadRequest("at is required: epoch seconds, or seconds before now (negative)")
    when = _absolute(at)
    moment = host.process_history.at(when)
    if moment is None:  # answered here: abort(404) would reach _unrouted's message
        return jsonify(error=f"no process table of host {host_id!r} at or before {when:.3f}"), 404
    return jsonify(host=host_id, ts=moment.ts, rows=list(moment.rows))


def check_parameters(known: frozenset[str]) -> None:
    """Refuse a parameter the route does not take, or one given twice, by name."""
    for name in request.args:
        if name not in known:
            raise BadRequest(
                f"unknown parameter {name[:40]!r} (this takes "
                f"{', '.join(sorted(known)) or 'no parameters'})"
            )
        if len(request.args.getlist(name)) > 1:
            raise BadRequest(f"{name[:40]} is given more than once")


def parse_keys(raw: str | None) -> list[str]:
    keys = [k.strip() for k in (raw or "").split(",") if k.strip()]
    if not keys:
        raise BadRequest("keys is required: a comma-separated list such as cpu.total,mem.percent")
    if len(keys) > MAX_KEYS:
        raise BadRequest(f"at most {MAX_KEYS} keys per request, got {len(keys)}")
    bad = [k for k in keys if not metrics.is_valid(k)]
    if bad:
        raise BadRequest(f"not a metric key: {bad[0][:80]!r} (expected family.field)")
    return keys


def parse_number(name: str, raw: str | None, default: float | None) -> float | None:
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number, got {raw[:40]!r}") from None
    if not math.isfinite(value):
        raise BadRequest(f"{name} must be a finite number")
    return value


def parse_time(name: str, raw: str | None, default: float | None) -> float | None:
    value = parse_number(name, raw, default)
    if value is not None and not -MAX_TIME <= value <= MAX_TIME:
        raise BadRequest(
            f"{name} must be epoch seconds or seconds before now (negative), "
            f"within ±{MAX_TIME:g}, got {raw[:40]!r}"
        )
    return value


def _absolute(t: float) -> float:
    """Negative times are relative to now; compare them on one scale."""
    return time.time() + t if t <= 0 else t
