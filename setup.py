"""Build hook: a wheel or sdist carries the three browser files, built from npm at build time.

Everything else about the package is in pyproject.toml. The files under
src/hostpulse/web/static/vendor/ are never committed (no vendored code, no CDN); before
``build_py`` (wheel) and ``sdist`` copy the package data, scripts/install-assets.sh fetches
them with ``npm ci`` from package-lock.json when they are missing. A wheel built from the
sdist finds them already there, so only the machine that builds needs Node.js; an editable
install (``make setup``) leaves them to ``make assets``.
"""

import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
VENDOR = ROOT / "src" / "hostpulse" / "web" / "static" / "vendor"
FILES = ("socket.io.min.js", "uPlot.iife.min.js", "uPlot.min.css")  # web/assets.py's list


def ensure_assets() -> None:
    if all((VENDOR / name).is_file() for name in FILES):
        return
    script = ROOT / "scripts" / "install-assets.sh"
    if not script.is_file():
        raise SystemExit(f"hostpulse build: {VENDOR} lacks its files and {script} is missing")
    try:
        subprocess.run(["sh", str(script)], cwd=ROOT, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(
            "hostpulse build: the browser files come from npm at build time; install "
            f"Node.js >= 18 with npm on the build machine ({exc})"
        ) from None


class BuildPyWithAssets(build_py):
    def run(self):
        if not getattr(self, "editable_mode", False):
            ensure_assets()
        super().run()


class SdistWithAssets(sdist):
    def run(self):
        ensure_assets()
        super().run()


setup(cmdclass={"build_py": BuildPyWithAssets, "sdist": SdistWithAssets})
