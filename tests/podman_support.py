"""Real Podman containers for tests, set up the way ../shared/FIELD-NOTES.md found works here:
runc (crun cannot set rlimits here), cgroupfs (no systemd as PID 1), vfs storage (no overlay
mounts), a containers.conf without default ulimits (named by CONTAINERS_CONF, for our
podman processes only), and a busybox root filesystem (no registry to pull from).

Everything lives under the test's own directory: its own storage root and run root, so
another user's containers and images are never seen, touched or removed. Every container is
named with :data:`PREFIX` and removed by name when the test is done; the API service
(`podman system service`) is stopped by its pid.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from support import tools_missing

PREFIX = "hp13-"
BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "sleep", "yes", "dd", "cat", "head", "false", "true", "ping", "mkdir", "rm")


def podman_missing() -> str | None:
    missing = tools_missing("podman", "runc")
    if missing:
        return missing
    if not BUSYBOX.exists():
        return "not installed: busybox-static (see .ci/run)"
    return None


class Podman:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.rootfs = tmp / "rootfs"
        # podman refuses a run root longer than 50 characters, and a unix socket path has
        # at most 107: both go in a short directory of their own (pytest's are long)
        self.short = Path(tempfile.mkdtemp(prefix="hp13-", dir="/tmp"))
        self.socket = self.short / "podman.sock"
        self.names: list[str] = []
        self.service: subprocess.Popen | None = None
        conf = tmp / "containers.conf"
        conf.write_text("[containers]\ndefault_ulimits = []\n")
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.base = [
            "podman",
            "--runtime",
            "runc",
            "--cgroup-manager=cgroupfs",
            "--storage-driver=vfs",
            "--root",
            str(tmp / "storage"),
            "--runroot",
            str(self.short / "run"),
        ]
        for sub in ("bin", "proc", "sys", "dev", "tmp", "etc", "data"):
            (self.rootfs / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy(BUSYBOX, self.rootfs / "bin" / "busybox")
        for applet in APPLETS:
            (self.rootfs / "bin" / applet).symlink_to("busybox")

    def __call__(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        result = subprocess.run(
            [*self.base, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout.strip()

    def start_service(self) -> str:
        """The Docker-compatible API on a unix socket of our own; returns its path."""
        self.service = subprocess.Popen(
            [*self.base, "system", "service", "--time=0", f"unix://{self.socket}"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.tmp / "service.log", "ab"),  # noqa: SIM115
        )
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            if self.service.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"podman service did not start: {self.service_log()}")
            time.sleep(0.05)
        return str(self.socket)

    def service_log(self) -> str:
        path = self.tmp / "service.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def run(self, name: str, command: str, *options: str) -> str:
        """Start ``sh -c command`` in a container named PREFIX+name; returns its id."""
        full = PREFIX + name
        self.names.append(full)
        return self("run", "-d", "--name", full, *options, "--rootfs", str(self.rootfs),
                    "/bin/sh", "-c", command)  # fmt: skip

    def pid(self, name: str) -> int:
        return int(self("inspect", "--format", "{{.State.Pid}}", PREFIX + name))

    def rm(self, name: str) -> None:
        self("rm", "-f", "-t", "0", PREFIX + name, check=False)

    def close(self) -> None:
        for name in self.names:
            self("rm", "-f", "-t", "0", name, check=False)
        if self.service is not None:
            self.service.terminate()
            try:
                self.service.wait(10)
            except subprocess.TimeoutExpired:
                self.service.kill()
                self.service.wait(5)
        shutil.rmtree(self.short, ignore_errors=True)
