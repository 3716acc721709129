"""Notification parts without a network: the message, the [notify] settings, targets and
their routing, the local ledger, submit()."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hostpulse import config
from hostpulse.alerts.transition import CRITICAL, FIRING, OK, PENDING, RESOLVED, WARNING, Transition
from hostpulse.notify.ledger import DONE, MINE, LocalLedger
from hostpulse.notify.message import compose, duration, window_link
from hostpulse.notify.notifier import DROPPED, Notifier
from hostpulse.notify.targets import build_targets

SINCE = 1_800_000_000.0
ROWS = tuple(
    {
        "pid": 100 + i,
        "name": f"proc{i}",
        "user": "alice",
        "cpu": 90.0 - i,
        "rss": 2**20 * i,
        "cmd": "",
    }
    for i in range(7)
)


def firing(**changes) -> Transition:
    base = Transition(
        host="web 1", rule="cpu-busy", instance="cpu.total", state=FIRING, severity=CRITICAL,
        ts=SINCE + 312, value=97.25, since=SINCE, detail="", processes=ROWS,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def test_a_firing_message_says_host_rule_value_how_long_top_five_and_the_window_link():
    message = compose(firing(detail="over 90 % for 5 min"), "https://dash.example.com/")
    assert message.title == "[CRITICAL] cpu-busy on web 1 cpu.total"
    assert message.kind == "failure"
    body = message.body
    assert "cpu-busy on web 1 is firing (critical)" in body
    assert "cpu.total is 97.2 %, for 5 min 12 s" in body
    assert "over 90 % for 5 min" in body
    assert [f"proc{i}" in body for i in range(7)] == [True] * 5 + [False] * 2
    assert "100 proc0 (alice): 90 % CPU" in body
    # The window link's shape, the host id quoted, 15 min either side of the episode.
    link = (
        f"https://dash.example.com/host/web%201?from={int(SINCE) - 900}&to={int(SINCE) + 312 + 900}"
    )
    assert body.endswith(link)


def test_a_resolved_message_is_a_recovery_without_processes():
    t = firing(state=RESOLVED, ts=SINCE + 3700, value=12.0, processes=())
    message = compose(t, None)
    assert message.title == "[RESOLVED] cpu-busy on web 1 cpu.total"
    assert message.kind == "success"
    assert "resolved after 1 h 1 min" in message.body
    assert "is now 12.0 %" in message.body
    assert "http" not in message.body  # no public_url: no link
    assert window_link(None, t) is None


def test_a_warning_a_repeat_and_a_host_rule_read_as_such():
    warning = compose(firing(severity=WARNING), None)
    assert warning.title.startswith("[WARNING]") and warning.kind == "warning"
    again = compose(firing(), None, repeat=2, now=SINCE + 7200)
    assert again.title.endswith("(still firing, repeat 2)")
    assert "for 2 h" in again.body
    offline = compose(firing(rule="offline", instance="web 1", value=None, processes=()), None)
    assert offline.title == "[CRITICAL] offline on web 1"
    assert "the host is unknown" in offline.body


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(4, "4 s"), (60, "1 min"), (312, "5 min 12 s"), (7300, "2 h 1 min"), (200000, "2 d 7 h")],
)
def test_durations(seconds, text):
    assert duration(seconds) == text


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hostpulse.toml"
    path.write_text(text)
    return path


def test_the_notify_table_fills_the_notify_settings(tmp_path):
    path = write(
        tmp_path,
        '[notify]\nurls = ["json://127.0.0.1:9/a"]\ncritical = ["json://127.0.0.1:9/pager"]\n'
        'public_url = "https://dash.example.com/"\nrepeat = "2h"\n',
    )
    settings = config.load(path, environ={})
    assert settings.notify_urls == ("json://127.0.0.1:9/a",)
    assert settings.notify_critical == ("json://127.0.0.1:9/pager",)
    assert settings.notify_public_url == "https://dash.example.com"
    assert settings.notify_repeat == 7200
    env = config.load(environ={"HOSTPULSE_NOTIFY_URLS": "json://a/x mailto://b?to=c,d"})
    assert env.notify_urls == ("json://a/x", "mailto://b?to=c,d")  # commas stay in a URL


@pytest.mark.parametrize(
    ("text", "setting", "reason"),
    [
        ('[notify]\nurls = ["slack"]', "notify_urls", "not an Apprise URL"),
        ('[notify]\nrepeat = "5x"', "notify_repeat", "duration from 60 s"),
        ("[notify]\nrepeat = 10", "notify_repeat", "duration from 60 s"),
        ('[notify]\npublic_url = "dash.example.com"', "notify_public_url", "http:// or https://"),
        ("[notify]\nurl = []", "notify_url", "unknown setting"),
    ],
)
def test_bad_notify_settings_are_refused_naming_the_setting(tmp_path, text, setting, reason):
    with pytest.raises(config.ConfigError) as caught:
        config.load(write(tmp_path, text), environ={})
    assert setting in str(caught.value) and reason in str(caught.value)


def test_a_refused_url_does_not_echo_its_secret(tmp_path):
    with pytest.raises(config.ConfigError) as caught:
        config.load(write(tmp_path, '[notify]\nurls = ["tok3n-s3cret"]'), environ={})
    assert "tok3n" not in str(caught.value) and "URL number 1" in str(caught.value)
    explained = config.explain(config.Settings(notify_urls=("json://user:s3cret@h/x",)))
    assert "s3cret" not in explained and 'notify_urls = ["json://***"]' in explained


def test_targets_route_by_severity_and_each_url_is_one_target():
    settings = config.Settings(
        notify_urls=("json://127.0.0.1:9/all",),
        notify_warning=("json://127.0.0.1:9/team",),
        notify_critical=("json://127.0.0.1:9/pager", "json://127.0.0.1:9/all"),
    )
    targets = {t.shown.rsplit("/", 1)[-1]: t for t in build_targets(settings)}
    assert set(targets) == {"all", "team", "pager"}
    assert targets["all"].wants(WARNING) and targets["all"].wants(CRITICAL)
    assert targets["team"].wants(WARNING) and not targets["team"].wants(CRITICAL)
    assert targets["pager"].wants(CRITICAL) and not targets["pager"].wants(WARNING)


def test_a_url_apprise_cannot_use_names_its_setting():
    with pytest.raises(config.ConfigError, match=r"'notify_critical'.*nosuchservice://"):
        build_targets(config.Settings(notify_critical=("nosuchservice://x",)))


def test_the_local_ledger_remembers_across_a_restart(tmp_path):
    ledger = LocalLedger(tmp_path / "notify.sqlite")
    assert ledger.claim("t1:a").status == MINE
    ledger.finish("t1:a", "sent")
    ledger.close()
    again = LocalLedger(tmp_path / "notify.sqlite")
    assert again.claim("t1:a").status == DONE
    assert again.result("t1:a") == "sent"
    assert again.claim("t2:a").status == MINE
    again.close()


def test_submit_takes_firing_and_resolved_only_and_never_raises():
    notifier = Notifier([], LocalLedger(None))  # not started: the queue only fills
    for state in (PENDING, OK):
        notifier.submit(firing(state=state))
    assert notifier.pending == 0
    notifier.submit(firing())
    notifier.submit(firing(state=RESOLVED))
    assert notifier.pending == 2
    notifier.submit(None)  # not even a Transition
    assert notifier.counts[DROPPED] == 1
