"""What an open host page costs the browser: main-thread time per second, side by side.

Each tree given is served in turn (its own `serve`, a fresh data dir, 1 s interval) and
opened in Debian's Chromium, headless, 1280x900, live, with the processes panel open; after
a settling pause, Chrome DevTools `Performance.getMetrics` is read twice, SECONDS apart.
The trees alternate (a b a b ...) so that a machine busier in one minute than the next
weighs on both. Prints one line a run; asserts nothing (docs/PERFORMANCE.md).

    .venv/bin/python benchmarks/page_cost.py [--seconds 20] [--rounds 2] [NAME=SRC ...]

SRC is a folder holding the `hostpulse` package with its browser files (static/vendor),
e.g. a `git worktree` of an older revision after `make assets`; by default this checkout's
src/ alone. TaskDuration counts all the main thread's work (script, style, layout, paint,
compositing); the others are parts of it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/lib/chromium/chromium"
SRC = Path(__file__).resolve().parent.parent / "src"
PARTS = {
    "task_ms_s": "TaskDuration",
    "script_ms_s": "ScriptDuration",
    "layout_ms_s": "LayoutDuration",
    "style_ms_s": "RecalcStyleDuration",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(src: str, folder: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "hostpulse", "serve", "--port", str(port),
               "--data-dir", f"{folder}/data", "--log-dir", f"{folder}/log"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": src}
    env.pop("HOSTPULSE_CONFIG", None)
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return server, url
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"{src}: the server did not answer /healthz within 30 s")


def measure(browser, url: str, seconds: float) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(url + "/")
        page.wait_for_timeout(3000)
        page.click("#processes-panel summary", timeout=3000)
        page.wait_for_timeout(5000)
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")

        def metrics() -> dict[str, float]:
            return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}

        before, started = metrics(), time.monotonic()
        time.sleep(seconds)
        after, took = metrics(), time.monotonic() - started
        out = {k: round(1000 * (after[m] - before[m]) / took, 1) for k, m in PARTS.items()}
        out["heap_mb"] = round(after["JSHeapUsedSize"] / 2**20, 2)
        return out
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", metavar="NAME=SRC", default=[f"this={SRC}"])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    trees = [tree.partition("=")[::2] for tree in args.trees]
    for name, src in trees:
        if not (Path(src) / "hostpulse" / "web" / "static" / "vendor").is_dir():
            raise SystemExit(f"{name}: {src} holds no hostpulse package with its browser files")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for _ in range(args.rounds):
            for name, src in trees:
                with tempfile.TemporaryDirectory() as folder:
                    server, url = serve(src, folder)
                    try:
                        print(name, json.dumps(measure(browser, url, args.seconds)), flush=True)
                    finally:
                        server.terminate()
                        server.wait(10)
        browser.close()


if __name__ == "__main__":
    main()
