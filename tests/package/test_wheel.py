"""The package a Python user gets: sdist and wheel built from a clean clone, the wheel
installed into a fresh venv with no Node.js on its PATH, served from another directory and
loaded in Chromium.

Slow (a build, a venv, a dependency install: about a minute): markers ``e2e`` (kept out of
``make test-fast``) and ``package`` (``pytest -m package`` runs just these). The clone is of
the committed HEAD, as a new user's checkout would be.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from support import ROOT, Page, Server, require, tools_missing

pytestmark = [pytest.mark.e2e, pytest.mark.package]
require(tools_missing("git", "npm"))

VENDOR_FILES = ("socket.io.min.js", "uPlot.iife.min.js", "uPlot.min.css")


def run(*command, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, f"{command}: {result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """sdist and wheel of a fresh clone, built the way PyPA's `build` does (sdist, then
    the wheel from the unpacked sdist)."""
    tmp = tmp_path_factory.mktemp("package")
    clone = tmp / "clone"
    run("git", "clone", "-q", str(ROOT), str(clone))
    assert not (clone / "src/hostpulse/web/static/vendor").exists()  # nothing vendored in git
    out = tmp / "dist"
    run(sys.executable, "-m", "build", "--outdir", str(out), str(clone))
    return out


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> Path:
    """A fresh venv with only the wheel (and its dependencies) installed, Node.js out of
    reach: the PATH names the venv alone."""
    where = tmp_path_factory.mktemp("venv") / "venv"
    run(sys.executable, "-m", "venv", str(where))
    (wheel,) = dist.glob("hostpulse-*.whl")
    run(
        str(where / "bin" / "pip"),
        "install",
        "-q",
        str(wheel),
        env=node_free_env(where),
    )
    return where


def node_free_env(venv: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOSTPULSE_", "PYTHON"))}
    env["PATH"] = str(venv / "bin")
    return env


def installed_static(venv: Path) -> Path:
    code = "import hostpulse.web, pathlib; print(pathlib.Path(hostpulse.web.__file__).parent)"
    out = run(str(venv / "bin" / "python"), "-c", code, env=node_free_env(venv)).stdout
    return Path(out.strip()) / "static"


def test_sdist_and_wheel_carry_the_browser_files_and_the_license(dist):
    (wheel,) = dist.glob("hostpulse-*.whl")
    (sdist,) = dist.glob("hostpulse-*.tar.gz")
    names = zipfile.ZipFile(wheel).namelist()
    for name in VENDOR_FILES:
        assert f"hostpulse/web/static/vendor/{name}" in names
    license_files = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert license_files, names
    text = zipfile.ZipFile(wheel).read(license_files[0]).decode()
    assert text.startswith("MIT License")
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: MIT" in zipfile.ZipFile(wheel).read(metadata).decode()
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    for name in VENDOR_FILES:
        assert f"src/hostpulse/web/static/vendor/{name}" in members
    assert {"LICENSE", "package-lock.json", "setup.py"} <= members
    assert not any(m.startswith("node_modules") for m in members)


def test_wheel_in_a_fresh_venv_serves_a_working_page(venv, browser, tmp_path):
    elsewhere = tmp_path / "elsewhere"  # not the checkout: the package must find its files
    elsewhere.mkdir()
    server = Server(
        tmp_path,
        python=str(venv / "bin" / "python"),
        cwd=elsewhere,
        extra_env={"PATH": str(venv / "bin")},
    )
    server.start()
    page = Page(browser, server.url)
    try:
        page.open()  # connected, and a number in the CPU gauge
        page.wait_ticks(2)
        assert page.page.locator("[data-testid=assets-missing]").count() == 0
        assert page.page.locator("#cpu-chart canvas").count() == 1  # uPlot drew
        assert page.problems == []
    finally:
        page.close()
        server.stop()
    assert "browser files missing" not in server.output()


def test_missing_browser_files_are_named_in_the_log_and_on_the_page(venv, browser, tmp_path):
    vendor = installed_static(venv) / "vendor"
    aside = tmp_path / "vendor-aside"
    shutil.move(vendor, aside)
    server = Server(tmp_path, python=str(venv / "bin" / "python"), cwd=tmp_path)
    try:
        server.start()
        page = Page(browser, server.url)
        try:
            page.page.goto(server.url + "/")
            banner = page.page.locator("[data-testid=assets-missing]")
            assert banner.is_visible()
            assert "cannot run" in banner.text_content()
            assert "vendor/socket.io.min.js" in banner.text_content()
            assert "make assets" in banner.text_content()
            page.page.wait_for_function(
                "() => document.querySelector('#conn-state').dataset.state === 'error'"
            )
            # no full CPU ring beside "–%": the gauge starts empty
            dash = page.page.get_attribute("#cpu-gauge-value", "stroke-dasharray")
            assert dash.startswith("0 "), dash
            assert page.problems == []  # no MIME errors: the page names no missing file
        finally:
            page.close()
    finally:
        server.stop()
        shutil.move(aside, vendor)
    log = server.output()
    assert "ERROR" in log and "browser files missing" in log
    for name in VENDOR_FILES:
        assert f"vendor/{name}" in log
    assert "make assets" in log
