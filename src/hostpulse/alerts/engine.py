"""The alerts of every host a process serves: evaluation on each host's stream, and one
thread that does the I/O evaluation must not (docs/ALERTS.md).

Evaluation runs in the thread that delivers the samples (the sampler's for this machine, the
reader's for remote hosts) and only queues what changed. The engine's thread then, for each
transition: takes the episode's start from Redis when there is one (alerts/shared.py), adds
the top processes of that moment to a FIRING, records it (alerts/store.py) and hands it to
the notifier. It also watches remote hosts for silence (the ``offline`` rule: an agent that
has died cannot say so), keeps 30 days of events and, every minute, notes how far each host
was evaluated.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol

from hostpulse.alerts.evaluate import Episode, Evaluator, Plans
from hostpulse.alerts.rules import TREND, Rule
from hostpulse.alerts.shared import SharedStarts
from hostpulse.alerts.store import AlertStore
from hostpulse.alerts.transition import FIRING, PENDING, Transition
from hostpulse.host import Host

log = logging.getLogger("hostpulse.alerts")

#: Seconds between looks at remote hosts' silence.
OFFLINE_EVERY = 2.0
#: Seconds between minute chores: evaluated-until marks, shared starts kept alive.
MINUTE = 60.0
RETAIN_EVERY = 3600.0
TOP_PROCESSES = 5


class Notifier(Protocol):
    def submit(self, transition: Transition) -> None: ...


class Alerts:
    def __init__(
        self,
        rules: Iterable[Rule],
        store: AlertStore,
        *,
        shared: SharedStarts | None = None,
        notifier: Notifier | None = None,
        watch_offline: bool = False,
    ) -> None:
        self.rules = tuple(rules)
        self.store = store
        self.shared = shared
        self.notifier = notifier
        #: Remote hosts can be silent; this machine, sampled here, cannot.
        self.watch_offline = watch_offline
        self._by_name = {rule.name: rule for rule in self.rules}
        self._plans = Plans()
        self._hosts: dict[str, Host] = {}
        self._evaluators: dict[str, Evaluator] = {}
        self._queue: deque[tuple[Transition, Episode]] = deque()
        self._reconcile: deque[Episode] = deque()
        #: Hosts whose trends are not seeded from history yet (they need a first sample).
        self._unseeded: deque[str] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.transitions = 0

    # --- hosts ------------------------------------------------------------------------------

    def watch(self, host: Host) -> None:
        """Evaluate ``host`` from now on (a Hosts.on_added listener), its open alerts
        brought back from the store."""
        if host.id in self._evaluators:
            return
        restored = self._restore(host.id)
        until = self.store.evaluated_until(host.id)
        evaluator = Evaluator(host.id, self.rules, self._enqueue, restored,
                              skip_until=-1e18 if until is None else until,
                              plans=self._plans)  # fmt: skip
        self._hosts[host.id] = host
        self._evaluators[host.id] = evaluator
        if self.shared is not None:
            self._reconcile.extend(restored)
        self._unseeded.append(host.id)
        subscribe = getattr(host.feed, "subscribe_stream", host.feed.subscribe)
        subscribe(evaluator.on_sample)

    def _restore(self, host_id: str) -> list[Episode]:
        episodes = []
        for row in self.store.states(host_id):
            rule = self._by_name.get(row["rule"])
            if rule is None or not rule.enabled or not rule.hosts.matches(host_id):
                log.info("alerts: %s on %s %s is no rule now; forgotten", row["rule"], host_id,
                         row["instance"])  # fmt: skip
                continue
            episodes.append(Episode(rule, host_id, row["instance"], row["key"], row["state"],
                                    row["since"], row["value"], row["ts"], row["detail"],
                                    row["ts"]))  # fmt: skip
        return episodes

    def _seed_trends(self) -> None:
        """Each new host's trends from its history once it has a sample (its keys)."""
        for _ in range(len(self._unseeded)):
            host_id = self._unseeded.popleft()
            host, evaluator = self._hosts[host_id], self._evaluators[host_id]
            if host.latest is None:
                self._unseeded.append(host_id)  # not yet
            else:
                self._seed_trend(host, evaluator)

    def _seed_trend(self, host: Host, evaluator: Evaluator) -> None:
        """A trend over the last hour from history, so it need not wait an hour to begin."""
        trends = [r for r in evaluator.rules if r.kind == TREND and r.key is not None]
        latest = host.latest
        if not trends or latest is None:
            return
        keys = [k for k in latest.values if any(r.key.matches(k) for r in trends)][:64]
        if not keys:
            return
        try:
            window = max(r.window_s for r in trends)
            result = host.history.query(keys, since=-window, step=60)
        except Exception:
            log.exception("alerts: no trend history for %s", host.id)
            return
        for key, series in result.get("series", {}).items():
            points = [(t, v) for t, v in zip(result["ts"], series["avg"], strict=False)
                      if v is not None]  # fmt: skip
            evaluator.seed_trend(key, points)

    # --- for the web layer ------------------------------------------------------------------

    def firing(self, host_id: str | None = None) -> list[dict[str, Any]]:
        """The alerts firing now (as GET /api/v1/alerts lists them), newest first."""
        evaluators = (
            [self._evaluators[host_id]] if host_id in self._evaluators
            else [] if host_id is not None else list(self._evaluators.values())
        )  # fmt: skip
        found = []
        for evaluator in evaluators:
            for episode in list(evaluator.active.values()):
                if episode.state == FIRING:
                    found.append(_firing_view(episode))
        found.sort(key=lambda a: a["since"], reverse=True)
        return found

    def events(self, **filters: Any) -> list[dict[str, Any]]:
        """Recorded transitions (as GET /api/v1/alerts lists them), newest first."""
        return [_event_view(row) for row in self.store.events(**filters)]

    @property
    def errors(self) -> int:
        return sum(e.errors for e in self._evaluators.values())

    # --- the engine's thread ----------------------------------------------------------------

    def _enqueue(self, transition: Transition, episode: Episode) -> None:
        self._queue.append((transition, episode))
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hostpulse-alerts", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._drain()
        self._save_until()
        if self.shared is not None:
            self.shared.close()
        self.store.close()

    def _run(self) -> None:
        next_offline = next_minute = 0.0
        next_retain = time.monotonic() + 60
        while not self._stop.is_set():
            self._wake.wait(OFFLINE_EVERY)
            self._wake.clear()
            try:
                self._drain()
                now = time.monotonic()
                if self.watch_offline and now >= next_offline:
                    next_offline = now + OFFLINE_EVERY
                    self._check_offline(now)
                    self._drain()
                if self._unseeded:
                    self._seed_trends()
                if now >= next_minute:
                    next_minute = now + MINUTE
                    self._minute()
                if now >= next_retain:
                    next_retain = now + RETAIN_EVERY
                    self.store.retain(time.time())
            except Exception:
                log.exception("alerts: the engine's step failed")
                self._stop.wait(1.0)

    def _drain(self) -> None:
        while self._reconcile:
            episode = self._reconcile.popleft()
            episode.since = self.shared.since(_ident(episode), episode.since)
        batch = []
        while self._queue:
            transition, episode = self._queue.popleft()
            batch.append((self._complete(transition, episode), episode.key))
        if not batch:
            return
        self.transitions += len(batch)
        try:
            self.store.record(batch)
        except Exception:
            log.exception("alerts: %d transitions not recorded", len(batch))
        if self.notifier is not None:
            for transition, _ in batch:
                self.notifier.submit(transition)

    def _complete(self, transition: Transition, episode: Episode) -> Transition:
        """The shared episode start and, for FIRING, the top processes of that moment."""
        changes: dict[str, Any] = {}
        if self.shared is not None:
            ident = (transition.host, transition.rule, transition.instance)
            if transition.state in (PENDING, FIRING):
                since = self.shared.since(ident, transition.since)
                if episode.since == transition.since:
                    episode.since = since
            else:
                since = self.shared.end(ident, transition.since)
            if since != transition.since:
                changes["since"] = since
        if transition.state == FIRING:
            changes["processes"] = self._top_processes(transition)
        return dataclasses.replace(transition, **changes) if changes else transition

    def _top_processes(self, transition: Transition) -> tuple[dict[str, Any], ...]:
        history = getattr(self._hosts.get(transition.host), "process_history", None)
        if history is None:
            return ()
        try:
            moment = history.at(transition.ts)
        except Exception:
            log.exception("alerts: no processes for %s at %s", transition.host, transition.ts)
            return ()
        return () if moment is None else tuple(moment.rows[:TOP_PROCESSES])

    def _check_offline(self, now: float) -> None:
        wall = time.time()
        for host_id, evaluator in list(self._evaluators.items()):
            host = self._hosts[host_id]
            last = host.stats.last_tick_monotonic
            latest = host.latest
            silent = None if last is None else now - last
            evaluator.check_offline(silent, None if latest is None else latest.ts, wall)

    def _minute(self) -> None:
        self._save_until()
        if self.shared is not None:
            self.shared.refresh()

    def _save_until(self) -> None:
        until = {h: e.last_ts for h, e in self._evaluators.items() if e.last_ts > -1e17}
        if until:
            try:
                self.store.save_until(until)
            except Exception:
                log.exception("alerts: evaluated-until marks not saved")


def _ident(episode: Episode) -> tuple[str, str, str]:
    return (episode.host, episode.rule.name, episode.instance)


def _firing_view(episode: Episode) -> dict[str, Any]:
    return {
        "name": episode.rule.name,
        "host": episode.host,
        "instance": episode.instance,
        "key": episode.key or None,
        "severity": episode.rule.severity,
        "state": episode.state,
        "since": episode.since,
        "value": episode.value,
        "detail": episode.detail,
    }


def _event_view(row: dict[str, Any]) -> dict[str, Any]:
    view = dict(row)
    view["name"] = view.pop("rule")
    view["key"] = view["key"] or None
    return view
