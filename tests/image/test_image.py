"""The container image, built and run for real with Podman: from the wheel, as a non-root
user, healthy by its own HEALTHCHECK, and reading the host it is the dashboard of through
the host's /proc, /sys and /etc/hostname mounted under /host (host_root).

Slow (a base root filesystem with mmdebstrap when none is there yet, then an image build:
minutes): markers ``e2e`` (kept out of ``make test-fast``) and ``image``. Needs root,
podman, runc and mmdebstrap (.ci/run installs them). Podman runs here with runc, cgroupfs
and vfs and no default ulimits (../shared/FIELD-NOTES.md); no registry is reachable, so the
base is made locally (deploy/container/make-base.sh).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid

import psutil
import pytest

from support import ROOT, free_port, get_json, http_get, require, tools_missing

pytestmark = [pytest.mark.e2e, pytest.mark.image]
require(tools_missing("podman", "runc", "mmdebstrap", "/usr/bin/python3"))
if os.geteuid() != 0:
    require("the image test needs root (rootful podman)")

BASE = "localhost/hostpulse-base:bookworm"
FLAGS = ["--runtime", "runc", "--cgroup-manager=cgroupfs", "--storage-driver=vfs"]


@pytest.fixture(scope="module")
def podman_env(tmp_path_factory) -> dict:
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    conf.write_text("[containers]\ndefault_ulimits = []\n")
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def podman(env: dict, *args: str, timeout: float = 120, check: bool = True):
    result = subprocess.run(
        ["podman", *FLAGS, *args], capture_output=True, text=True, timeout=timeout, env=env
    )
    if check:
        assert result.returncode == 0, f"podman {args}: {result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def image(podman_env):
    env = {**podman_env, "PODMAN_FLAGS": " ".join(FLAGS), "ENGINE_FLAGS": " ".join(FLAGS)}
    if podman(env, "image", "exists", BASE, check=False).returncode != 0:
        made = subprocess.run(
            ["sh", str(ROOT / "deploy/container/make-base.sh"), BASE],
            capture_output=True, text=True, timeout=1200, env=env,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr[-3000:]
    tag = f"localhost/hostpulse:test-{uuid.uuid4().hex[:8]}"
    # --layers=false: no cached intermediate images left in the shared store
    build_env = {**env, "TAG": tag, "BASE": BASE, "BUILD_FLAGS": "--layers=false"}
    built = subprocess.run(
        ["sh", str(ROOT / "deploy/container/build-image.sh")],
        capture_output=True, text=True, timeout=1200, env=build_env,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    yield tag
    podman(podman_env, "rmi", "-f", tag, check=False)


@pytest.fixture(scope="module")
def container(image, podman_env):
    name = f"hostpulse-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    podman(
        podman_env, "run", "-d", "--name", name, "--hostname", f"ctr-{name[-8:]}",
        "-p", f"127.0.0.1:{port}:8080",
        "-v", "/proc:/host/proc:ro", "-v", "/sys:/host/sys:ro",
        "-v", "/etc/hostname:/host/etc/hostname:ro",
        "-e", "HOSTPULSE_HOST_ROOT=/host", "-e", "HOSTPULSE_INTERVAL=0.5",
        image,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if http_get(url + "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                logs = podman(podman_env, "logs", name, check=False)
                raise AssertionError(f"not healthy in 60 s: {logs.stdout}{logs.stderr}")
            time.sleep(0.5)
        yield {"name": name, "url": url}
    finally:
        podman(podman_env, "rm", "-f", "-t", "0", name, check=False)


def test_the_api_names_the_host_not_the_container(container):
    status, listing = get_json(container["url"] + "/api/v1/hosts")
    assert status == 200
    ids = [h["id"] for h in listing["hosts"]]
    assert ids == [socket.gethostname()], ids  # not ctr-…
    status, host = get_json(f"{container['url']}/api/v1/hosts/{ids[0]}")
    assert status == 200 and host["facts"]["hostname"] == socket.gethostname()
    assert not host["facts"]["hostname"].startswith("ctr-")


def test_it_reads_the_hosts_network_and_processes_not_its_own(container):
    url = container["url"]
    host_id = socket.gethostname()
    deadline = time.monotonic() + 20
    while True:  # rates need two ticks
        status, sample = get_json(f"{url}/api/v1/hosts/{host_id}/sample")
        if status == 200 and sample["values"].get("net.total.rx_bps") is not None:
            break
        assert time.monotonic() < deadline, sample
        time.sleep(0.5)
    nics = {k.split(".")[1] for k in sample["values"] if k.startswith("net.")} - {"total"}
    host_nics = set(psutil.net_if_addrs()) - {"lo"}
    # the container's own namespace has eth0 and lo only; the host has its bridges and veths
    assert host_nics <= nics, (host_nics, nics)
    assert len(nics) > 1


def test_runs_as_an_unprivileged_user_and_its_healthcheck_passes(container, podman_env):
    uid = podman(podman_env, "exec", container["name"], "id", "-u").stdout.strip()
    assert uid != "0" and int(uid) >= 1000
    check = podman(podman_env, "healthcheck", "run", container["name"], check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    inspect = podman(
        podman_env, "inspect", "--format", "{{.Config.Healthcheck.Test}}", container["name"]
    )
    assert "/healthz" in inspect.stdout


def test_snapshot_in_the_container_reads_the_host_too(container, podman_env):
    done = podman(
        podman_env,
        "exec",
        container["name"],
        "hostpulse",
        "snapshot",
        "--json",
        "--interval",
        "0.5",
    )
    document = json.loads(done.stdout)
    assert document["facts"]["hostname"] == socket.gethostname()
    nics = {k.split(".")[1] for k in document["sample"]["values"] if k.startswith("net.")}
    assert set(psutil.net_if_addrs()) - {"lo"} <= nics
