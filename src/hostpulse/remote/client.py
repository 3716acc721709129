"""How hostpulse talks to Redis, for the agent's publisher and the worker's reader alike:
one client set-up, one retry rule, one name for a running process."""

from __future__ import annotations

import os
import random
import socket
import uuid

import redis

#: Retry after a lost connection: the first wait, doubled up to the last (with ±20 % jitter,
#: so that workers and agents cut off together do not all come back in the same instant).
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 10.0


def make_client(url: str) -> redis.Redis:
    """A client that fails fast (a dashboard must not hang on Redis) and notices a dead link."""
    return redis.Redis.from_url(
        url,
        socket_timeout=5,
        socket_connect_timeout=3,
        health_check_interval=15,
        retry_on_timeout=False,
    )


class Backoff:
    """The waits between reconnection attempts: ``next()`` after a failure, ``reset()`` after
    a success."""

    def __init__(self) -> None:
        self.delay = BACKOFF_FIRST

    def next(self) -> float:
        wait = self.delay * random.uniform(0.8, 1.2)
        self.delay = min(BACKOFF_MAX, self.delay * 2)
        return wait

    def reset(self) -> None:
        self.delay = BACKOFF_FIRST


def run_id() -> str:
    """This process, as other processes see it in Redis: host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
