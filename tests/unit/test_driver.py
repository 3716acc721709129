"""The websocket driver's hold on python-engineio, python-socketio and gevent (web/driver.py):
the releases it supports are the ones pyproject.toml pins, their internals it uses are there,
and a server refuses to start on anything else, in one line."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import engineio.socket
import pytest

from hostpulse.web import driver

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def pinned() -> dict[str, str]:
    """Requirement name -> its specifier, from pyproject.toml's dependencies."""
    found = {}
    for requirement in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]:
        match = re.match(r"([A-Za-z0-9_.-]+)\s*(.*)", requirement)
        found[match[1].lower()] = match[2].replace(" ", "")
    return found


def test_pyproject_pins_exactly_the_supported_releases():
    pins = pinned()
    for name, prefix in driver.SUPPORTED.items():
        assert pins.get(name.lower()) == f"=={prefix}.*", name
    # Flask-SocketIO sits between them: pinned to what the tests ran on too.
    assert pins["flask-socketio"].startswith("=="), pins["flask-socketio"]


def test_the_installed_releases_are_supported_and_have_every_internal_the_driver_uses():
    assert driver.missing_internals() == []
    driver.check()  # raises on anything else


def test_another_release_is_refused_in_one_line(monkeypatch):
    real = metadata.version
    monkeypatch.setattr(
        metadata, "version", lambda name: "4.16.0" if name == "python-engineio" else real(name)
    )
    with pytest.raises(driver.UnsupportedEngine) as refused:
        driver.check()
    message = str(refused.value)
    assert "python-engineio 4.16.0" in message and "4.15.x" in message and "\n" not in message


def test_a_missing_internal_is_named(monkeypatch):
    monkeypatch.delattr(engineio.socket.Socket, "schedule_ping")
    assert driver.missing_internals() == ["engineio.socket.Socket.schedule_ping()"]
    with pytest.raises(driver.UnsupportedEngine, match="schedule_ping"):
        driver.check()


def test_a_changed_signature_counts_as_missing(monkeypatch):
    monkeypatch.setattr(engineio.socket.Socket, "_websocket_handler", lambda self, ws, extra: [])
    assert "engineio.socket.Socket._websocket_handler(ws)" in driver.missing_internals()
