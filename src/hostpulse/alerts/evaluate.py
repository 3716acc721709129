"""One host's alerts: its rules applied to every sample, and the states they move through.

ok → pending (the condition holds, ``for`` not yet met) → firing → resolved (→ ok). Each
change is a :class:`~hostpulse.alerts.transition.Transition` handed to ``emit`` with the
:class:`Episode` it belongs to; nothing here does I/O (the engine stores and notifies).

The cost per tick is what a dashboard can afford on every sample (docs/ALERTS.md, "Cost"):
which keys each rule checks is worked out once per key layout (a sampler builds its dict in
the same key order every tick; a new layout is a new plan), so a tick is one lookup and one
comparison per checked key, with no regular expression and no allocation while nothing
breaches. A layout is told apart per tick by its size and by a planned key gone
missing, and compared in full once a minute (a new instance is evaluated within a minute at
worst). Trends are fitted once a minute, not every tick.
Both sides of the hysteresis apply to a pending alert too: a dip that does not reach
``clear`` does not restart ``for``.
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hostpulse.alerts.rules import OFFLINE, THRESHOLD, TREND, Rule
from hostpulse.alerts.transition import FIRING, OK, PENDING, RESOLVED, Transition
from hostpulse.sample import Sample

log = logging.getLogger("hostpulse.alerts")

#: Trends are fitted (and vanished instances swept) this often, in seconds of sample time.
SLOW_EVERY = 60.0
#: A trend needs points spanning this long before it forecasts.
TREND_MIN_SPAN = 600.0
#: An instance whose key has left the host's samples this long is resolved (an unmounted
#: filesystem); shorter absences (a collector failing for a tick) change nothing.
VANISHED_AFTER = 120.0
#: Plans kept compiled, for every host of a process together (hosts alike share theirs).
PLANS_KEPT = 4096

Emit = Callable[[Transition, "Episode"], None]


@dataclass(slots=True, eq=False)
class Episode:
    """An alert that is not ok: one rule on one instance of one host, from ``since``."""

    rule: Rule
    host: str
    #: The matched key, or the host id for rules about the host itself (offline).
    instance: str
    key: str
    state: str
    since: float
    value: float | None
    #: When it last changed state.
    ts: float
    detail: str = ""
    #: The last sample time its key was in the host's layout.
    seen: float = 0.0

    def transition(self, state: str, ts: float, value: float | None) -> Transition:
        return Transition(host=self.host, rule=self.rule.name, instance=self.instance,
                          state=state, severity=self.rule.severity, ts=ts, value=value,
                          since=self.since, detail=self.detail)  # fmt: skip


@dataclass(slots=True)
class Plan:
    """What one key layout means for one host's rules, worked out once."""

    keys: tuple[str, ...]
    present: frozenset[str]
    size: int
    #: (key, above, screen, members): the rules with a number threshold on one key and
    #: side, looked up once; ``screen`` the threshold the first of them breaches at (in the
    #: key's own units), members (rule, scale, threshold, clear) checked only past it.
    plain: list[tuple[str, bool, float, list[tuple[Rule, float, float, float]]]] = field(
        default_factory=list
    )
    #: (rule, key, mark key, margin, above)
    marks: list[tuple[Rule, str, str, float, bool]] = field(default_factory=list)
    #: (rule, key)
    trends: list[tuple[Rule, str]] = field(default_factory=list)


def compile_plan(keys: tuple[str, ...], rules: Iterable[Rule]) -> Plan:
    plan = Plan(keys, frozenset(keys), len(keys))
    cores = sum(1 for k in keys if k.startswith("cpu.core.") and k[9:].isdigit())
    groups: dict[tuple[str, bool], list[tuple[Rule, float, float, float]]] = {}
    for rule in rules:
        if rule.key is None:
            continue
        matched = [k for k in keys if rule.key.matches(k)]
        if rule.kind == TREND:
            plan.trends.extend((rule, k) for k in matched)
        elif rule.mark is not None:
            for k in matched:
                mark = f"{k.rpartition('.')[0]}.{rule.mark}"
                if mark in plan.present:
                    plan.marks.append((rule, k, mark, rule.clear_margin, rule.above))
        elif not rule.per_core or cores:
            scale = 1.0 / cores if rule.per_core else 1.0
            for k in matched:
                groups.setdefault((k, rule.above), []).append(
                    (rule, scale, rule.threshold, rule.clear)
                )
    for (k, above), members in groups.items():
        edges = [threshold / scale for _, scale, threshold, _ in members]
        plan.plain.append((k, above, min(edges) if above else max(edges), members))
    return plan


class Plans:
    """Compiled plans by (rules, layout), shared by the hosts of one engine: hosts set up
    alike (a fleet of one image) have one plan between them, compiled once and warm in the
    CPU's cache for all of them."""

    def __init__(self) -> None:
        self._by_layout: dict[tuple[tuple[Rule, ...], tuple[str, ...]], Plan] = {}

    def get(self, rules: tuple[Rule, ...], keys: tuple[str, ...]) -> Plan:
        plan = self._by_layout.get((rules, keys))
        if plan is None:
            if len(self._by_layout) >= PLANS_KEPT:
                self._by_layout.clear()  # layouts come and go rarely: start again
            plan = self._by_layout[(rules, keys)] = compile_plan(keys, rules)
        return plan


class Evaluator:
    """The rules that apply to one host, its open episodes, and what each sample changes."""

    def __init__(
        self,
        host: str,
        rules: Iterable[Rule],
        emit: Emit,
        restored: Iterable[Episode] = (),
        skip_until: float = -math.inf,
        plans: Plans | None = None,
    ) -> None:
        self.host = host
        self.rules = [r for r in rules if r.enabled and r.hosts.matches(host)]
        self._sample_rules = tuple(r for r in self.rules if r.kind in (THRESHOLD, TREND))
        self.offline_rule = next((r for r in self.rules if r.kind == OFFLINE), None)
        self._emit = emit
        #: (rule name, instance) -> the episode; only alerts that are not ok are here.
        self.active: dict[tuple[str, str], Episode] = {}
        for episode in restored:
            self.active[(episode.rule.name, episode.instance)] = episode
        #: Samples at or before this were evaluated before a restart (a replayed backfill).
        self.skip_until = skip_until
        self.last_ts = skip_until
        self._plan: Plan | None = None
        self._plans = Plans() if plans is None else plans
        # Each host fits its trends at its own second of the minute: 500 hosts discovered
        # together do not all fit in one tick.
        self._slow_offset = zlib.crc32(host.encode()) % int(SLOW_EVERY)
        self._next_slow = -math.inf
        self._trends: dict[tuple[str, str], Trend] = {}
        self.errors = 0
        self._seen_errors: set[str] = set()

    # --- the sample's side (the sampler's or the reader's thread) ------------------------

    def on_sample(self, sample: Sample) -> None:
        """Evaluate one sample; a failure is logged once per distinct error and counted,
        never raised into the sampler."""
        try:
            ts = sample.ts
            if ts <= self.last_ts:
                return  # replayed (a worker's backfill after a restart) or a clock step back
            self.last_ts = ts
            values = sample.values
            plan = self._plan
            # The layout is compared in full once a minute (_slow); per tick only its size,
            # and a key of the plan missing (KeyError) is a new layout too.
            if plan is None or len(values) != plan.size:
                plan = self._plan_for(values)
            try:
                self._check(plan, values, ts)
            except KeyError:  # a planned key gone: a new layout of the same size
                plan = self._plan_for(values)
                self._check(plan, values, ts)  # checks are idempotent for one sample
            if ts >= self._next_slow:
                if tuple(values) != plan.keys:
                    plan = self._plan_for(values)
                self._slow(values, plan, ts)
        except Exception as exc:
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        text = f"{type(exc).__name__}: {exc}"
        if text not in self._seen_errors:
            self._seen_errors.add(text)
            log.error("alerts for host %s: evaluation failed: %s (logged once)", self.host, text,
                      exc_info=exc)  # fmt: skip

    def _check(self, plan: Plan, values: dict, ts: float) -> None:
        active = self.active
        for key, above, screen, members in plan.plain:
            raw = values[key]
            if raw is None:
                continue
            if raw > screen if above else raw < screen:
                for rule, scale, threshold, clear in members:
                    value = raw * scale
                    if value > threshold if above else value < threshold:
                        self._breach(rule, key, value, ts)
                    elif active:
                        self._calm_any(rule, key, value, ts, clear)
            elif active:
                for rule, scale, _, clear in members:
                    self._calm_any(rule, key, raw * scale, ts, clear)
        for rule, key, mark_key, margin, above in plan.marks:
            value, mark = values[key], values[mark_key]
            if value is None or not mark:  # a mark of 0: the sensor gives none
                continue
            if value > mark if above else value < mark:
                self._breach(rule, key, value, ts)
            elif active:
                episode = active.get((rule.name, key))
                if episode is not None:
                    self._calm(episode, value, ts, mark - margin if above else mark + margin)

    def _plan_for(self, values: dict) -> Plan:
        keys = tuple(values)
        plan = self._plans.get(self._sample_rules, keys)
        self._plan = plan
        return plan

    def _breach(self, rule: Rule, key: str, value: float, ts: float, detail: str = "") -> None:
        episode = self.active.get((rule.name, key))
        if episode is None:
            episode = Episode(rule, self.host, key, key, OK, ts, value, ts, detail, ts)
            self.active[(rule.name, key)] = episode
            self._move(episode, PENDING if rule.for_s > 0 else FIRING, ts, value)
            return
        episode.value, episode.seen = value, ts
        if detail:
            episode.detail = detail
        if episode.state == PENDING and ts - episode.since >= episode.rule.for_s:
            self._move(episode, FIRING, ts, value)

    def _calm_any(self, rule: Rule, key: str, value: float, ts: float, clear: float) -> None:
        episode = self.active.get((rule.name, key))
        if episode is not None:
            self._calm(episode, value, ts, clear)

    def _calm(self, episode: Episode, value: float, ts: float, clear: float) -> None:
        episode.value, episode.seen = value, ts
        if episode.rule.clears(value, clear):
            self._end(episode, ts, value)

    def _end(self, episode: Episode, ts: float, value: float | None) -> None:
        del self.active[(episode.rule.name, episode.instance)]
        self._move(episode, RESOLVED if episode.state == FIRING else OK, ts, value)

    def _move(self, episode: Episode, state: str, ts: float, value: float | None) -> None:
        transition = episode.transition(state, ts, value)
        episode.state, episode.ts = state, ts
        self._emit(transition, episode)

    # --- once a minute: trends, vanished instances ----------------------------------------

    def _slow(self, values: dict, plan: Plan, ts: float) -> None:
        minute = ts - ts % SLOW_EVERY
        self._next_slow = minute + SLOW_EVERY + self._slow_offset
        for rule, key in plan.trends:
            value = values[key]
            if value is not None:
                self._trend(rule, key, float(value), ts)
        for episode in list(self.active.values()):
            if episode.key in plan.present:
                episode.seen = max(episode.seen, ts)
            elif episode.key and ts - episode.seen > VANISHED_AFTER:
                self._end(episode, ts, None)

    def _trend(self, rule: Rule, key: str, value: float, ts: float) -> None:
        trend = self._trends.get((rule.name, key))
        if trend is None:
            trend = self._trends[(rule.name, key)] = Trend(rule.window_s)
        trend.add(ts, value)
        seconds = trend.time_to_full()
        if seconds is None:
            return
        if seconds <= rule.within_s:
            self._breach(rule, key, value, ts, full_detail(seconds, ts))
        else:
            episode = self.active.get((rule.name, key))
            if episode is not None:
                episode.value, episode.seen = value, ts
                if seconds > rule.clear:
                    self._end(episode, ts, value)

    def seed_trend(self, key: str, points: Iterable[tuple[float, float]]) -> None:
        """Points from history (one a minute), so a restart need not wait an hour: a new
        trend of them, then the points already taken live, swapped in whole."""
        points = sorted(points)
        for rule in self.rules:
            if rule.kind != TREND or rule.key is None or not rule.key.matches(key):
                continue
            old = self._trends.get((rule.name, key))
            live = list(old.points) if old is not None else []
            trend = Trend(rule.window_s)
            for ts, value in points:
                if not live or ts < live[0][0]:
                    trend.add(ts, value)
            for ts, value in live:
                trend.add(ts, value)
            self._trends[(rule.name, key)] = trend

    # --- the host's silence (the engine's thread, remote hosts only) ----------------------

    def check_offline(self, silent_for: float | None, last_ts: float | None, now: float) -> None:
        """``silent_for``: seconds since this worker last received a sample; ``last_ts``: the
        last sample's own time, which every worker reading the stream knows alike, so it is
        the episode's start on all of them."""
        rule = self.offline_rule
        if rule is None or silent_for is None or last_ts is None:
            return
        episode = self.active.get((rule.name, self.host))
        if silent_for >= rule.for_s and episode is None:
            episode = Episode(rule, self.host, self.host, "", OK, last_ts, None, now)
            episode.detail = f"no sample since {clock_text(last_ts)}"
            self.active[(rule.name, self.host)] = episode
            self._move(episode, FIRING, now, None)
        elif episode is not None and last_ts > episode.since:
            self._end(episode, last_ts, None)


class Trend:
    """A percentage's points over the last ``window`` seconds (one a minute) and its
    least-squares line, kept as running sums: adding a point costs the same however many
    there are."""

    __slots__ = ("n", "origin", "points", "st", "stt", "stv", "sv", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        self.points: deque[tuple[float, float]] = deque()
        self.origin = 0.0
        self.n = self.st = self.sv = self.stt = self.stv = 0.0

    def add(self, ts: float, value: float) -> None:
        points = self.points
        if points and ts <= points[-1][0]:
            return
        if not points:
            self.origin = ts  # times from here: their squares stay exact enough
        points.append((ts, value))
        self._sum(ts - self.origin, value, 1)
        while ts - points[0][0] > self.window:
            old_ts, old_value = points.popleft()
            self._sum(old_ts - self.origin, old_value, -1)

    def _sum(self, t: float, v: float, sign: int) -> None:
        self.n += sign
        self.st += sign * t
        self.sv += sign * v
        self.stt += sign * t * t
        self.stv += sign * t * v

    def time_to_full(self) -> float | None:
        """Seconds until the percentage reaches 100 at its trend; inf when it is not
        rising; None when the points span too little time to say."""
        points = self.points
        if len(points) < 3 or points[-1][0] - points[0][0] < TREND_MIN_SPAN:
            return None
        n = self.n
        var = self.stt - self.st * self.st / n
        if var <= 0:
            return None
        slope = (self.stv - self.st * self.sv / n) / var
        current = points[-1][1]
        if current >= 100:
            return 0.0
        if slope <= 1e-12:
            return math.inf
        return (100 - current) / slope


def time_to_full(points: Iterable[tuple[float, float]], window: float = math.inf) -> float | None:
    trend = Trend(window)
    for ts, value in points:
        trend.add(ts, value)
    return trend.time_to_full()


def clock_text(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def full_detail(seconds: float, ts: float) -> str:
    hours = seconds / 3600
    about = f"{hours:.0f} h" if hours >= 1.5 else f"{max(1, round(seconds / 60))} min"
    return f"full in about {about}, at {clock_text(ts + seconds)}"
