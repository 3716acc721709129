"""Shared test helpers: a real `hostpulse serve` in a subprocess, and a raw websocket viewer."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import websocket  # websocket-client, brought in by python-socketio[client]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, headers: dict | None = None, timeout: float = 5.0):
    """(status, headers, body bytes) — also for 4xx/5xx answers."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def get_json(url: str, headers: dict | None = None):
    status, _, body = http_get(url, headers)
    return status, json.loads(body)


@dataclass
class Server:
    """`hostpulse serve` on a free loopback port, with its own data and log directories."""

    tmp: Path
    interval: float = 0.5
    extra_env: dict = field(default_factory=dict)
    args: list = field(default_factory=list)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.tmp / "data"

    @property
    def log_dir(self) -> Path:
        return self.tmp / "log"

    def start(self, wait: float = 15.0) -> Server:
        env = {**os.environ, **self.extra_env}
        env.pop("HOSTPULSE_CONFIG", None)
        command = [
            sys.executable,
            "-m",
            "hostpulse",
            "serve",
            "--port",
            str(self.port),
            "--interval",
            str(self.interval),
            "--data-dir",
            str(self.data_dir),
            "--log-dir",
            str(self.log_dir),
            *self.args,
        ]
        self.stdout = open(self.tmp / f"server-{self.port}.out", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, env=env, stdout=self.stdout, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}: {self.output()}")
            try:
                if http_get(self.url + "/healthz", timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not healthy within {wait}s: {self.output()}")

    def output(self) -> str:
        return (self.tmp / f"server-{self.port}.out").read_text(errors="replace")[-4000:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.stdout.close()
        code, self.process = self.process.returncode, None
        return code


class RawViewer:
    """A viewer speaking Engine.IO v4 / Socket.IO v5 itself over a websocket.

    It keeps the raw text of every frame, so tests can compare bytes between viewers.
    """

    def __init__(
        self,
        base_url: str,
        namespace: str = "/live",
        headers: list | None = None,
        auth: dict | None = None,
    ):
        ws_url = base_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(ws_url, timeout=10, header=headers or [])
        opening = self.ws.recv()
        assert opening.startswith("0"), opening
        self.namespace = namespace
        self.frames: list[str] = []
        # The namespace connect packet; its payload is the client's `auth` (what it watches).
        self.ws.send(f"40{namespace}," + (json.dumps(auth) if auth is not None else ""))

    def send_event(self, event: str, data=None, ack: int | None = None) -> None:
        ack_id = "" if ack is None else str(ack)
        self.ws.send(f"42{self.namespace},{ack_id}" + json.dumps([event, data]))

    def next_frame(self, timeout: float = 10.0) -> str:
        """The next Socket.IO frame (pings are answered and skipped)."""
        self.ws.settimeout(timeout)
        while True:
            frame = self.ws.recv()
            if frame == "2":
                self.ws.send("3")
                continue
            self.frames.append(frame)
            return frame

    def next_event(self, timeout: float = 10.0) -> tuple[str, object, str]:
        """(event name, payload, raw frame) of the next event on our namespace."""
        deadline = time.monotonic() + timeout
        prefix = f"42{self.namespace},"
        while True:
            frame = self.next_frame(max(0.1, deadline - time.monotonic()))
            if frame.startswith(prefix):
                name, *rest = json.loads(frame[len(prefix) :])
                return name, (rest[0] if rest else None), frame

    def wait_for(self, event: str, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            name, payload, raw = self.next_event(deadline - time.monotonic())
            if name == event:
                return payload, raw
        raise TimeoutError(event)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.ws.close()


def require(missing: str | None) -> None:
    """Skip a test module whose real component is missing — except in CI, which installs
    every one of them: there a skip would hide a broken set-up, so it fails instead."""
    if missing is None:
        return
    if os.environ.get("CI"):
        raise RuntimeError(f"{missing} (CI must install it: see .ci/run)")
    pytest.skip(missing, allow_module_level=True)
