"""The three browser files the page loads from ``static/vendor/`` (socket.io-client, uPlot).

They come from npm (package-lock.json) and are never committed: a built wheel carries them
(setup.py builds them at build time), a checkout gets them from ``make assets``. A server
without them still answers the API, but its page cannot run, so it says so in the log at
start and on the page itself instead of failing on MIME errors in the browser console.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

#: Files under static/vendor/ the templates name (scripts/install-assets.sh copies them).
VENDOR_FILES = ("socket.io.min.js", "uPlot.iife.min.js", "uPlot.min.css")
FIX = (
    "install hostpulse from a built wheel (`python -m build` or `pip install .` with Node.js "
    "on the build machine), or in a checkout run `make assets`"
)
#: Where the app keeps the missing files' names (``app.extensions``); templates see
#: ``assets_missing``.
MISSING = "hostpulse.assets_missing"

log = logging.getLogger("hostpulse.web")


def missing(static_folder: Path) -> list[str]:
    """The vendor files absent from ``static_folder``, as paths relative to it."""
    vendor = Path(static_folder) / "vendor"
    return [f"vendor/{name}" for name in VENDOR_FILES if not (vendor / name).is_file()]


def install(app: Flask) -> list[str]:
    """Check the files once, log an error naming what is missing, and hand the list to
    every template (the page then shows why it cannot run and loads none of them)."""
    absent = missing(Path(app.static_folder))
    if absent:
        log.error(
            "the dashboard page cannot run: browser files missing from %s: %s; to fix: %s",
            Path(app.static_folder) / "vendor",
            ", ".join(absent),
            FIX,
        )
    app.extensions[MISSING] = absent
    app.context_processor(lambda: {"assets_missing": absent, "assets_fix": FIX})
    return absent
