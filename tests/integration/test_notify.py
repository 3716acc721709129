"""Notifications delivered for real: Apprise's json:// to an HTTP receiver and mailto:// to an
SMTP server (aiosmtpd), both on loopback ports (tests/notify_support.py); retries while a
receiver is down, the local ledger across a restart, repeats, `hostpulse alerts test`, and
a served /metrics."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import time

import pytest

from hostpulse.alerts.transition import CRITICAL, FIRING, PENDING, RESOLVED, WARNING, Transition
from hostpulse.config import Settings
from hostpulse.notify import build_notifier
from hostpulse.notify.ledger import LocalLedger
from hostpulse.notify.notifier import DUPLICATE, FAILED, RETRIED, SENT, Notifier
from hostpulse.notify.targets import build_targets
from notify_support import JsonReceiver, SmtpReceiver
from support import Server, free_port, http_get

pytestmark = pytest.mark.integration


def transition(state=FIRING, severity=CRITICAL, rule="cpu-busy", since=None) -> Transition:
    now = time.time()
    return Transition(
        host="web1", rule=rule, instance="cpu.total", state=state, severity=severity,
        ts=now, value=97.5 if state == FIRING else 10.0, since=since or now - 300,
        processes=({"pid": 4242, "name": "burner", "user": "bob", "cpu": 99.0, "rss": 2**24,
                    "cmd": "burner --hot"},),
    )  # fmt: skip


@pytest.fixture
def running():
    started = []

    def start(settings: Settings, **changes) -> Notifier:
        notifier = build_notifier(settings)
        for name, value in changes.items():
            setattr(notifier, name, value)
        notifier.start()
        started.append(notifier)
        return notifier

    yield start
    for notifier in started:
        notifier.stop()


def test_firing_and_resolved_reach_a_webhook_and_a_mailbox_once(tmp_path, running):
    with JsonReceiver() as hook, SmtpReceiver() as mail:
        settings = Settings(
            data_dir=tmp_path,
            notify_urls=(hook.url(), mail.url()),
            notify_public_url="https://dash.example.com",
        )
        notifier = running(settings)
        fired = transition()
        notifier.submit(transition(state=PENDING))  # not notified
        notifier.submit(fired)
        notifier.submit(fired)  # every worker, every retry of the engine may submit it again
        resolved = dataclasses.replace(fired, state=RESOLVED, ts=fired.ts + 60, value=10.0)
        notifier.submit(resolved)
        posts, mails = hook.wait_for(2), mail.wait_for(2)
        time.sleep(0.5)
        assert len(hook.messages) == 2 and len(mail.messages) == 2
    assert [p["title"] for p in posts] == [
        "[CRITICAL] cpu-busy on web1 cpu.total",
        "[RESOLVED] cpu-busy on web1 cpu.total",
    ]
    assert posts[0]["type"] == "failure" and posts[1]["type"] == "success"
    assert "burner (bob): 99 % CPU" in posts[0]["message"]
    link = f"https://dash.example.com/host/web1?from={int(fired.since) - 900}&to="
    assert link in posts[0]["message"] and link in posts[1]["message"]
    assert mails[0]["subject"] == posts[0]["title"]
    assert mails[0]["to"] == ["ops@example.com"]
    assert "cpu.total is 97.5 %, for 5 min" in mails[0]["body"]
    assert "burner --hot" in mails[0]["body"]
    assert "resolved after 6 min" in mails[1]["body"]
    assert notifier.counts[SENT] == 4 and notifier.counts[DUPLICATE] == 2


def test_stop_sends_what_was_submitted_just_before(tmp_path):
    with JsonReceiver() as hook:
        notifier = build_notifier(Settings(data_dir=tmp_path, notify_urls=(hook.url(),)))
        notifier.start()
        notifier.submit(transition())  # the last transition of a stopping server
        notifier.stop()
        assert len(hook.messages) == 1 and notifier.counts[SENT] == 1


def test_a_slow_service_holds_only_its_own_messages(tmp_path, running):
    with JsonReceiver(delay=4.0) as slow, JsonReceiver() as fast:
        notifier = running(Settings(data_dir=tmp_path, notify_urls=(slow.url(), fast.url())))
        for rule in ("first", "second", "third"):
            notifier.submit(transition(rule=rule))
        started = time.monotonic()
        fast.wait_for(3, timeout=3)
        assert time.monotonic() - started < 3  # not behind the slow one's 4 s answers
        assert len(slow.messages) == 1


def test_severity_routing(tmp_path, running):
    with JsonReceiver() as everyone, JsonReceiver() as pager, JsonReceiver() as team:
        settings = Settings(
            data_dir=tmp_path,
            notify_urls=(everyone.url(),),
            notify_critical=(pager.url(),),
            notify_warning=(team.url(),),
        )
        notifier = running(settings)
        notifier.submit(transition(severity=WARNING, rule="mem-high"))
        notifier.submit(transition(severity=CRITICAL, rule="cpu-busy"))
        everyone.wait_for(2)
        pager.wait_for(1)
        team.wait_for(1)
        time.sleep(0.5)
        assert [m["title"].split()[1] for m in everyone.messages] == ["mem-high", "cpu-busy"]
        assert [m["title"].split()[1] for m in pager.messages] == ["cpu-busy"]
        assert [m["title"].split()[1] for m in team.messages] == ["mem-high"]


def test_a_restart_does_not_send_again_what_was_sent(tmp_path, running):
    fired = transition()
    with JsonReceiver() as hook:
        settings = Settings(data_dir=tmp_path, notify_urls=(hook.url(),))
        first = running(settings)
        first.submit(fired)
        hook.wait_for(1)
        time.sleep(0.2)
        first.stop()
        second = running(settings)  # a new process would read the same notify.sqlite
        second.submit(fired)
        deadline = time.monotonic() + 5
        while second.counts[DUPLICATE] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.counts[DUPLICATE] == 1 and second.counts[SENT] == 0
        assert len(hook.messages) == 1


def test_a_receiver_down_a_few_seconds_gets_the_message_once_and_the_log_says_it_once(
    tmp_path, running, caplog
):
    port = free_port()
    hook = JsonReceiver(port)
    settings = Settings(data_dir=tmp_path, notify_urls=(hook.url(),))
    caplog.set_level(logging.INFO, logger="hostpulse.notify")
    notifier = running(settings)
    notifier.submit(transition())
    notifier.submit(transition(rule="second"))
    time.sleep(3)  # both tried (and failed) once
    assert notifier.counts[RETRIED] >= 2 and notifier.counts[SENT] == 0
    with hook:
        messages = hook.wait_for(2, timeout=15)
        time.sleep(0.5)
        assert len(hook.messages) == 2
    assert {m["title"].split()[1] for m in messages} == {"cpu-busy", "second"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings  # one URL, one error: one line, not one per try
    assert f"127.0.0.1:{port}" in warnings[0] and "retrying" in warnings[0]
    assert "Connection error" in warnings[0]  # Apprise's reason, kept for this line
    again = [r.getMessage() for r in caplog.records if "delivers again" in r.getMessage()]
    assert len(again) == 1


@pytest.mark.slow
def test_the_receiver_down_30_s_then_up_gets_the_message_once(tmp_path, running):
    hook = JsonReceiver()
    notifier = running(Settings(data_dir=tmp_path, notify_urls=(hook.url(),)))
    notifier.submit(transition())
    time.sleep(30)
    assert notifier.counts[SENT] == 0 and notifier.counts[RETRIED] >= 3
    with hook:
        hook.wait_for(1, timeout=MAX_WAIT_AFTER_30S)
        time.sleep(2)
        assert len(hook.messages) == 1
    assert notifier.counts[SENT] == 1 and notifier.counts[FAILED] == 0


#: Tries at 0, 5, 15, 35 s, 75 s (5 s doubling): after 30 s down, the next within 45 s.
MAX_WAIT_AFTER_30S = 50


def test_a_receiver_that_never_comes_back_is_given_up_after_the_retry_window(tmp_path):
    settings = Settings(data_dir=tmp_path, notify_urls=(f"json://127.0.0.1:{free_port()}/x",))
    ledger = LocalLedger(tmp_path / "notify.sqlite")
    notifier = Notifier(build_targets(settings), ledger, retry_for=2.0, first_retry=0.5)
    notifier.start()
    try:
        fired = transition()
        notifier.submit(fired)
        deadline = time.monotonic() + 15
        while (notifier.counts[FAILED] == 0 or notifier.pending) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert notifier.counts[FAILED] == 1 and notifier.pending == 0
        key = f"{fired.id}:{notifier.targets[0].key}"
        assert ledger.result(key) == FAILED
    finally:
        notifier.stop()


def test_a_still_firing_critical_alert_repeats_and_stops_when_resolved(tmp_path, running):
    with JsonReceiver() as hook:
        notifier = running(Settings(data_dir=tmp_path, notify_urls=(hook.url(),)), repeat=1.0)
        fired = transition(severity=CRITICAL)
        notifier.submit(fired)
        notifier.submit(transition(severity=WARNING, rule="warn-only"))  # no repeats
        hook.wait_for(4, timeout=10)
        notifier.submit(dataclasses.replace(fired, state=RESOLVED, ts=time.time()))
        time.sleep(2.5)
    titles = [m["title"] for m in hook.messages]
    repeats = [t for t in titles if "still firing" in t]
    assert repeats and all(t.startswith("[CRITICAL] cpu-busy") for t in repeats)
    assert titles.count("[RESOLVED] cpu-busy on web1 cpu.total") == 1
    assert titles.index("[RESOLVED] cpu-busy on web1 cpu.total") == len(titles) - 1


def alerts_test(config_file) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hostpulse", "alerts", "test", "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_alerts_test_sends_to_every_url_and_says_which_failed(tmp_path):
    dead = free_port()
    with JsonReceiver() as hook, SmtpReceiver() as mail:
        config_file = tmp_path / "hostpulse.toml"
        config_file.write_text(
            f'[notify]\nurls = ["{hook.url()}"]\ncritical = ["{mail.url()}"]\n'
            f'warning = ["json://127.0.0.1:{dead}/nobody"]\n'
        )
        done = alerts_test(config_file)
        assert done.returncode == 1, done.stderr
        lines = done.stdout.splitlines()
        assert lines[0] == f"ok     json://127.0.0.1:{hook.port}/hook"
        assert lines[1].startswith(f"FAILED json://127.0.0.1:{dead}/nobody: ")
        assert "Connection error" in lines[1]
        assert lines[2] == f"ok     mailto://127.0.0.1:{mail.port}/ops%40example.com"
        assert hook.wait_for(1)[0]["title"] == "[TEST] hostpulse notifications"
        assert mail.wait_for(1)[0]["subject"] == "[TEST] hostpulse notifications"
        # All delivered: exit 0.
        config_file.write_text(f'[notify]\nurls = ["{hook.url()}", "{mail.url()}"]\n')
        done = alerts_test(config_file)
        assert done.returncode == 0 and done.stdout.count("ok ") == 2


def test_alerts_test_without_urls_or_with_a_bad_one_is_a_config_error(tmp_path):
    config_file = tmp_path / "hostpulse.toml"
    config_file.write_text("port = 9000\n")
    done = alerts_test(config_file)
    assert done.returncode == 2 and "no notification URLs" in done.stderr
    config_file.write_text('[notify]\nurls = ["nosuchservice://x"]\n')
    done = alerts_test(config_file)
    assert done.returncode == 2 and "'notify_urls'" in done.stderr


def test_serve_with_urls_counts_notifications_on_metrics(tmp_path):
    server = Server(tmp_path, extra_env={"HOSTPULSE_NOTIFY_URLS": "json://127.0.0.1:9/x"})
    server.start()
    try:
        status, _, body = http_get(server.url + "/metrics")
        text = body.decode()
        assert status == 200
        assert 'hostpulse_notifications_total{result="sent"} 0.0' in text
        assert "hostpulse_notifications_pending 0.0" in text
    finally:
        server.stop()
