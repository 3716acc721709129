"""``hostpulse snapshot``: one sample taken over one interval, as a table or as JSON."""

from __future__ import annotations

import json
import re
import time
from typing import Any, TextIO

from hostpulse import metrics
from hostpulse.config import Settings
from hostpulse.local import build_sampler
from hostpulse.sample import Sample


def take(
    settings: Settings, interval: float, processes: bool = False
) -> tuple[dict[str, Any], Sample]:
    """Prime the counters, wait one interval, read again: the second sample has rates."""
    sampler = build_sampler(settings, interval)
    if processes:
        sampler.want("processes", "snapshot")
    sampler.tick()
    time.sleep(interval)
    sample = sampler.tick()
    facts = sampler.facts
    sampler.stop()  # closes what collectors hold open (the containers' files and thread)
    return facts, sample


def run(
    settings: Settings, interval: float, *, as_json: bool, processes: bool, out: TextIO
) -> None:
    facts, sample = take(settings, interval, processes)
    if as_json:
        document = {
            "facts": facts,
            "sample": {"seq": sample.seq, "ts": sample.ts, "values": sample.values},
        }
        if "processes" in sample.tables:
            document["processes"] = sample.tables["processes"]
        json.dump(document, out, indent=2, default=str)
        out.write("\n")
        return
    out.write(format_table(facts, sample))


def format_table(facts: dict[str, Any], sample: Sample) -> str:
    lines = [
        f"{facts.get('hostname', '?')} — {facts.get('os_pretty', '?')}, "
        f"kernel {facts.get('kernel', '?')}, {facts.get('cores_logical', '?')} cores",
        time.strftime("sampled %Y-%m-%d %H:%M:%S %Z", time.localtime(sample.ts)),
        "",
    ]
    width = max((len(k) for k in sample.values), default=10)
    lines += [
        f"{key:<{width}}  {metrics.human(key, sample.values[key]):>14}"
        for key in sorted(sample.values, key=_order)
    ]
    table = sample.tables.get("processes")
    if table:
        lines += ["", f"top processes by CPU (of {table['count']} processes):"]
        lines += [f"{'PID':>7} {'CPU%':>6} {'RSS':>10}  NAME"]
        for row in table["by_cpu"][:10]:
            cpu = "–" if row["cpu"] is None else f"{row['cpu']:.1f}"
            lines.append(
                f"{row['pid']:>7} {cpu:>6} {metrics.human_bytes(row['rss']):>10}  {row['name']}"
            )
    return "\n".join(lines) + "\n"


_FAMILY_ORDER = {f: i for i, f in enumerate(["cpu", "load", "mem", "swap", "fs", "disk", "net"])}


def _order(key: str) -> tuple:
    """By family, then naturally: load.1, load.5, load.15 and cpu.core.2 before cpu.core.10."""
    family = metrics.parse(key).family
    runs = re.split(r"(\d+)", key)
    natural = tuple((0, int(run), "") if run.isdigit() else (1, 0, run) for run in runs if run)
    return (_FAMILY_ORDER.get(family, len(_FAMILY_ORDER)), natural)
