"""Blocking calls in real OS threads, each user with a pool of its own.

Under gevent's monkey-patching a ``threading.Thread`` is a greenlet: a statfs blocked in the
kernel, or 0.2 s of scrypt, would stop the whole process. A :class:`OSThreads` runs calls in
real threads (a gevent ThreadPool when the process is patched, else a ThreadPoolExecutor)
and lets the caller wait with a deadline. Each user owns its pool: statfs calls that hang
hold only the filesystem collector's threads, never those of password checks or of gevent's
own resolver (the hub's pool). Both kinds start threads only as calls need them, up to
``size``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any


def _patched() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return monkey.is_module_patched("threading")


class OSThreads:
    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self._gevent_pool = None
        self._executor = None
        if _patched():
            from gevent.threadpool import ThreadPool

            self._gevent_pool = ThreadPool(size)
        else:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(size, thread_name_prefix=name)

    def submit(self, function: Callable[..., Any], *args: Any) -> Any:
        if self._gevent_pool is not None:
            return self._gevent_pool.spawn(function, *args)
        return self._executor.submit(function, *args)

    def apply(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in one of the threads, waited for (the loop goes on)."""
        return self.result(self.submit(function, *args), block=True)

    @staticmethod
    def done(handle: Any) -> bool:
        return handle.ready() if hasattr(handle, "ready") else handle.done()

    def wait(self, handles: Iterable[Any], deadline: float) -> None:
        for handle in handles:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if hasattr(handle, "ready"):  # gevent AsyncResult
                handle.wait(remaining)
            else:
                from concurrent.futures import wait

                wait([handle], timeout=remaining)

    @staticmethod
    def result(handle: Any, block: bool = False) -> Any:
        """The call's value; raises what the call raised."""
        if hasattr(handle, "ready"):
            return handle.get(block=block)
        return handle.result(None if block else 0)
