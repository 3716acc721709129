"""A real `puppet apply` of the hostpulse class on this machine, into a scratch tree.

Everything the module does runs for real — virtualenv, pip install of a wheel built from
this checkout (what a server without Node.js gets: `install.sh --wheel`), the static-files
link, config, unit and nginx site written, the service started as an unprivileged user —
except systemd: there is none as PID 1 here, so the test uses the module's
`service_provider => 'base'` (start-stop-daemon, same command line and user). The nginx site
Puppet wrote is then run by a real nginx in front of the service it started.
Needs root (to switch user) and puppet; see docs/DEPLOY.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from support import (
    MODULES,
    NGINX,
    ROOT,
    Nginx,
    free_port,
    get_json,
    http_get,
    require,
    tools_missing,
)

pytestmark = pytest.mark.e2e

USER, GROUP = "daemon", "daemon"  # exists on Debian; an unprivileged, non-"nobody" user


def apply(manifest: Path) -> tuple[int, str]:
    result = subprocess.run(
        [
            "puppet",
            "apply",
            "--detailed-exitcodes",
            "--color=false",
            "--modulepath",
            str(MODULES),
            str(manifest),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = "\n".join(
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "/proc/1/environ" not in line
    )
    return result.returncode, output


@pytest.fixture(scope="module")
def applied():
    require(tools_missing("puppet", str(NGINX), "/sbin/start-stop-daemon"))
    if os.geteuid() != 0:
        require("puppet apply test needs root (it starts the service as another user)")
    # /tmp/pytest-of-root is 0700: the service user could not reach a tree below it
    root = Path(tempfile.mkdtemp(prefix="hostpulse-puppet-"))
    root.chmod(0o755)
    port, nginx_port = free_port(), free_port()
    wheels = root / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("hostpulse-*.whl")
    for sub in (
        "etc/systemd/system",
        "etc/nginx/sites-available",
        "run",
        "var/lib",
        "var/log",
        "opt",
    ):
        (root / sub).mkdir(parents=True)
    manifest = root / "site.pp"
    manifest.write_text(f"""
class {{ 'hostpulse':
  source               => '{wheel}',
  port                 => {port},
  interval             => 0.5,
  user                 => '{USER}',
  group                => '{GROUP}',
  manage_user          => false,
  manage_packages      => false,
  data_dir             => '{root}/var/lib/hostpulse',
  log_dir              => '{root}/var/log/hostpulse',
  install_dir          => '{root}/opt/hostpulse',
  config_dir           => '{root}/etc/hostpulse',
  unit_dir             => '{root}/etc/systemd/system',
  nginx_site_dir       => '{root}/etc/nginx/sites-available',
  nginx_enable_site    => false,
  listen               => ['127.0.0.1:{nginx_port}'],
  manage_nginx_service => false,
  service_provider     => 'base',
  service_pidfile      => '{root}/run/hostpulse.pid',
}}
""")
    started = time.monotonic()
    code, output = apply(manifest)
    first = time.monotonic() - started
    yield {
        "root": root,
        "port": port,
        "nginx_port": nginx_port,
        "manifest": manifest,
        "code": code,
        "output": output,
        "seconds": first,
        "wheel": wheel,
    }
    subprocess.run(
        ["/sbin/start-stop-daemon", "--stop", "--pidfile", f"{root}/run/hostpulse.pid",
         "--remove-pidfile", "--retry", "TERM/20/KILL/5", "--oknodo"],
        timeout=40,
    )  # fmt: skip
    shutil.rmtree(root, ignore_errors=True)


def test_apply_installs_configures_and_starts(applied):
    root = applied["root"]
    assert applied["code"] == 2, applied["output"]  # 2: changes made, no failures
    assert "Error" not in applied["output"], applied["output"]
    print(f"first puppet apply: {applied['seconds']:.1f}s")
    config = (root / "etc/hostpulse/hostpulse.toml").read_text()
    assert f"port = {applied['port']}" in config and "interval = 0.5" in config
    unit = (root / "etc/systemd/system/hostpulse.service").read_text()
    assert f"ExecStart={root}/opt/hostpulse/venv/bin/hostpulse serve --config" in unit
    static = root / "opt/hostpulse/static"
    assert static.is_symlink() and (static / "js" / "main.js").exists()
    assert (static / "vendor" / "socket.io.min.js").exists(), "assets missing from the wheel"
    assert "npm" not in applied["output"]  # a wheel: nothing built on the server
    # the service runs as the unprivileged user and answers
    pid = int((root / "run/hostpulse.pid").read_text())
    status = Path(f"/proc/{pid}/status").read_text()
    uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    assert int(uid) == int(subprocess.check_output(["id", "-u", USER])), status
    base = f"http://127.0.0.1:{applied['port']}"
    deadline = time.monotonic() + 15
    while True:
        try:
            if http_get(base + "/healthz", timeout=1)[0] == 200:
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)
    # it writes where it was told to, as its user
    assert (root / "var/log/hostpulse/hostpulse.log").stat().st_uid == int(uid)


def test_second_apply_changes_nothing(applied):
    assert applied["code"] == 2, applied["output"]
    code, output = apply(applied["manifest"])
    assert code == 0, output


def test_the_unit_puppet_wrote_passes_systemd_analyze(applied):
    require(tools_missing("systemd-analyze"))
    unit = applied["root"] / "etc/systemd/system/hostpulse.service"
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0 and (result.stdout + result.stderr).strip() == "", result


def test_the_site_puppet_wrote_fronts_the_service(applied, tmp_path):
    root = applied["root"]
    site = (root / "etc/nginx/sites-available/hostpulse.conf").read_text()
    nginx = Nginx(tmp_path / "nginx", site).start()
    try:
        url = f"http://127.0.0.1:{applied['nginx_port']}"
        status, headers, _ = http_get(url + "/static/js/main.js")
        assert status == 200 and headers["X-Served-By"] == "nginx"
        deadline = time.monotonic() + 15
        while (status := get_json(url + "/healthz")[0]) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == 200
        assert nginx.errors() == []
    finally:
        nginx.stop()
