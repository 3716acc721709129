"""``/metrics`` in Prometheus text format, built from the latest sample: no extra collection."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from hostpulse import metrics
from hostpulse.alerts.engine import Alerts
from hostpulse.host import Hosts
from hostpulse.remote.inbound import Boundary
from hostpulse.web.connections import Connections
from hostpulse.web.live.live import Live


class SampleCollector:
    """A prometheus_client collector reading the hosts' latest samples at scrape time, and
    the live layer's viewer figures."""

    def __init__(self, hosts: Hosts, live: Live, connections: Connections) -> None:
        self.hosts = hosts
        self.live = live
        self.connections = connections

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for host in self.hosts:
            latest = host.latest
            if latest is None:
                continue
            for key, value in latest.values.items():
                if value is None:
                    continue
                name, labels = metrics.prometheus_series(key)
                labels = {"host": host.id, **labels}
                family = families.get(name)
                if family is None:
                    family = families[name] = GaugeMetricFamily(
                        name,
                        f"hostpulse {key} ({metrics.unit_of(key) or 'value'})",
                        labels=list(labels),
                    )
                family.add_metric(list(labels.values()), value)
        yield from families.values()
        yield from self._sampler_metrics()
        yield from self._connection_metrics()

    def _sampler_metrics(self) -> Iterator[Metric]:
        ticks = CounterMetricFamily("hostpulse_sampler_ticks", "ticks taken", labels=["host"])
        skipped = CounterMetricFamily(
            "hostpulse_sampler_skipped_ticks", "ticks skipped because one ran late", labels=["host"]
        )
        errors = CounterMetricFamily(
            "hostpulse_collector_errors", "collector failures", labels=["host", "collector"]
        )
        duration = GaugeMetricFamily(
            "hostpulse_sampler_tick_seconds", "duration of the last tick", labels=["host"]
        )
        for host in self.hosts:
            stats = host.stats
            ticks.add_metric([host.id], stats.ticks)
            skipped.add_metric([host.id], stats.skipped)
            duration.add_metric([host.id], stats.last_duration)
            for name, count in stats.errors.items():
                errors.add_metric([host.id, name], count)
        viewers = GaugeMetricFamily("hostpulse_viewers", "connected /live viewers")
        viewers.add_metric([], len(self.live.viewers))
        stalled = CounterMetricFamily(
            "hostpulse_stalled_viewers", "viewers disconnected for not reading their socket"
        )
        outboxes = self.live.outboxes
        stalled.add_metric([], outboxes.stalled)
        pending = GaugeMetricFamily(
            "hostpulse_viewer_pending_bytes",
            "bytes waiting for the slowest websocket viewer (at most its newest frames)",
        )
        slowest = max((o.pending_bytes for o in outboxes.by_eio_sid.values()), default=0)
        pending.add_metric([], slowest)
        yield from (ticks, skipped, errors, duration, viewers, stalled, pending)

    def _connection_metrics(self) -> Iterator[Metric]:
        connections = self.connections
        held = GaugeMetricFamily("hostpulse_connections", "client connections held now")
        held.add_metric([], connections.open)
        cap = GaugeMetricFamily("hostpulse_connections_max", "the cap on client connections")
        cap.add_metric([], connections.total)
        refused = CounterMetricFamily(
            "hostpulse_connections_refused", "connections refused at a cap", labels=["reason"]
        )
        for reason, count in connections.refused.items():
            refused.add_metric([reason], count)
        timed_out = CounterMetricFamily(
            "hostpulse_connections_timed_out",
            "connections closed for sending no complete request head in time",
        )
        timed_out.add_metric([], connections.timed_out)
        yield from (held, cap, refused, timed_out)


class RedisCollector:
    """What a worker dropped of what it read from Redis, by cause (remote/inbound.py)."""

    def __init__(self, boundary: Boundary) -> None:
        self.boundary = boundary

    def collect(self) -> Iterator[Metric]:
        rejected = CounterMetricFamily(
            "hostpulse_redis_rejected",
            "entries and fields read from Redis that were dropped, by cause",
            labels=["cause"],
        )
        for cause, count in sorted(self.boundary.rejected.items()):
            rejected.add_metric([cause], count)
        yield rejected


class NotifyCollector:
    """Notifications by result (sent, retried, failed, duplicate, dropped) and those
    waiting (notify/notifier.py)."""

    def __init__(self, notifier) -> None:
        self.notifier = notifier

    def collect(self) -> Iterator[Metric]:
        from hostpulse.notify.notifier import DROPPED, DUPLICATE, FAILED, RETRIED, SENT

        total = CounterMetricFamily(
            "hostpulse_notifications",
            "notification messages by result: sent, retried (a failed try), failed (given up),"
            " duplicate (sent already, by another worker or before a restart), dropped",
            labels=["result"],
        )
        counts = self.notifier.counts
        for result in (SENT, RETRIED, FAILED, DUPLICATE, DROPPED):
            total.add_metric([result], counts.get(result, 0))
        pending = GaugeMetricFamily(
            "hostpulse_notifications_pending", "notification messages not delivered yet"
        )
        pending.add_metric([], self.notifier.pending)
        yield from (total, pending)


class AlertCollector:
    """``hostpulse_alert_firing``: 1 per alert firing now, so Prometheus users can route their
    own way; and how evaluation fares."""

    def __init__(self, alerts: Alerts) -> None:
        self.alerts = alerts

    def collect(self) -> Iterator[Metric]:
        firing = GaugeMetricFamily(
            "hostpulse_alert_firing",
            "1 for each alert firing now (docs/ALERTS.md)",
            labels=["host", "rule", "instance", "severity"],
        )
        for alert in self.alerts.firing():
            labels = [alert["host"], alert["name"], alert["instance"], alert["severity"]]
            firing.add_metric(labels, 1)
        transitions = CounterMetricFamily(
            "hostpulse_alert_transitions", "alert state changes recorded by this process"
        )
        transitions.add_metric([], self.alerts.transitions)
        errors = CounterMetricFamily(
            "hostpulse_alert_evaluation_errors", "samples whose alert evaluation failed"
        )
        errors.add_metric([], self.alerts.errors)
        yield from (firing, transitions, errors)
