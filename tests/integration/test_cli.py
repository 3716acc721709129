"""The command line as a user runs it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from support import Server

pytestmark = pytest.mark.integration


def hostpulse(*args: str, env: dict | None = None, timeout: float = 30):
    return subprocess.run(
        [sys.executable, "-m", "hostpulse", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_snapshot_json_has_facts_and_rates():
    done = hostpulse("snapshot", "--json", "--interval", "0.5")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["facts"]["hostname"] == socket.gethostname()
    values = document["sample"]["values"]
    assert 0 <= values["cpu.total"] <= 100  # taken over one interval: rates are there
    assert values["net.total.rx_bps"] is not None


def test_snapshot_table_and_processes():
    done = hostpulse("snapshot", "--interval", "0.5", "--processes")
    assert done.returncode == 0, done.stderr
    assert socket.gethostname() in done.stdout
    assert "cpu.total" in done.stdout and "%" in done.stdout
    assert "top processes by CPU" in done.stdout


def test_config_check_explains_and_fails_with_exit_2(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text("port = 9999\n")
    done = hostpulse("config", "check", "--config", str(good))
    assert done.returncode == 0 and "9999" in done.stdout and "configuration OK" in done.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("interval = 0.01\n")
    done = hostpulse("config", "check", "--config", str(bad))
    assert done.returncode == 2
    assert "'interval'" in done.stderr and str(bad) in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_serve_with_a_bad_setting_starts_nothing(tmp_path):
    done = hostpulse("serve", "--port", "99999", "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2
    assert "'port'" in done.stderr
    assert not (tmp_path / "d").exists()


def test_serve_on_a_taken_port_says_so(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        srv = Server(tmp_path, port=port)
        with pytest.raises(RuntimeError, match="cannot listen"):
            srv.start(wait=10)


def test_serve_raises_its_open_files_limit_to_the_hard_limit(tmp_path):
    """Two descriptors a viewer: a soft limit of 1024 (systemd's default) would stop ~500."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 512:
        pytest.skip(f"hard limit {hard} leaves nothing to raise")
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))  # the child inherits it
    try:
        srv = Server(tmp_path).start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        limits = Path(f"/proc/{srv.process.pid}/limits").read_text()
        line = next(ln for ln in limits.splitlines() if ln.startswith("Max open files"))
        assert line.split()[3] == line.split()[4] != "512", line
    finally:
        srv.stop()
    assert "raised from 512" in srv.output()


@pytest.mark.parametrize("where", ["/proc/nope", "a-file"])
def test_serve_with_an_unusable_data_dir_names_it_and_nothing_else(tmp_path, where):
    if where == "a-file":
        where = str(tmp_path / "a-file")
        Path(where).write_text("")
    done = hostpulse("serve", "--port", "1", "--data-dir", where)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # no "starting a new one", no "keeping it in memory"
    assert "'data_dir'" in lines[0] and where in lines[0]
    assert "listen" not in lines[0]


def test_a_wrong_flag_gets_the_usage_of_its_command():
    done = hostpulse("serve", "--prot", "9000")
    assert done.returncode == 2
    assert done.stderr.startswith("usage: hostpulse serve ")
    assert "unrecognized arguments: --prot 9000" in done.stderr
    done = hostpulse("token", "create", "x", "--nope")
    assert done.stderr.startswith("usage: hostpulse token create ")


def test_config_check_output_is_a_config_file(tmp_path):
    done = hostpulse("config", "check", env={"HOSTPULSE_PORT": "9123", "PATH": "/usr/bin"})
    assert done.returncode == 0, done.stderr
    pasted = tmp_path / "pasted.toml"
    pasted.write_text(done.stdout)
    again = hostpulse("config", "check", "--config", str(pasted), env={"PATH": "/usr/bin"})
    assert again.returncode == 0, again.stderr
    assert again.stdout == done.stdout
