"""Alert rules from the config file: the shipped defaults, changing and switching them off,
and a bad rule refused with one line naming it (alerts/rules.py, alerts/patterns.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hostpulse import config
from hostpulse.alerts import rules
from hostpulse.alerts.patterns import host_pattern, key_pattern
from hostpulse.config import ConfigError


def by_name(settings) -> dict[str, rules.Rule]:
    return {rule.name: rule for rule in settings.alerts}


def load(tmp_path: Path, text: str):
    path = tmp_path / "hp.toml"
    path.write_text(text)
    return config.load(path, environ={})


def test_the_shipped_defaults_are_the_issue_s_list():
    got = by_name(config.load(environ={}))
    assert set(got) == {"cpu-busy", "memory-full", "swap-used", "load-high", "fs-warning",
                        "fs-critical", "fs-filling", "temp-high", "temp-critical",
                        "host-offline"}  # fmt: skip
    cpu = got["cpu-busy"]
    assert (cpu.key.text, cpu.above, cpu.threshold, cpu.for_s) == ("cpu.total", True, 90, 300)
    assert (got["memory-full"].key.text, got["memory-full"].threshold) == ("mem.percent", 90)
    assert (got["swap-used"].threshold, got["swap-used"].for_s) == (50, 600)
    load5 = got["load-high"]
    assert (load5.key.text, load5.per_core, load5.threshold) == ("load.5", True, 2)
    assert load5.for_s == 600
    assert (got["fs-warning"].threshold, got["fs-warning"].severity) == (90, "warning")
    assert (got["fs-critical"].threshold, got["fs-critical"].severity) == (95, "critical")
    trend = got["fs-filling"]
    assert (trend.kind, trend.within_s, trend.window_s) == ("trend", 86400, 3600)
    assert (got["temp-high"].mark, got["temp-critical"].mark) == ("high", "crit")
    assert (got["host-offline"].kind, got["host-offline"].for_s) == ("offline", 60)


def test_the_issue_s_example_table_and_a_default_changed_and_one_switched_off(tmp_path):
    settings = load(
        tmp_path,
        '[[alerts]]\nname = "cpu-hot"\nkey = "cpu.total"\nabove = 90\nfor = "5m"\nclear = 80\n'
        'severity = "critical"\n\n'
        '[[alerts]]\nname = "cpu-busy"\nabove = 95\n\n'
        '[[alerts]]\nname = "swap-used"\nenabled = false\n\n'
        '[[alerts]]\nname = "disk-quiet"\nkey = "disk.*.read_bps"\nbelow = 10\nfor = 30\n'
        'hosts = ["db-*", "web-1"]\n',
    )
    got = by_name(settings)
    assert got["cpu-hot"].severity == "critical" and got["cpu-hot"].clear == 80
    changed = got["cpu-busy"]  # only what was given changed; the old clear went with the old 90
    assert (changed.key.text, changed.threshold, changed.clear, changed.for_s) == (
        "cpu.total", 95, 95, 300)  # fmt: skip
    assert got["swap-used"].enabled is False
    quiet = got["disk-quiet"]
    assert (quiet.above, quiet.threshold, quiet.clear, quiet.for_s) == (False, 10, 10, 30)
    assert quiet.hosts.matches("db-7") and quiet.hosts.matches("web-1")
    assert not quiet.hosts.matches("web-12")


def test_rules_from_the_environment_are_json():
    env = {"HOSTPULSE_ALERTS": json.dumps([{"name": "fs-warning", "above": 80, "clear": 75}])}
    assert by_name(config.load(environ=env))["fs-warning"].threshold == 80


def test_explain_writes_rules_that_load_back(tmp_path):
    text = '[[alerts]]\nname = "x"\nkey = "net.*.rx_bps"\nabove = 1e6\nhosts = "web-*"\n'
    settings = load(tmp_path, text + '[[alerts]]\nname = "load-high"\nenabled = false\n')
    pasted = tmp_path / "pasted.toml"
    pasted.write_text(config.explain(settings))
    assert config.load(pasted, environ={}) == settings


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('name = "a"\nkey = "fs.**.percent"\nabove = 1', "rule 'a': key 'fs.**.percent' is no key"),
        ('name = "a"\nkey = "*.percent"\nabove = 1', "rule 'a': key '*.percent': the family"),
        ('name = "a"\nkey = "cpu total"\nabove = 1', "rule 'a': key 'cpu total' is no key"),
        ('name = "a"\nkey = "cpu"\nabove = 1', "rule 'a': key 'cpu': the family"),
        ('name = "a"\nkey = "cpu.total"\nabove = "high"', "rule 'a': above must be a number"),
        ('name = "a"\nkey = "cpu.total"\nabove = 9\nfor = "5 minutes"', "rule 'a': for must be"),
        ('name = "a"\nkey = "cpu.total"\nabove = 9\nfor = -1', "rule 'a': for must be from 0"),
        ('name = "a"\nkey = "cpu.total"', "rule 'a': needs exactly one of above"),
        ('name = "a"\nkey = "cpu.total"\nabove = 9\nbelow = 1', "rule 'a': needs exactly one"),
        ('name = "a"\nkey = "cpu.total"\nabove = 9\nclear = 95', "rule 'a': clear must be at or"),
        ('name = "a"\nkey = "cpu.total"\nabove = 9\nseverity = "page"', "rule 'a': severity"),
        ('name = "a"\nkey = "cpu.total"\nabove = 9\nthreshold = 3', "unknown field 'threshold'"),
        ('name = "a"\nabove = 9', "rule 'a': key is missing"),
        ('name = "a b"\nkey = "cpu.total"\nabove = 9', "rule #1: name must be"),
        ('key = "cpu.total"\nabove = 9', "rule #1: name must be"),
        ('name = "cpu-busy"\nfor = "soon"', "rule 'cpu-busy': for must be"),
        ('name = "a"\nkind = "offline"\nkey = "cpu.total"', "key does not apply to offline"),
        ('name = "a"\nkey = "temp.*.celsius"\nabove_mark = "hi gh"', "above_mark must name"),
        ('name = "a"\nkey = "cpu.total"\nabove = 9\nhosts = 3', "rule 'a': hosts must be"),
        ('name = "a"\nkey = "cpu.total"\nabove = 9\nenabled = "no"', "enabled must be true"),
    ],
)
def test_a_bad_rule_is_one_line_naming_it(tmp_path, table, message):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, f"[[alerts]]\n{table}\n")
    text = str(caught.value)
    assert text.startswith("setting 'alerts' from config file ") and message in text, text
    assert "\n" not in text


def test_two_rules_of_one_name_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="rule 'x': a second rule of that name"):
        load(tmp_path, '[[alerts]]\nname = "x"\nkey = "cpu.total"\nabove = 1\n' * 2)


def test_patterns_match_instances_with_dots_and_only_their_family():
    fs = key_pattern("fs.*.percent")
    assert fs.matches("fs./.percent") and fs.matches("fs./mnt/a.b.percent")
    assert not fs.matches("fs./.used") and not fs.matches("fs..percent")
    cores = key_pattern("cpu.core.*")
    assert cores.matches("cpu.core.0") and not cores.matches("cpu.total")
    assert key_pattern("cpu.total").is_exact and key_pattern("cpu.total").matches("cpu.total")
    assert key_pattern("container.*.cpu").matches("container.web-1.cpu")
    hosts = host_pattern("web-*")
    assert hosts.matches("web-") and hosts.matches("web-9") and not hosts.matches("db-1")
    assert host_pattern(None).matches("anything")
