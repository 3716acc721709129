"""What agents write to Redis and workers read back: key names and entry encoding.

Per host ``<id>``:

- ``hostpulse:samples:<id>`` — a stream, one entry per sample (``t=s``) or facts change
  (``t=f``), field ``d`` holding JSON; capped with ``MAXLEN ~ redis_maxlen``.
- ``hostpulse:host:<id>`` — a hash: ``facts`` (JSON), ``interval``, ``run`` (the agent
  instance), ``conflict`` (JSON, set by an agent that found the id taken).
- ``hostpulse:lease:<id>`` — the run id of the agent publishing this host, with a TTL: a
  second agent with the same id finds it taken.

And ``hostpulse:hosts``, a sorted set of every host id scored by its last publish time, which
workers poll to discover new hosts.
"""

from __future__ import annotations

import json
from typing import Any

from hostpulse.sample import Sample

PREFIX = "hostpulse:"
HOSTS = PREFIX + "hosts"
#: Field marking an entry the agent held back (Redis was away): workers put it in history
#: but do not push it live, so a replayed backlog never floods viewers with old samples.
LATE = "late"
MAX_ID_LENGTH = 128


def stream_key(host_id: str) -> str:
    return f"{PREFIX}samples:{host_id}"


def host_key(host_id: str) -> str:
    return f"{PREFIX}host:{host_id}"


def lease_key(host_id: str) -> str:
    return f"{PREFIX}lease:{host_id}"


def valid_id(host_id: str) -> bool:
    return 0 < len(host_id) <= MAX_ID_LENGTH and not any(c in host_id for c in "/ \t\r\n")


def encode_sample(sample: Sample, run: str) -> dict[str, str]:
    data = {"seq": sample.seq, "ts": sample.ts, "run": run, "values": sample.values}
    return {"t": "s", "d": json.dumps(data, separators=(",", ":"))}


def encode_facts(facts: dict[str, Any]) -> dict[str, str]:
    return {"t": "f", "d": json.dumps(facts, separators=(",", ":"), default=str)}


def is_late(fields: dict) -> bool:
    return LATE.encode() in fields or LATE in fields


def decode(fields: dict) -> tuple[str, Any] | None:
    """``("s", Sample)`` or ``("f", facts)``; None for an entry that is not ours or broken."""
    kind = _text(fields.get(b"t", fields.get("t")))
    raw = fields.get(b"d", fields.get("d"))
    if kind not in ("s", "f") or raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if kind == "f":
        return ("f", data) if isinstance(data, dict) else None
    try:
        values = data["values"]
        if not isinstance(values, dict):
            return None
        return "s", Sample(seq=int(data["seq"]), ts=float(data["ts"]), values=values)
    except (KeyError, TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
