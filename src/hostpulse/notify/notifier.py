"""The Notifier: takes transitions from evaluation, delivers them apart from the tick.

``submit()`` only puts the transition in a queue (never blocks, never raises); one thread
turns it into a job per target, and each target's own thread (a lane: a dead mail server
holds none of the webhook's messages) works its jobs: claim in the ledger, send, mark done;
on failure, retry with backoff (5 s doubling to 2 min) for ``retry_for`` (15 min by
default), one log line per target and error (not per try), then give up.

The threads are plain ``threading.Thread``s: under ``serve``'s gevent monkey-patching each
is a greenlet, and everything they wait on (Apprise's HTTP and SMTP, Redis) is a socket
that gevent makes cooperative, so a send that takes 15 s stops nothing. A real OS thread
would buy nothing for socket waits and would need unpatched locks and queues to meet the
sampler's greenlet; the ledger's SQLite writes (one small row per message) are the only
blocking calls left, as brief as the history writer's. Without gevent (tests, tools) it is
an OS thread, and the same code holds.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass

from hostpulse.alerts.transition import CRITICAL, FIRING, RESOLVED, Transition
from hostpulse.notify.ledger import DONE, HELD, LedgerError
from hostpulse.notify.message import Message, compose
from hostpulse.notify.targets import Target

log = logging.getLogger("hostpulse.notify")

#: Retry waits: the first, doubled up to the last, for this long in all.
FIRST_RETRY = 5.0
MAX_RETRY = 120.0
RETRY_FOR = 900.0
#: Transitions waiting for the delivery thread; more are dropped (and counted).
INBOX_MAX = 10_000
#: Seconds stop() waits for messages due now to go out.
DRAIN = 3.0
#: The longest the thread sleeps without looking at repeats and stop.
IDLE_WAKE = 1.0

#: The results counted on /metrics (``hostpulse_notifications_total{result}``).
SENT, FAILED, RETRIED, DUPLICATE, DROPPED = "sent", "failed", "retried", "duplicate", "dropped"


@dataclass(eq=False)
class Job:
    transition: Transition
    target: Target
    key: str
    message: Message
    #: Monotonic time of the first try (the retry window starts here) and of the next.
    first: float
    due: float
    delay: float = FIRST_RETRY
    tries: int = 0
    parked: bool = False


class Notifier:
    def __init__(
        self,
        targets: list[Target],
        ledger,
        public_url: str | None = None,
        repeat: float = 0.0,
        retry_for: float = RETRY_FOR,
        first_retry: float = FIRST_RETRY,
    ) -> None:
        self.targets = targets
        self.ledger = ledger
        self.public_url = public_url
        self.repeat = repeat
        self.retry_for = retry_for
        self.first_retry = first_retry
        #: Results by name (SENT, FAILED, RETRIED, DUPLICATE, DROPPED): /metrics reads them.
        self.counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._inbox: queue.Queue[Transition | None] = queue.Queue(INBOX_MAX)
        #: One lane per target: a service that is down or slow holds only its own messages.
        self._lanes = {target.key: _Lane(self, target) for target in targets}
        #: Critical alerts firing now, for repeats: (host, rule, instance) -> (FIRING, next n).
        self._firing: dict[tuple[str, str, str], tuple[Transition, int]] = {}
        #: The last error logged per target (key): the same error is not logged again.
        self._errors: dict[str, str] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the evaluation side -------------------------------------------------------------

    def submit(self, transition: Transition) -> None:
        """Queue a transition for delivery; FIRING and RESOLVED only. Never blocks or raises."""
        try:
            if transition.state not in (FIRING, RESOLVED):
                return
            self._inbox.put_nowait(transition)
        except queue.Full:
            self.counts[DROPPED] += 1
        except Exception:  # the tick must go on whatever happens here
            self.counts[DROPPED] += 1

    @property
    def pending(self) -> int:
        """Messages not yet delivered (queued transitions count once)."""
        return sum(len(lane.jobs) for lane in self._lanes.values()) + self._inbox.qsize()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="hostpulse-notify", daemon=True)
        self._thread.start()
        for lane in self._lanes.values():
            lane.start()

    def stop(self, timeout: float = 5.0, drain: float = DRAIN) -> None:
        """Stop delivering, after up to ``drain`` seconds for what is due now (the last
        transitions of a stopping server); what is left then is not sent by this process
        (other workers on Redis have their own copy of each job and take it over)."""
        if self._thread is None:
            return
        deadline = time.monotonic() + drain
        while time.monotonic() < deadline and self._due_now():
            time.sleep(0.05)
        self._stopping.set()
        with contextlib.suppress(queue.Full):
            self._inbox.put_nowait(None)
        self._thread.join(timeout)
        self._thread = None
        for lane in self._lanes.values():
            lane.stop(timeout)
        left = self.pending
        if left:
            log.warning("notifications: stopped with %d message(s) not delivered", left)
        self.ledger.close()

    def _due_now(self) -> bool:
        now = time.monotonic()
        return self._inbox.qsize() > 0 or any(
            job.due <= now for lane in self._lanes.values() for job in list(lane.jobs)
        )

    def _count(self, result: str) -> None:
        with self._counts_lock:
            self.counts[result] += 1

    # --- the dispatching thread: transitions (and repeats) into jobs ------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                item = self._inbox.get(timeout=IDLE_WAKE)
            except queue.Empty:
                item = None
            try:
                self._drain(item)
                if self._stopping.is_set():
                    return
                self._repeat_due(time.time())
            except Exception:  # a bug here must not end notifications for good
                log.exception("notifications: delivery step failed")

    def _drain(self, item: Transition | None) -> None:
        try:
            while item is not None:
                self._accept(item)
                item = self._inbox.get_nowait()
        except queue.Empty:
            pass

    def _accept(self, t: Transition) -> None:
        alert = (t.host, t.rule, t.instance)
        if t.state == RESOLVED:
            self._firing.pop(alert, None)
        elif t.severity == CRITICAL and self.repeat > 0:
            self._firing[alert] = (t, 1)
        self._add_jobs(t, t.id, compose(t, self.public_url))

    def _add_jobs(self, t: Transition, key: str, message: Message) -> None:
        now = time.monotonic()
        for target in self.targets:
            if target.wants(t.severity):
                job = Job(t, target, f"{key}:{target.key}", message, now, now, self.first_retry)
                self._lanes[target.key].add(job)

    def _repeat_due(self, now: float) -> None:
        for alert, (t, n) in list(self._firing.items()):
            if now < t.ts + n * self.repeat:
                continue
            # After a long pause (a stopped clock, a suspended VM), the latest repeat only.
            n = int((now - t.ts) // self.repeat)
            message = compose(t, self.public_url, repeat=n, now=now)
            self._add_jobs(t, f"{t.id}:repeat{n}", message)
            self._firing[alert] = (t, n + 1)

    # --- a lane's thread: one job at a time ---------------------------------------------------

    def _try(self, job: Job) -> bool:
        """One step of a job; True when it is finished (sent, sent elsewhere, given up)."""
        try:
            claim = self.ledger.claim(job.key)
        except LedgerError as exc:
            return self._failed(job, f"ledger: {exc}", owned=False)
        if claim.status == DONE:
            self._count(DUPLICATE)
            return True
        if claim.status == HELD:
            # Another worker is sending it: ask again when its lease would run out.
            job.parked = True
            job.due = time.monotonic() + claim.wait + 0.05
            return False
        if job.parked:  # the sender's lease ran out before it was done: ours now
            job.parked = False
            job.first = time.monotonic()
            log.info("notifications: took over %s for %s", job.message.title, job.target.shown)
        job.tries += 1
        error = self._deliver(job)
        if error is not None:
            return self._failed(job, error, owned=True)
        self._finish(job, SENT)
        self._count(SENT)
        if self._errors.pop(job.target.key, None) is not None:
            log.info("notifications: %s delivers again", job.target.shown)
        log.info("notifications: sent %r to %s", job.message.title, job.target.shown)
        return True

    def _deliver(self, job: Job) -> str | None:
        """Send, keeping the claim's lease alive until the send returns."""
        if self.ledger.lease == float("inf"):
            return job.target.send(job.message)
        done = threading.Event()

        def keep_claim() -> None:
            while not done.wait(self.ledger.lease / 3):
                try:
                    if not self.ledger.renew(job.key):
                        return
                except LedgerError:
                    return

        keeper = threading.Thread(target=keep_claim, name="hostpulse-notify-lease", daemon=True)
        keeper.start()
        try:
            return job.target.send(job.message)
        finally:
            done.set()

    def _failed(self, job: Job, error: str, owned: bool) -> bool:
        self._count(RETRIED)
        if self._errors.get(job.target.key) != error:
            self._errors[job.target.key] = error
            log.warning(
                "notifications: %s: %s (retrying for up to %s min)",
                job.target.shown,
                error,
                f"{self.retry_for / 60:g}",
            )
        now = time.monotonic()
        if now - job.first < self.retry_for:
            job.due = now + job.delay
            job.delay = min(MAX_RETRY, job.delay * 2)
            return False
        self._count(FAILED)
        log.error(
            "notifications: gave up on %r to %s after %d tries: %s",
            job.message.title,
            job.target.shown,
            job.tries,
            error,
        )
        if owned:  # the other workers stop trying too
            self._finish(job, FAILED)
        return True

    def _finish(self, job: Job, result: str) -> None:
        try:
            self.ledger.finish(job.key, result)
        except LedgerError as exc:
            log.warning("notifications: could not record %r as %s: %s", job.key, result, exc)


class _Lane:
    """One target's jobs and the thread that works them, in the order they fall due."""

    def __init__(self, notifier: Notifier, target: Target) -> None:
        self.notifier = notifier
        self.jobs: list[Job] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._name = f"hostpulse-notify-{target.key}"

    def add(self, job: Job) -> None:
        self.jobs.append(job)
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        stopping = self.notifier._stopping
        while not stopping.is_set():
            now = time.monotonic()
            wait = min((job.due - now for job in self.jobs), default=IDLE_WAKE)
            if wait > 0:
                self._wake.wait(min(wait, IDLE_WAKE))
                self._wake.clear()
                continue
            for job in [job for job in self.jobs if job.due <= now]:
                if stopping.is_set():
                    return
                try:
                    finished = self.notifier._try(job)
                except Exception:  # a bug here must not end this target's messages
                    log.exception("notifications: delivery step failed")
                    finished = True
                if finished:
                    self.jobs.remove(job)
