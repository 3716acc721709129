"""Configure logging from the YAML dictConfig shipped in the package (or the user's own).

File handlers whose directory cannot be written are dropped, with one warning on the console:
the server keeps serving and logging to the console rather than refusing to start.
"""

from __future__ import annotations

import copy
import logging
import logging.config
import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

SHIPPED = "logging.yaml"


def load_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        text = resources.files("hostpulse").joinpath(SHIPPED).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    if not isinstance(config, dict) or "version" not in config:
        raise ValueError(f"{path or SHIPPED}: not a logging dictConfig (no 'version')")
    return config


def resolve(config: dict[str, Any], log_dir: Path, console_level: str) -> tuple[dict, list]:
    """Fill in the log directory, drop file handlers that cannot write: (config, problems)."""
    config = copy.deepcopy(config)
    problems = []
    handlers = config.get("handlers", {})
    for name, handler in list(handlers.items()):
        if name == "console" or "console" in handler.get("class", "").lower():
            handler["level"] = console_level
        if "filename" not in handler:
            continue
        filename = Path(str(handler["filename"]).replace("{log_dir}", str(log_dir)))
        handler["filename"] = str(filename)
        reason = _unwritable(filename)
        if reason:
            problems.append(f"{filename}: {reason}")
            del handlers[name]
    for section in [config.get("root", {}), *config.get("loggers", {}).values()]:
        if "handlers" in section:
            section["handlers"] = [h for h in section["handlers"] if h in handlers]
    return config, problems


def _unwritable(filename: Path) -> str | None:
    try:
        filename.parent.mkdir(parents=True, exist_ok=True)
        with open(filename, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    if not os.access(filename, os.W_OK):
        return "not writable"
    return None


def configure(config_path: Path | None, log_dir: Path, console_level: str = "INFO") -> None:
    config, problems = resolve(load_config(config_path), log_dir, console_level)
    logging.config.dictConfig(config)
    if problems:
        logging.getLogger("hostpulse").warning(
            "cannot write log files, logging to the console only: %s", "; ".join(problems)
        )
