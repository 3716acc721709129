"""Fan-out state: the latest sample of each host, as the wire sees it.

A :class:`HostFeed` turns each sample into the payload of one ``sample`` event: values
rounded to wire precision, only those that changed since the previous tick, plus the keys that
disappeared. Every ``full_every`` ticks, and after any tick it did not see, it sends a full
sample instead, so a viewer's state can never drift. The payload is built once per tick,
whatever the number of viewers; the live layer (web/live/) sends the same bytes to all.
"""

from __future__ import annotations

import math
from typing import Any

from hostpulse import metrics
from hostpulse.metrics import Value
from hostpulse.sample import Sample

#: Decimal places on the wire, by unit. Finer digits are noise that would defeat the deltas.
_PLACES = {"%": 1, "": 2, "°C": 1, "rpm": 0, "B": 0, "B/s": 0, "/s": 1, "W": 1, "MHz": 0, "s": 0}
#: Bytes and byte rates keep this many significant digits (whole numbers): the page shows at
#: most three ("426 MiB", "1.2 GB/s"), and a few KiB of memory or disk churn would otherwise
#: put every byte counter in every delta.
BYTE_DIGITS = 4
_SIGNIFICANT = {"B", "B/s"}
_SIG_FROM = 10**BYTE_DIGITS


def _significant(value: float) -> int:
    if -_SIG_FROM < value < _SIG_FROM:
        return round(value)
    places = BYTE_DIGITS - 1 - math.floor(math.log10(abs(value)))
    return int(round(value, places))


class WirePrecision:
    """Rounds values by their key's unit; the unit of each key is worked out once."""

    def __init__(self) -> None:
        self._places: dict[str, int | None] = {}

    def __call__(self, key: str, value: Value) -> Value:
        if value is None:
            return None
        try:
            places = self._places[key]
        except KeyError:
            unit = metrics.unit_of(key)
            places = self._places[key] = None if unit in _SIGNIFICANT else _PLACES.get(unit, 2)
        if places is None:
            return _significant(value)
        if places == 0:
            return round(value)
        return round(value, places)


class HostFeed:
    def __init__(self, host_id: str, full_every: int = 60) -> None:
        self.host_id = host_id
        self.full_every = full_every
        self._round = WirePrecision()
        self._values: dict[str, Value] = {}
        self._seq: int | None = None
        self._ts: float | None = None
        self._since_full = 0

    def update(self, sample: Sample) -> dict[str, Any]:
        """The ``sample`` event payload for this tick (a delta, or full when due)."""
        current = {k: self._round(k, v) for k, v in sample.values.items()}
        contiguous = self._seq is not None and sample.seq == self._seq + 1
        self._since_full += 1
        if not contiguous or self._since_full >= self.full_every:
            payload = self._payload(sample.seq, sample.ts, current, [], full=True)
            self._since_full = 0
        else:
            previous = self._values
            changed = {k: v for k, v in current.items() if k not in previous or previous[k] != v}
            gone = [k for k in previous if k not in current]
            payload = self._payload(sample.seq, sample.ts, changed, gone, full=False)
        self._values, self._seq, self._ts = current, sample.seq, sample.ts
        return payload

    @property
    def seq(self) -> int | None:
        """The ``seq`` of the state viewers have (None before the first sample)."""
        return self._seq

    def seed(self, sample: Sample) -> None:
        """Take ``sample`` as the state viewers have, without building a payload."""
        self._values = {k: self._round(k, v) for k, v in sample.values.items()}
        self._seq, self._ts = sample.seq, sample.ts
        self._since_full = 0

    def full(self) -> dict[str, Any] | None:
        """The current state as a full ``sample`` payload (a resync), or None before any.

        It goes to one viewer: everyone's periodic full sample stays on its schedule."""
        if self._seq is None:
            return None
        return self._payload(self._seq, self._ts, dict(self._values), [], full=True)

    def snapshot(self) -> dict[str, Any] | None:
        """The current state as ``hello`` carries it."""
        if self._seq is None:
            return None
        return {"seq": self._seq, "ts": self._ts, "values": dict(self._values)}

    def _payload(self, seq, ts, values, gone, *, full: bool) -> dict[str, Any]:
        return {
            "host": self.host_id,
            "seq": seq,
            "ts": None if ts is None else round(ts, 3),  # ms: the digits beyond are noise
            "full": full,
            "values": values,
            "gone": gone,
        }
