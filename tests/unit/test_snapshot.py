"""`hostpulse snapshot`'s table: the order a person reads and honest wording."""

from hostpulse.sample import Sample
from hostpulse.snapshot import format_table


def keys_in_order(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines()[3:] if line and "." in line.split()[0]]


def test_keys_in_natural_order_family_first():
    values = {k: 1.0 for k in ("load.15", "load.5", "load.1", "cpu.core.10", "cpu.core.2")}
    values["cpu.total"] = 5.0
    text = format_table({"hostname": "h"}, Sample(seq=1, ts=0.0, values=values))
    assert keys_in_order(text) == [
        "cpu.core.2",
        "cpu.core.10",
        "cpu.total",
        "load.1",
        "load.5",
        "load.15",
    ]


def test_process_count_is_not_called_running():
    table = {"count": 83, "by_cpu": [{"pid": 1, "cpu": 0.5, "rss": 1024, "name": "init"}]}
    sample = Sample(seq=1, ts=0.0, values={"cpu.total": 1.0}, tables={"processes": table})
    text = format_table({}, sample)
    assert "top processes by CPU (of 83 processes):" in text
    assert "running" not in text
