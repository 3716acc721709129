"""``hostpulse agent``: sample this host and publish it to Redis (docs/REDIS.md).

The same sampler as ``serve``; its samples and facts go to a :class:`Publisher`, which
buffers while Redis is away. The process table is collected only while some worker wants it
(its want key in Redis, docs/REDIS.md), with this agent's ``process_cmdline``. Plain threads,
no gevent, no web server.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading

from hostpulse.collect import host as host_facts
from hostpulse.collect import registry
from hostpulse.config import Settings, redact_url
from hostpulse.remote import wire
from hostpulse.remote.publisher import Publisher
from hostpulse.sampler import Sampler

log = logging.getLogger("hostpulse.agent")


def build(settings: Settings, host_id: str | None = None) -> tuple[Sampler, Publisher]:
    if not settings.redis:
        raise ValueError("the agent needs a Redis URL (--redis or HOSTPULSE_REDIS)")
    sampler = Sampler(
        registry.default_collectors(),
        interval=settings.interval,
        read_facts=host_facts.FactsReader().read,
        on_demand=[registry.process_collector(settings.process_cmdline)],
    )
    publisher = Publisher(
        settings.redis,
        host_id or settings.host_id or socket.gethostname(),
        interval=settings.interval,
        maxlen=settings.redis_maxlen,
        backlog=settings.backlog,
        tables=wire.ON_DEMAND,
        on_want=lambda table, wanted: sampler.want(table, "redis", wanted),
    )
    sampler.subscribe(publisher.on_sample)
    sampler.subscribe_facts(publisher.on_facts)
    return sampler, publisher


def run(settings: Settings) -> int:
    sampler, publisher = build(settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    publisher.start()
    sampler.start()
    log.info(
        "agent %s publishing host %s every %gs to %s (backlog %d samples)",
        publisher.run,
        publisher.host_id,
        settings.interval,
        redact_url(settings.redis),
        settings.backlog,
    )
    stop.wait()
    log.info("stopping; %d samples still buffered", len(publisher.backlog))
    sampler.stop()
    publisher.stop()
    return 0
