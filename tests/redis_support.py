"""A real redis-server on a loopback port in a temp dir, and `hostpulse agent` processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from support import Server, free_port

REDIS_SERVER = shutil.which("redis-server")


def accepts(port: int, timeout: float) -> bool:
    """Wait until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class RedisServer:
    tmp: Path
    port: int = field(default_factory=free_port)
    extra: list = field(default_factory=list)
    process: subprocess.Popen | None = None

    def url(self, auth: str = "") -> str:
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.tmp.mkdir(parents=True, exist_ok=True)
        command = [
            REDIS_SERVER,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.tmp),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--loglevel", "warning",
            *self.extra,
        ]  # fmt: skip
        log = open(self.tmp / "redis.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        if accepts(self.port, 10):
            return self
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)
        self.process = None


@dataclass
class Agent:
    tmp: Path
    redis_url: str
    host_id: str
    interval: float = 0.5
    extra_env: dict = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def start(self) -> Agent:
        env = {**os.environ, **self.extra_env}
        env.pop("HOSTPULSE_CONFIG", None)
        self.tmp.mkdir(parents=True, exist_ok=True)
        out = open(self.tmp / f"agent-{self.host_id}.out", "ab")  # noqa: SIM115
        command = [
            sys.executable, "-m", "hostpulse", "agent",
            "--redis", self.redis_url,
            "--host-id", self.host_id,
            "--interval", str(self.interval),
            "--log-dir", str(self.tmp / f"log-{self.host_id}"),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        return self

    def output(self) -> str:
        return (self.tmp / f"agent-{self.host_id}.out").read_text(errors="replace")

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        code, self.process = self.process.returncode, None
        return code


@contextmanager
def fleet(
    tmp: Path, agents: Mapping[str, Mapping[str, str]], worker_args: Sequence[str] = ()
) -> Iterator[Server]:
    """A real redis-server, one agent per host id (with its extra environment) and one
    ``serve --redis`` worker: yields the worker, and stops them all afterwards."""
    redis = RedisServer(tmp / "redis").start()
    started: list[Agent] = []
    worker = None
    try:
        for host_id, env in agents.items():
            started.append(Agent(tmp / "a", redis.url(), host_id, extra_env=dict(env)).start())
        (tmp / "w").mkdir()
        worker = Server(tmp / "w", args=["--redis", redis.url(), *worker_args]).start()
        yield worker
    finally:
        if worker is not None:
            worker.stop()
        for agent in started:
            agent.stop()
        redis.stop()


def make_tls_files(folder: Path) -> dict[str, Path]:
    """A throw-away certificate authority and a server certificate for 127.0.0.1."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: folder / name for name in ("ca.key", "ca.crt", "server.key", "server.crt")}

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "1",
        "-subj",
        "/CN=hostpulse test CA",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    )
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
    )
    return files
