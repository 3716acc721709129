"""The ``hello`` event, the first message a viewer of a host gets (docs/PROTOCOL.md): the
host's facts, its current state and its last five minutes, so that charts are full at once."""

from __future__ import annotations

from typing import Any

PROTOCOL_VERSION = 2
HELLO_HISTORY_SECONDS = 300
#: The series a page charts on first paint; everything else comes from the REST history.
HELLO_KEYS = (
    "cpu.total",
    "mem.percent",
    "swap.percent",
    "load.1",
    "disk.total.read_bps",
    "disk.total.write_bps",
    "net.total.rx_bps",
    "net.total.tx_bps",
)
NO_HISTORY: dict[str, Any] = {"step": 1, "ts": [], "series": {}}


def hello(
    host_id: str | None,
    full_every: int,
    *,
    interval: float | None = None,
    facts: dict[str, Any] | None = None,
    sample: dict[str, Any] | None = None,
    history: dict[str, Any] = NO_HISTORY,
) -> dict[str, Any]:
    """The hello of ``host_id``; with only the id, that of a host not known (yet)."""
    return {
        "protocol": PROTOCOL_VERSION,
        "host": host_id,
        "interval": interval,
        "full_every": full_every,
        "facts": {} if facts is None else facts,
        "sample": sample,
        "history": history,
    }


def recent_history(history: Any) -> dict[str, Any]:
    """The hello's five minutes of the first-paint series, averages at 1 s."""
    raw = history.recent(list(HELLO_KEYS), HELLO_HISTORY_SECONDS)
    series = {k: s["avg"] for k, s in raw["series"].items()}
    return {"step": raw["step"], "ts": raw["ts"], "series": series}
