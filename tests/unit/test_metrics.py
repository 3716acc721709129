"""The key grammar: building, parsing, units."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostpulse import metrics
from hostpulse.metrics import Key

_WORD = st.text(alphabet=st.characters(codec="ascii"), min_size=1)
_SAFE_WORD = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cpu.total", Key("cpu", None, "total")),
        ("load.1", Key("load", None, "1")),
        ("cpu.core.3", Key("cpu", "core", "3")),
        ("fs./.used", Key("fs", "/", "used")),
        ("fs./mnt/a.b.used", Key("fs", "/mnt/a.b", "used")),
        ("net.eth0.100.rx_bps", Key("net", "eth0.100", "rx_bps")),
        ("disk.total.read_bps", Key("disk", "total", "read_bps")),
    ],
)
def test_parse_known_keys(text: str, expected: Key) -> None:
    assert metrics.parse(text) == expected


@pytest.mark.parametrize("bad", ["", "cpu", ".total", "cpu.", "fs./.", "a..b", "..", "."])
def test_bad_keys_raise(bad: str) -> None:
    with pytest.raises(ValueError):
        metrics.parse(bad)
    assert not metrics.is_valid(bad)


@pytest.mark.parametrize(("family", "field"), [("", "x"), ("a.b", "x"), ("fs", ""), ("fs", "a.b")])
def test_key_rejects_bad_parts(family: str, field: str) -> None:
    with pytest.raises(ValueError):
        metrics.key(family, field, "eth0")


def test_instance_keeps_dots_and_cleans_odd_characters() -> None:
    assert metrics.key("fs", "used", "/mnt/a.b") == "fs./mnt/a.b.used"
    assert metrics.key("net", "rx_bps", "eth0.100") == "net.eth0.100.rx_bps"
    assert metrics.key("fs", "used", "/media/My Disk") == "fs./media/My_Disk.used"
    assert metrics.key("temp", "celsius", "  ") == "temp._.celsius"


@given(family=_SAFE_WORD, field=_SAFE_WORD, instance=st.text(min_size=0, max_size=40))
def test_key_parse_round_trip(family: str, field: str, instance: str) -> None:
    text = metrics.key(family, field, instance)
    parsed = metrics.parse(text)
    assert parsed == Key(family, metrics.instance_name(instance), field)
    # Building again from the parsed parts gives the same key: names are already clean.
    assert metrics.key(parsed.family, parsed.field, parsed.instance) == text
    assert metrics.is_valid(text)


@given(family=_SAFE_WORD, field=_SAFE_WORD)
def test_key_without_instance_round_trip(family: str, field: str) -> None:
    assert metrics.parse(metrics.key(family, field)) == Key(family, None, field)


@given(raw=_WORD)
def test_instance_name_is_idempotent_and_keeps_dots(raw: str) -> None:
    once = metrics.instance_name(raw)
    assert metrics.instance_name(once) == once
    assert once.count(".") == raw.strip().count(".") or not raw.strip()


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("cpu.total", "%"),
        ("cpu.core.0", "%"),
        ("mem.percent", "%"),
        ("disk.sda.busy", "%"),
        ("load.1", ""),
        ("temp.coretemp_core_0.celsius", "°C"),
        ("fan.it87_fan1.rpm", "rpm"),
        ("net.eth0.rx_bps", "B/s"),
        ("disk.total.read_ops", "/s"),
        ("net.total.rx_pps", "/s"),
        ("net.total.dropin_ps", "/s"),
        ("mem.used", "B"),
        ("fs./var.free", "B"),
        ("swap.total", "B"),
    ],
)
def test_units(text: str, unit: str) -> None:
    assert metrics.unit_of(text) == unit


def test_human_formatting() -> None:
    assert metrics.human_bytes(1536) == "1.5 KiB"
    assert metrics.human_bytes(None) == "–"
    assert metrics.human("mem.used", 512) == "512 B"
    assert metrics.human("net.eth0.rx_bps", 2 * 1024 * 1024) == "2.0 MiB/s"
    assert metrics.human("cpu.total", 12.5) == "12.5 %"
    assert metrics.human("load.1", 0.42) == "0.42"
    assert metrics.human("temp.x.celsius", None) == "–"
