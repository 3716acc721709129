"""deploy/: the Puppet module, the systemd unit, the nginx site and the Vagrantfile, checked by
the real tools (puppet, puppet-lint, nginx -t, systemd-analyze, vagrant).

What cannot run here (no systemd as PID 1, no VirtualBox) is listed in docs/DEPLOY.md.
Skips outside CI when a tool is missing; fails in CI (.ci/run installs them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import DEPLOY, MODULES, NGINX, Nginx, render_epp, require, tools_missing

pytestmark = pytest.mark.integration

FACTER_NOISE = "/proc/1/environ"
MANIFESTS = sorted(DEPLOY.glob("puppet/**/*.pp"))
UNIT = DEPLOY / "systemd" / "hostpulse.service"
HOSTPULSE_BIN = Path(sys.executable).with_name("hostpulse")
#: The unit template's parameters as deploy/render-examples.sh gives them.
UNIT_VALUES = {
    "user": "hostpulse",
    "group": "hostpulse",
    "hostpulse_bin": str(HOSTPULSE_BIN),
    "config_file": "/etc/hostpulse/hostpulse.toml",
    "data_dir": "/var/lib/hostpulse",
    "log_dir": "/var/log/hostpulse",
}


def run(*command, cwd=None, timeout=120, env=None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=env,
    )
    result.stderr = "\n".join(
        line for line in result.stderr.splitlines() if FACTER_NOISE not in line
    )
    return result


def test_manifests_parse():
    require(tools_missing("puppet"))
    assert len(MANIFESTS) >= 2
    result = run("puppet", "parser", "validate", *MANIFESTS)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_manifests_pass_puppet_lint_with_warnings_as_failures():
    require(tools_missing("puppet-lint"))
    result = run("puppet-lint", "--fail-on-warnings", "--relative", *MANIFESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shipped_files_are_the_templates_rendered(tmp_path):
    """deploy/nginx/*.conf and deploy/systemd/hostpulse.service are what the module writes
    with its defaults; editing a template without re-rendering them fails here."""
    require(tools_missing("puppet"))
    result = run(DEPLOY / "render-examples.sh", tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("nginx/hostpulse.conf", "nginx/hostpulse-tls.conf", "systemd/hostpulse.service"):
        assert (tmp_path / name).read_text() == (DEPLOY / name).read_text(), (
            f"deploy/{name} is stale: run deploy/render-examples.sh"
        )


def test_shipped_nginx_sites_pass_nginx_t(tmp_path):
    require(tools_missing(str(NGINX), "openssl"))
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    run(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=localhost", "-keyout", key, "-out", cert,
    ).check_returncode()  # fmt: skip
    plain = (DEPLOY / "nginx" / "hostpulse.conf").read_text()
    tls = (
        (DEPLOY / "nginx" / "hostpulse-tls.conf")
        .read_text()
        .replace("/etc/ssl/certs/hostpulse.pem", str(cert))
        .replace("/etc/ssl/private/hostpulse.key", str(key))
    )
    for name, site in (("plain", plain), ("tls", tls)):
        result = Nginx(tmp_path / name, site).check()
        assert result.returncode == 0, f"{name}: {result.stderr}"


def _verify(unit: Path) -> list[str]:
    """systemd-analyze verify: its exit code is 0 on unknown keys and bad values (it only
    warns), so every line it prints about the unit counts as a failure."""
    result = run("systemd-analyze", "verify", unit)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return [f"exit {result.returncode}", *lines] if result.returncode else lines


def test_unit_passes_systemd_analyze_verify(tmp_path):
    require(tools_missing("systemd-analyze"))
    unit = tmp_path / "hostpulse.service"
    # verify checks that ExecStart exists: point it at this checkout's hostpulse
    unit.write_text(
        UNIT.read_text().replace("/opt/hostpulse/venv/bin/hostpulse", str(HOSTPULSE_BIN))
    )
    assert _verify(unit) == []
    # the check is not vacuous: an unknown key and a bad value are reported
    bad = tmp_path / "bad.service"
    bad.write_text(unit.read_text().replace("ProtectHome=read-only", "ProtectHome=maybe\nFoo=1"))
    assert len(_verify(bad)) == 2


def test_unit_hardening_scores_ok(tmp_path):
    require(tools_missing("systemd-analyze"))
    result = run("systemd-analyze", "security", "--offline=true", "--no-pager", UNIT)
    match = re.search(
        r"Overall exposure level for hostpulse.service: ([\d.]+) (\w+)", result.stdout
    )
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.5, result.stdout


def test_unit_settings():
    text = UNIT.read_text()
    for line in (
        "User=hostpulse",
        "ExecStart=/opt/hostpulse/venv/bin/hostpulse serve --config /etc/hostpulse/hostpulse.toml",
        "Restart=on-failure",
        "KillSignal=SIGTERM",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "ReadWritePaths=/var/lib/hostpulse /var/log/hostpulse",
    ):
        assert line in text.splitlines(), line


def test_unit_with_gpu_devices_reaches_nvidia_devices_only(tmp_path):
    """gpu_devices => true (off by default): no private /dev, a closed device policy that
    allows the nvidia* device groups; still valid and as hardened as the bar above."""
    require(tools_missing("puppet", "systemd-analyze"))
    unit = tmp_path / "hostpulse.service"
    values = {**UNIT_VALUES, "gpu_devices": True}
    unit.write_text(render_epp("hostpulse.service.epp", values, tmp_path))
    lines = unit.read_text().splitlines()
    for line in ("PrivateDevices=no", "DevicePolicy=closed", "DeviceAllow=char-nvidia* rw"):
        assert line in lines, line
    assert "PrivateDevices=yes" not in lines
    assert _verify(unit) == []
    result = run("systemd-analyze", "security", "--offline=true", "--no-pager", unit)
    match = re.search(r"Overall exposure level for hostpulse.service: ([\d.]+)", result.stdout)
    assert match and float(match.group(1)) <= 2.5, result.stdout
    # off by default: what the module writes without the parameter has the private /dev
    default = render_epp("hostpulse.service.epp", UNIT_VALUES, tmp_path).splitlines()
    assert "PrivateDevices=yes" in default and not any(x.startswith("Device") for x in default)


def test_vagrantfile_validates(tmp_path):
    require(tools_missing("vagrant"))
    env = {**os.environ, "VAGRANT_HOME": str(tmp_path / "vagrant.d")}
    result = run("vagrant", "validate", "-p", cwd=DEPLOY, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    # and it would notice a missing Puppet manifest directory
    (tmp_path / "copy").mkdir()
    shutil.copy(DEPLOY / "Vagrantfile", tmp_path / "copy")
    result = run("vagrant", "validate", "-p", cwd=tmp_path / "copy", env=env)
    assert result.returncode != 0
    assert "manifests" in (result.stdout + result.stderr).lower()


def test_install_scripts_are_valid_shell():
    run("bash", "-n", DEPLOY / "install.sh").check_returncode()
    run("sh", "-n", DEPLOY / "bootstrap.sh").check_returncode()
    assert os.access(DEPLOY / "install.sh", os.X_OK)
    assert os.access(DEPLOY / "bootstrap.sh", os.X_OK)


def test_install_sh_refuses_a_wheel_it_cannot_use(tmp_path):
    sdist = tmp_path / "hostpulse-0.1.0.tar.gz"
    sdist.write_text("")
    for given, says in ((sdist, "wants a .whl"), (tmp_path / "none.whl", "no such wheel")):
        result = run("bash", DEPLOY / "install.sh", "--wheel", given)
        assert result.returncode == 2 and says in result.stderr, result.stderr


def test_bootstrap_for_a_wheel_needs_neither_npm_nor_apt(tmp_path):
    """With --no-assets (install.sh --wheel) the server needs puppet only; a checkout without
    its browser files would need npm (here: absent from PATH, so apt-get, also absent)."""
    require(tools_missing("puppet"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "puppet").symlink_to(shutil.which("puppet"))
    env = {"PATH": str(bin_dir)}
    done = run("/bin/sh", DEPLOY / "bootstrap.sh", "--no-assets", env=env)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr
    bare_checkout = tmp_path / "checkout"
    (bare_checkout / "src").mkdir(parents=True)
    done = run("/bin/sh", DEPLOY / "bootstrap.sh", bare_checkout, env=env)
    assert done.returncode != 0 and "apt-get" in done.stderr


def test_modulepath_layout():
    assert (MODULES / "hostpulse" / "manifests" / "init.pp").exists()


def test_unit_containers_group_is_off_by_default_and_verifies_when_on(tmp_path):
    """The socket is root-equivalent: the shipped unit has no extra group; the module's
    containers_group parameter adds one, and the unit still verifies."""
    assert not [ln for ln in UNIT.read_text().splitlines() if ln.startswith("SupplementaryGroups")]
    require(tools_missing("puppet", "systemd-analyze"))
    from support import render_epp

    unit = tmp_path / "hostpulse.service"
    values = {**UNIT_VALUES, "containers_group": "docker"}
    unit.write_text(render_epp("hostpulse.service.epp", values, tmp_path))
    assert "SupplementaryGroups=docker" in unit.read_text().splitlines()
    assert _verify(unit) == []
