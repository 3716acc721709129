"""The README's settings table says what config.SPECS and the command line say."""

import re
from pathlib import Path

from hostpulse import cli, config

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(\w+)` \| (`--[\w-]+`)? ?\| ")


def table() -> dict[str, str | None]:
    rows = {}
    for line in README.read_text().splitlines():
        match = ROW.match(line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_every_setting_has_a_row_and_every_row_a_setting():
    assert set(table()) == set(config.SPECS)


def test_the_flag_column_names_the_flags_that_exist():
    flags = set(cli.SERVE_FLAGS) | set(cli.AGENT_FLAGS) | set(cli.LOCATION_FLAGS)
    for name, flag in table().items():
        expected = f"`--{name.replace('_', '-')}`" if name in flags else None
        assert flag == expected, f"README row {name!r}: flag {flag!r}, the CLI has {expected!r}"
