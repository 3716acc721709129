"""What a notification says: a Transition put into a title and a plain-text body.

The body answers what someone paged at night asks first: which host, which rule, the value
and for how long, the rule's own words (``detail``), who was using the machine (the top
processes at the moment it fired) and where to look (a link to the host page pinned to the
episode's window, the link shape of the history explorer: ``/host/<id>?from=&to=``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hostpulse import metrics
from hostpulse.alerts.transition import CRITICAL, FIRING, RESOLVED, Transition

#: The link shows this much before the episode began and after the transition.
LINK_MARGIN = 900
TOP_PROCESSES = 5

#: Apprise's notification types (its ``NotifyType`` values): services colour them.
TYPE_FAILURE, TYPE_WARNING, TYPE_SUCCESS, TYPE_INFO = "failure", "warning", "success", "info"


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    #: One of the TYPE_* values.
    kind: str


def compose(
    t: Transition, public_url: str | None, repeat: int = 0, now: float | None = None
) -> Message:
    """The message for a FIRING (``repeat`` > 0: its n-th repeat, sent at ``now``) or
    RESOLVED transition."""
    where = t.host if t.instance in ("", t.host) else f"{t.host} {t.instance}"
    if t.state == RESOLVED:
        title = f"[RESOLVED] {t.rule} on {where}"
        lines = [
            f"{t.rule} on {t.host} resolved after {duration(t.ts - t.since)}.",
            f"{_what(t)} is now {_value(t)} ({_clock(t.ts)}).",
        ]
        kind = TYPE_SUCCESS
    else:
        label = "CRITICAL" if t.severity == CRITICAL else "WARNING"
        again = f" (still firing, repeat {repeat})" if repeat else ""
        title = f"[{label}] {t.rule} on {where}{again}"
        held = duration((now if repeat and now else t.ts) - t.since)
        lines = [
            f"{t.rule} on {t.host} is firing ({t.severity}).",
            f"{_what(t)} is {_value(t)}, for {held} (since {_clock(t.since)}).",
        ]
        kind = TYPE_FAILURE if t.severity == CRITICAL else TYPE_WARNING
    if t.detail:
        lines.append(t.detail)
    if t.state == FIRING and t.processes:
        lines += ["", f"Top processes at {_clock(t.ts)}:"]
        lines += [process_line(row) for row in t.processes[:TOP_PROCESSES]]
    link = window_link(public_url, t)
    if link:
        lines += ["", link]
    return Message(title, "\n".join(lines), kind)


def window_link(public_url: str | None, t: Transition) -> str | None:
    """The host page pinned to the episode: from 15 min before it began to 15 min after
    this transition; None without a public URL."""
    if not public_url:
        return None
    start, end = int(t.since - LINK_MARGIN), int(t.ts + LINK_MARGIN)
    return f"{public_url.rstrip('/')}/host/{quote(t.host, safe='')}?from={start}&to={end}"


def process_line(row: dict[str, Any]) -> str:
    cpu = row.get("cpu")
    rss = row.get("rss")
    cpu_text = f"{cpu:.0f} % CPU" if isinstance(cpu, int | float) else "? % CPU"
    rss_text = metrics.human_bytes(rss) if isinstance(rss, int | float) else "?"
    user = f" ({row['user']})" if row.get("user") else ""
    cmd = f"  {row['cmd']}" if row.get("cmd") else ""
    return f"  {row.get('pid', '?')} {row.get('name', '?')}{user}: {cpu_text}, {rss_text}{cmd}"


def duration(seconds: float) -> str:
    """4 -> '4 s', 312 -> '5 min 12 s', 7300 -> '2 h 1 min', 200000 -> '2 d 7 h'."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min" + (f" {s % 60} s" if s % 60 else "")
    if s < 86400:
        return f"{s // 3600} h" + (f" {s % 3600 // 60} min" if s % 3600 // 60 else "")
    return f"{s // 86400} d" + (f" {s % 86400 // 3600} h" if s % 86400 // 3600 else "")


def _what(t: Transition) -> str:
    return t.instance if t.instance and t.instance != t.host else "the host"


def _value(t: Transition) -> str:
    if t.value is None:
        return "unknown"
    if metrics.is_valid(t.instance):
        return metrics.human(t.instance, t.value)
    return f"{t.value:g}"


def _clock(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))
