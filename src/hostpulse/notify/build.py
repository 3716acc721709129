"""A Notifier made from Settings (runtime.py), and the test message of ``alerts test``."""

from __future__ import annotations

import socket
import time

from hostpulse.config import Settings
from hostpulse.notify.ledger import LocalLedger, RedisLedger
from hostpulse.notify.message import TYPE_INFO, Message
from hostpulse.notify.notifier import Notifier
from hostpulse.notify.targets import Target, build_targets


def build_notifier(settings: Settings) -> Notifier | None:
    """None when no URL is configured; raises ConfigError for a URL Apprise cannot use."""
    if not settings.notify_targets:
        return None
    targets = build_targets(settings)
    if settings.redis is not None:
        ledger = RedisLedger(settings.redis)
    else:
        ledger = LocalLedger(None if settings.memory_only else settings.data_dir / "notify.sqlite")
    return Notifier(targets, ledger, settings.notify_public_url, settings.notify_repeat)


def test_message(settings: Settings) -> Message:
    where = settings.host_id or socket.gethostname()
    link = f"\n\nThe dashboard: {settings.notify_public_url}/" if settings.notify_public_url else ""
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    body = f"A test message from hostpulse on {where} at {when}: alerts reach you here.{link}"
    return Message("[TEST] hostpulse notifications", body, TYPE_INFO)


def send_test(settings: Settings) -> list[tuple[Target, str | None]]:
    """Send the test message once to every configured URL: (target, None or the error)."""
    message = test_message(settings)
    return [(target, target.send(message)) for target in build_targets(settings)]
