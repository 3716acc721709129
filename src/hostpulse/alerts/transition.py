"""A Transition: one change of an alert's state, what evaluation hands to notification.

It is the contract between the two halves of alerting: ``hostpulse.alerts`` decides when an
alert changes state and records it; ``hostpulse.notify`` tells people about it, exactly once.
Its ``id`` is the same on every worker that evaluates the same samples, so workers sharing a
Redis can agree on who sends it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

#: The states an alert moves through; a notification is sent for FIRING and RESOLVED only.
OK, PENDING, FIRING, RESOLVED = "ok", "pending", "firing", "resolved"
WARNING, CRITICAL = "warning", "critical"


@dataclass(frozen=True, slots=True)
class Transition:
    #: The host's id (hostid rule).
    host: str
    #: The rule's ``name`` from the config.
    rule: str
    #: What the rule matched: the metric key (``fs./home.percent``), or the host for rules
    #: about the host itself (``offline``).
    instance: str
    #: The new state: PENDING, FIRING or RESOLVED (and OK when a pending alert clears).
    state: str
    severity: str
    #: When it happened (the sample's time, epoch seconds).
    ts: float
    #: The value that made it happen; None when the value is unknown (the host is offline).
    value: float | None
    #: When the alert began: the first sample over the threshold (the same for its FIRING
    #: and RESOLVED), so a link can show the whole episode.
    since: float
    #: The rule's own words for this moment ("full in about 6 h, at 21:40"), or "".
    detail: str = ""
    #: The top processes at ``ts`` when known (rows: pid, name, user, cpu, rss, cmd).
    processes: tuple[dict[str, Any], ...] = field(default=(), compare=False)

    @property
    def id(self) -> str:
        """The same for the same transition on every worker: host, rule, instance, state and
        the episode's start identify it."""
        raw = f"{self.host}\0{self.rule}\0{self.instance}\0{self.state}\0{self.since:.3f}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]
