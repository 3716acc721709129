"""Alert rules: the ``[[alerts]]`` tables of the config file, checked once, and the shipped
defaults (docs/ALERTS.md).

A rule is one of three kinds:

- ``threshold`` (the default): a key or key pattern ``above`` or ``below`` a number, or above
  a mark its own instance carries (``above_mark = "high"``: ``temp.<x>.celsius`` against
  ``temp.<x>.high``); ``for`` how long it must hold; ``clear`` the other side of the
  hysteresis (defaults to the threshold; with a mark, ``clear_margin`` below the mark);
  ``per = "core"`` divides the value by the host's number of cores first.
- ``trend``: a filesystem (``fs.*.percent``) that at its trend over ``window`` will be full
  within ``within``.
- ``offline``: a remote host that has published nothing for ``for`` (needs Redis).

A rule with a default's name changes that default (only the fields given change; a new
threshold drops the default's ``clear``); ``enabled = false`` switches one off.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from hostpulse.alerts.patterns import HostPattern, KeyPattern, host_pattern, key_pattern
from hostpulse.alerts.transition import CRITICAL, WARNING

THRESHOLD, TREND, OFFLINE = "threshold", "trend", "offline"
KINDS = (THRESHOLD, TREND, OFFLINE)
SEVERITIES = (WARNING, CRITICAL)
#: The fields that say which side of a threshold breaches; a rule has exactly one.
SIDES = ("above", "below", "above_mark", "below_mark")
FIELDS = frozenset(
    {"name", "kind", "key", *SIDES, "for", "clear", "clear_margin", "severity", "hosts", "per",
     "within", "window", "enabled"}
)  # fmt: skip
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
MAX_DURATION = 30 * 86400.0


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    key: KeyPattern | None
    #: True: the value breaches above the threshold; False: below.
    above: bool
    threshold: float | None
    #: The field of the same instance that holds the threshold (``high`` → ``temp.x.high``).
    mark: str | None
    for_s: float
    #: Where a firing alert resolves (and a pending one drops back to ok); for a mark rule,
    #: ``clear_margin`` under (over) the mark.
    clear: float | None
    clear_margin: float
    severity: str
    hosts: HostPattern
    per_core: bool = False
    within_s: float = 0.0
    window_s: float = 0.0
    enabled: bool = True

    def breaches(self, value: float, threshold: float) -> bool:
        return value > threshold if self.above else value < threshold

    def clears(self, value: float, clear: float) -> bool:
        return value <= clear if self.above else value >= clear

    def as_config(self) -> dict[str, Any]:
        """The rule as a ``[[alerts]]`` table that parses back to it."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.key is not None:
            out["key"] = self.key.text
        if self.kind == THRESHOLD:
            side = "above" if self.above else "below"
            if self.mark is not None:
                out[f"{side}_mark"] = self.mark
                out["clear_margin"] = self.clear_margin
            else:
                out[side] = self.threshold
                out["clear"] = self.clear
        if self.kind == TREND:
            out["within"] = self.within_s
            out["window"] = self.window_s
        out["for"] = self.for_s
        out["severity"] = self.severity
        if self.hosts.texts:
            out["hosts"] = list(self.hosts.texts)
        if self.per_core:
            out["per"] = "core"
        out["enabled"] = self.enabled
        return out


#: The shipped rules (docs/ALERTS.md lists them), parsed like the config's own.
DEFAULTS: tuple[Mapping[str, Any], ...] = tuple(MappingProxyType(d) for d in (
    {"name": "cpu-busy", "key": "cpu.total", "above": 90, "clear": 80, "for": "5m",
     "severity": WARNING},
    {"name": "memory-full", "key": "mem.percent", "above": 90, "clear": 85, "for": "5m",
     "severity": WARNING},
    {"name": "swap-used", "key": "swap.percent", "above": 50, "clear": 40, "for": "10m",
     "severity": WARNING},
    {"name": "load-high", "key": "load.5", "per": "core", "above": 2, "clear": 1.5,
     "for": "10m", "severity": WARNING},
    {"name": "fs-warning", "key": "fs.*.percent", "above": 90, "clear": 88, "for": 0,
     "severity": WARNING},
    {"name": "fs-critical", "key": "fs.*.percent", "above": 95, "clear": 93, "for": 0,
     "severity": CRITICAL},
    {"name": "fs-filling", "kind": TREND, "key": "fs.*.percent", "within": "24h",
     "window": "1h", "for": 0, "severity": WARNING},
    {"name": "temp-high", "key": "temp.*.celsius", "above_mark": "high", "clear_margin": 5,
     "for": "1m", "severity": WARNING},
    {"name": "temp-critical", "key": "temp.*.celsius", "above_mark": "crit", "clear_margin": 5,
     "for": "30s", "severity": CRITICAL},
    {"name": "host-offline", "kind": OFFLINE, "for": "1m", "severity": CRITICAL},
))  # fmt: skip


def duration(raw: Any, what: str = "for") -> float:
    """Seconds from a number or ``"30s"``, ``"5m"``, ``"1h"``, ``"2d"``."""
    if isinstance(raw, bool):
        raise ValueError(f"{what} must be seconds or a duration such as 30s, 5m, 1h")
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        match = _DURATION.match(str(raw).strip())
        if match is None:
            raise ValueError(f"{what} must be seconds or a duration (30s, 5m, 1h), got {raw!r}")
        value = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not 0 <= value <= MAX_DURATION or not math.isfinite(value):
        raise ValueError(f"{what} must be from 0 to 30 days, got {raw!r}")
    return value


def _number(raw: Any, what: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise ValueError(f"{what} must be a number, got {raw!r}")
    return float(raw)


def _choice(raw: Any, what: str, options: tuple[str, ...]) -> str:
    if raw not in options:
        raise ValueError(f"{what} must be one of {', '.join(options)}, got {raw!r}")
    return raw


def parse_rule(table: Mapping[str, Any]) -> Rule:
    """One ``[[alerts]]`` table → a Rule; ValueError saying what is wrong (not which rule)."""
    unknown = sorted(set(table) - FIELDS)
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (known: {', '.join(sorted(FIELDS))})")
    kind = _choice(table.get("kind", THRESHOLD), "kind", KINDS)
    severity = _choice(table.get("severity", WARNING), "severity", SEVERITIES)
    hosts = host_pattern(table.get("hosts"))
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValueError(f"enabled must be true or false, got {enabled!r}")
    common = {
        "name": table["name"],
        "kind": kind,
        "for_s": duration(table.get("for", 0)),
        "severity": severity,
        "hosts": hosts,
        "enabled": enabled,
    }
    if kind == OFFLINE:
        _refuse(table, "key", *SIDES, "clear", "clear_margin", "per", "within", "window", of=kind)
        return Rule(key=None, above=True, threshold=None, mark=None, clear=None,
                    clear_margin=0.0, **common)  # fmt: skip
    if "key" not in table:
        raise ValueError("key is missing (a metric key or pattern such as fs.*.percent)")
    key = key_pattern(table["key"])
    if kind == TREND:
        _refuse(table, *SIDES, "clear", "clear_margin", "per", of=kind)
        within = duration(table.get("within", "24h"), "within")
        window = duration(table.get("window", "1h"), "window")
        if within <= 0 or window < 600:
            raise ValueError("a trend needs within > 0 and a window of at least 10m")
        return Rule(key=key, above=False, threshold=within, mark=None, clear=2 * within,
                    clear_margin=0.0, within_s=within, window_s=window, **common)  # fmt: skip
    return _threshold_rule(table, key, common)


def _threshold_rule(table: Mapping[str, Any], key: KeyPattern, common: dict) -> Rule:
    _refuse(table, "within", "window", of=THRESHOLD)
    sides = [side for side in SIDES if side in table]
    if len(sides) != 1:
        raise ValueError("needs exactly one of above, below, above_mark, below_mark")
    side = sides[0]
    above = side.startswith("above")
    per = table.get("per")
    if per not in (None, "core"):
        raise ValueError(f'per must be "core", got {per!r}')
    if side.endswith("_mark"):
        mark = table[side]
        if not isinstance(mark, str) or not re.match(r"^[A-Za-z0-9_]+$", mark):
            raise ValueError(f"{side} must name a field of the same instance (high), got {mark!r}")
        if "*" not in key.text or "clear" in table:
            raise ValueError(f"{side} needs a key pattern (temp.*.celsius) and no clear")
        margin = _number(table.get("clear_margin", 0), "clear_margin")
        if margin < 0:
            raise ValueError("clear_margin must not be negative")
        return Rule(key=key, above=above, threshold=None, mark=mark, clear=None,
                    clear_margin=margin, per_core=per == "core", **common)  # fmt: skip
    _refuse(table, "clear_margin", of="a rule with a number threshold")
    threshold = _number(table[side], side)
    clear = _number(table.get("clear", threshold), "clear")
    if (clear > threshold) if above else (clear < threshold):
        raise ValueError(f"clear must be {'at or below' if above else 'at or over'} {side} "
                         f"({threshold:g}), got {clear:g}")  # fmt: skip
    return Rule(key=key, above=above, threshold=threshold, mark=None, clear=clear,
                clear_margin=0.0, per_core=per == "core", **common)  # fmt: skip


def _refuse(table: Mapping[str, Any], *names: str, of: str) -> None:
    for name in names:
        if name in table:
            raise ValueError(f"{name} does not apply to {of}")


def parse_rules(raw: Any) -> tuple[Rule, ...]:
    """The config's ``alerts`` (a list of tables, or JSON text of one from the environment)
    merged over the defaults; ValueError naming the rule at fault."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ValueError(
                "must be [[alerts]] tables (a JSON list of objects in the environment)"
            ) from None
    if not isinstance(raw, list | tuple) or not all(isinstance(t, Mapping) for t in raw):
        raise ValueError("must be [[alerts]] tables, each with a name")
    merged: dict[str, dict[str, Any]] = {d["name"]: dict(d) for d in DEFAULTS}
    seen: set[str] = set()
    for index, table in enumerate(raw):
        name = table.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"rule #{index + 1}: name must be 1-64 letters, digits, - _ . "
                             f"(got {name!r})")  # fmt: skip
        if name in seen:
            raise ValueError(f"rule {name!r}: a second rule of that name")
        seen.add(name)
        merged[name] = _over_default(merged.get(name), table)
    rules = []
    for name, table in merged.items():
        try:
            rules.append(parse_rule(table))
        except ValueError as exc:
            raise ValueError(f"rule {name!r}: {exc}") from None
    return tuple(rules)


def _over_default(default: Mapping[str, Any] | None, table: Mapping[str, Any]) -> dict[str, Any]:
    """A user's table over the default of its name: a new side or threshold drops the
    default's side and clear (they belong to the old threshold); a new kind drops it all."""
    if default is None or table.get("kind", default.get("kind")) != default.get("kind"):
        return dict(table)
    base = dict(default)
    if any(side in table for side in SIDES):
        for name in (*SIDES, "clear", "clear_margin"):
            base.pop(name, None)
    return {**base, **table}


def defaults() -> tuple[Rule, ...]:
    return parse_rules([])
