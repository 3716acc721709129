"""Key and host patterns: which metric keys and which hosts a rule is about.

A key pattern is a metric key (:mod:`hostpulse.metrics`) in which ``*`` stands for any
non-empty text: ``fs.*.percent`` (every filesystem, mount points with dots too),
``cpu.core.*`` (every core), ``temp.*.celsius``, ``container.*.cpu``. The family, the text
before the first dot, is always written out: a rule is about one family. A host pattern is a
host id in which ``*`` stands for any text (``web-*``).

Patterns are compiled once, when the config is read; matching runs only when a host's key
layout changes (alerts/evaluate.py caches the result per layout), never per tick.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hostpulse import metrics

#: What a key pattern may hold besides ``*``: the characters of metric keys.
_KEY_TEXT = re.compile(r"^[A-Za-z0-9_/\-:@+.*]+$")


@dataclass(frozen=True)
class KeyPattern:
    text: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @property
    def is_exact(self) -> bool:
        return self._regex is None

    def matches(self, key: str) -> bool:
        if self._regex is None:
            return key == self.text
        return self._regex.match(key) is not None


def key_pattern(text: object) -> KeyPattern:
    """Parse a key pattern; ValueError saying what is wrong with it."""
    if not isinstance(text, str) or not text:
        raise ValueError("key must be a metric key or pattern such as fs.*.percent")
    if not _KEY_TEXT.match(text) or "**" in text:
        raise ValueError(
            f"key {text!r} is no key pattern (metric key characters, * for any instance text)"
        )
    family, dot, _ = text.partition(".")
    if not dot or "*" in family or not family:
        raise ValueError(f"key {text!r}: the family before the first dot must be written out")
    try:
        metrics.parse(text.replace("*", "x"))
    except ValueError as exc:
        raise ValueError(f"key {text!r}: {exc}") from None
    if "*" not in text:
        return KeyPattern(text)
    regex = ".+".join(re.escape(part) for part in text.split("*"))
    return KeyPattern(text, re.compile(f"^{regex}$"))


@dataclass(frozen=True)
class HostPattern:
    texts: tuple[str, ...]
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, host_id: str) -> bool:
        return self._regex is None or self._regex.match(host_id) is not None


def host_pattern(raw: object) -> HostPattern:
    """``"web-*"`` or a list of such patterns; None or an empty list: every host."""
    if raw is None:
        return HostPattern(())
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) and i for i in items):
        raise ValueError("hosts must be a host id pattern (web-*) or a list of them")
    for item in items:
        if any(c.isspace() or not c.isprintable() or c == "/" for c in item):
            raise ValueError(f"hosts: {item!r} is no host id pattern")
    if not items:
        return HostPattern(())
    alternatives = "|".join(".*".join(re.escape(p) for p in i.split("*")) for i in items)
    return HostPattern(tuple(items), re.compile(f"^(?:{alternatives})$"))
