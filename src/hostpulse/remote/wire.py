"""What agents write to Redis and workers read back: key names and entry encoding.

Per host ``<id>``:

- ``hostpulse:samples:<id>`` — a stream, one entry per sample (``t=s``), facts change
  (``t=f``) or top-process table (``t=p``, every 10 s: collect/topprocs.py), field ``d``
  holding JSON; capped with ``MAXLEN ~ redis_maxlen``.
- ``hostpulse:host:<id>`` — a hash: ``facts`` (JSON), ``interval``, ``run`` (the agent
  instance), ``conflict`` (JSON, set by an agent that found the id taken).
- ``hostpulse:lease:<id>`` — the run id of the agent publishing this host, with a TTL: a
  second agent with the same id finds it taken.

And ``hostpulse:hosts``, a sorted set of every host id scored by its last publish time, which
workers poll to discover new hosts.

On-demand tables (``processes``), per host and table:

- ``hostpulse:want:<table>:<id>`` — set with a TTL (``want_ttl_ms``) by every worker that has
  a viewer watching the table, refreshed while it does: the agent collects the table only while
  the key exists, so a crashed worker stops the collecting by simply expiring.
- ``hostpulse:<table>:<id>`` — a stream of the tables the agent read, field ``d`` holding
  JSON; at most ``TABLE_MAXLEN`` entries, and the whole key expires ``want_ttl_ms`` after the
  last one: it holds only what is current, never history.
"""

from __future__ import annotations

import json
from typing import Any

from hostpulse.collect.processes import ROW_LISTS
from hostpulse.sample import Sample, Table

PREFIX = "hostpulse:"
HOSTS = PREFIX + "hosts"
#: Field marking an entry the agent held back (Redis was away): workers put it in history
#: but do not push it live, so a replayed backlog never floods viewers with old samples.
LATE = "late"
#: The tables an agent collects only while a worker wants them.
ON_DEMAND = ("processes",)
#: Entries kept in a table's stream: enough for a worker to find the newest, no history.
TABLE_MAXLEN = 3
#: A want key (and a table stream) outlives this many intervals, at least WANT_MIN seconds.
WANT_INTERVALS = 4
WANT_MIN = 4.0
#: Rows accepted per list of a processes table (an agent sends 25).
MAX_ROWS = 100


def stream_key(host_id: str) -> str:
    return f"{PREFIX}samples:{host_id}"


def host_key(host_id: str) -> str:
    return f"{PREFIX}host:{host_id}"


def lease_key(host_id: str) -> str:
    return f"{PREFIX}lease:{host_id}"


def want_key(host_id: str, table: str) -> str:
    return f"{PREFIX}want:{table}:{host_id}"


def table_key(host_id: str, table: str) -> str:
    return f"{PREFIX}{table}:{host_id}"


def alert_key(host_id: str, rule: str, instance: str) -> str:
    """An alert episode's start, shared by the workers (alerts/shared.py)."""
    return f"{PREFIX}alert:{host_id}\0{rule}\0{instance}"


def want_ttl_ms(interval: float) -> int:
    return int(1000 * max(WANT_MIN, WANT_INTERVALS * interval))


def encode_sample(sample: Sample, run: str) -> dict[str, str]:
    data = {"seq": sample.seq, "ts": sample.ts, "run": run, "values": sample.values}
    return {"t": "s", "d": json.dumps(data, separators=(",", ":"))}


def encode_facts(facts: dict[str, Any]) -> dict[str, str]:
    return {"t": "f", "d": json.dumps(facts, separators=(",", ":"), default=str)}


def encode_top(ts: float, rows: list[dict[str, Any]]) -> dict[str, str]:
    """A top-process table for the history (``t=p``): ``{"ts", "rows"}``."""
    return {"t": "p", "d": json.dumps({"ts": ts, "rows": rows}, separators=(",", ":"))}


def encode_table(table: Table) -> dict[str, str]:
    data = {"seq": table.seq, "ts": table.ts, **table.data}
    return {"d": json.dumps(data, separators=(",", ":"))}


def decode_table(name: str, fields: dict) -> Table | None:
    """A ``processes`` table as the agent read it; None for an entry that is not one."""
    try:
        data = json.loads(fields.get(b"d", fields.get("d")))
        rows = {k: list(data[k][:MAX_ROWS]) for k in ROW_LISTS}  # rows: remote/inbound.py
        return Table(
            name, int(data["seq"]), float(data["ts"]), {"count": int(data["count"]), **rows}
        )
    except (KeyError, TypeError, ValueError):
        return None


def is_late(fields: dict) -> bool:
    return LATE.encode() in fields or LATE in fields


def decode(fields: dict) -> tuple[str, Any] | None:
    """``("s", Sample)``, ``("f", facts)`` or ``("p", top-process table)``; None for an entry
    that is not ours or broken. What they hold is checked by remote/inbound.py."""
    kind = _text(fields.get(b"t", fields.get("t")))
    raw = fields.get(b"d", fields.get("d"))
    if kind not in ("s", "f", "p") or raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if kind in ("f", "p"):
        return (kind, data) if isinstance(data, dict) else None
    try:
        values = data["values"]
        if not isinstance(values, dict):
            return None
        return "s", Sample(seq=int(data["seq"]), ts=float(data["ts"]), values=values)
    except (KeyError, TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
