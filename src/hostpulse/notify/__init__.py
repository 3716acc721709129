"""Notifications: alerts told to people through Apprise, each exactly once.

- ``message.py``: what a message says (a Transition put into words, with its link);
- ``targets.py``: where it goes (one Apprise URL each, with its severities);
- ``ledger.py``: who sends it and whether it was sent (Redis or a local SQLite file);
- ``notifier.py``: the delivery thread (queue, retries, counts);
- ``build.py``: the Notifier made from Settings, and ``alerts test``'s one-off sends.
"""

from hostpulse.notify.build import build_notifier, send_test
from hostpulse.notify.notifier import Notifier

__all__ = ["Notifier", "build_notifier", "send_test"]
