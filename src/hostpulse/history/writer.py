"""A writer thread: runs its owner's write job each time it is woken, so that the owner's hot
path (a sample added on the sampler's thread, a table from the Redis reader) never waits on
the disk. The metric history (history.py) and the process tables (processes.py) own one each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Writer:
    """One daemon thread running ``job`` once per wake-up (wake-ups while it runs fold into
    one more run), until :meth:`stop`."""

    def __init__(self, name: str, job: Callable[[], None]) -> None:
        self._job = job
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """End the thread once a job in progress returns. The owner writes what is left
        itself: a job's loop that should stop early checks the owner's own closed flag."""
        self._stopping = True
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            self._job()
