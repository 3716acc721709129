"""A child process that is, unambiguously, the busiest process of the machine: for the tests
that look for it in a top-process table on a machine shared with other work."""

from __future__ import annotations

import contextlib
import subprocess
import sys

#: Four threads hashing (hashlib lets go of the GIL on large buffers): up to four cores.
BURN = """# burner
import hashlib, threading
data = bytes(1 << 20)
def burn():
    while True: hashlib.sha256(data).digest()
for _ in range(3): threading.Thread(target=burn, daemon=True).start()
burn()
"""
#: What a table's ``cmd`` of the burner holds.
MARK = "# burner"


def start_burner() -> subprocess.Popen:
    """The burner, in a session of its own: with autogroup scheduling (Linux's default on
    desktops and this machine) the CPU is shared between sessions first, so in the test's
    session it would share one slice with the test and the server. Where allowed (root), its
    session's weight is raised too, so other sessions' work cannot tie with it."""
    child = subprocess.Popen([sys.executable, "-c", BURN], start_new_session=True)
    with contextlib.suppress(OSError), open(f"/proc/{child.pid}/autogroup", "w") as f:
        f.write("-5")  # about three times the weight of a session; -10 starves the rest
    return child
