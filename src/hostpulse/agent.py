"""``hostpulse agent``: sample this host and publish it to Redis (docs/REDIS.md).

The same sampler as ``serve``; its samples and facts go to a :class:`Publisher`, which
buffers while Redis is away. The process table is collected only while some worker wants it
(its want key in Redis, docs/REDIS.md), with this agent's ``process_cmdline``. Plain threads,
no gevent, no web server. A worker with ``sample_local`` runs the same :class:`Agent` inside.
"""

from __future__ import annotations

import logging
import signal
import threading

from hostpulse import local
from hostpulse.config import Settings, redact_url
from hostpulse.remote import wire
from hostpulse.remote.publisher import Publisher
from hostpulse.sampler import Sampler

log = logging.getLogger("hostpulse.agent")


class Agent:
    """This machine's sampler, publishing every sample and facts change to Redis."""

    def __init__(self, settings: Settings) -> None:
        if not settings.redis:
            raise ValueError("the agent needs a Redis URL (--redis or HOSTPULSE_REDIS)")
        self.sampler: Sampler = local.build_sampler(
            settings.interval, settings.process_cmdline, host_root=settings.host_root
        )
        self.publisher = Publisher(
            settings.redis,
            local.host_id(settings),
            interval=settings.interval,
            maxlen=settings.redis_maxlen,
            backlog=settings.backlog,
            tables=wire.ON_DEMAND,
            on_want=lambda table, wanted: self.sampler.want(table, "redis", wanted),
        )
        self.sampler.subscribe(self.publisher.on_sample)
        self.sampler.subscribe_facts(self.publisher.on_facts)

    @property
    def host_id(self) -> str:
        return self.publisher.host_id

    def start(self) -> None:
        self.publisher.start()
        self.sampler.start()

    def stop(self) -> None:
        self.sampler.stop()
        self.publisher.stop()


def run(settings: Settings) -> int:
    agent = Agent(settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    agent.start()
    log.info(
        "agent %s publishing host %s every %gs to %s (backlog %d samples)",
        agent.publisher.run,
        agent.host_id,
        settings.interval,
        redact_url(settings.redis),
        settings.backlog,
    )
    stop.wait()
    log.info("stopping; %d samples still buffered", len(agent.publisher.backlog))
    agent.stop()
    return 0
