"""One typed Settings object: defaults < config file (TOML) < environment HOSTPULSE_* < flags.

Every setting is declared once in ``SPECS`` with its parser and a one-line help; an invalid
value raises :class:`ConfigError` naming the setting and where the value came from.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hostpulse import hostid
from hostpulse.alerts import rules as alert_rules
from hostpulse.sampler import MAX_INTERVAL, MIN_INTERVAL

ENV_PREFIX = "HOSTPULSE_"
CMDLINE_MODES = ("name", "truncated", "full")


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the setting and its source."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "hostpulse"


@dataclass(frozen=True)
class Settings:
    bind: str = "127.0.0.1"
    port: int = 8080
    interval: float = 1.0
    data_dir: Path = field(default_factory=default_data_dir)
    #: Defaults to ``<data_dir>/log``.
    log_dir: Path | None = None
    #: A dictConfig YAML file; defaults to the one shipped in the package.
    logging_config: Path | None = None
    log_level: str = "INFO"
    #: Every this many ticks the ``sample`` event is a full sample for everyone.
    full_every: int = 60
    process_cmdline: str = "truncated"
    # --- issue 16, process tables (issue-16p) ---
    #: Read the top processes every 10 s and keep them with the history (agents publish them).
    process_history: bool = True
    #: Addresses of reverse proxies whose X-Forwarded-For is believed.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    #: The id this host is shown under; defaults to the hostname.
    host_id: str | None = None
    #: Keep history in memory only (no SQLite file).
    memory_only: bool = False
    #: Where the credentials file and the session secret key live; defaults to ``data_dir``.
    #: Several workers name one directory here and keep their own ``data_dir`` (history).
    credentials_dir: Path | None = None
    #: Password hash and API tokens (written by ``hostpulse passwd`` / ``hostpulse token``);
    #: defaults to ``<credentials_dir>/auth.json``.
    auth_file: Path | None = None
    #: Origins besides our own whose pages may open the Socket.IO connection.
    allowed_origins: tuple[str, ...] = ()
    #: Host header values served besides our own names and addresses (web/hosts.py).
    allowed_hosts: tuple[str, ...] = ()
    #: Redis URL (redis://, rediss://, unix://): agents publish there, workers read every host.
    redis: str | None = None
    #: Samples kept per host in its Redis stream (what a new worker backfills).
    redis_maxlen: int = 300
    #: Samples an agent keeps while Redis is unreachable (published in order on reconnect).
    backlog: int = 3600
    #: With ``redis``: also sample this machine (published through Redis like any agent).
    sample_local: bool = False
    #: A viewer whose socket has not drained for this many seconds is disconnected.
    stall_timeout: float = 30.0
    #: Client connections held at once; 0: as many as the open-files limit allows, less a
    #: reserve for everything else (web/connections.py).
    max_connections: int = 0
    #: Connections held at once from one client address (trusted proxies: no cap here).
    max_connections_per_client: int = 64
    #: Seconds a client has to send a request's line and headers (also: keep-alive idle).
    header_timeout: float = 10.0
    #: Where AMD and Intel GPUs are read (``<gpu_sysfs>/class/drm``); None: the host's /sys
    #: (``<host_root>/sys``); tests point it at a tree of their own.
    gpu_sysfs: Path | None = None
    #: The container engine's API socket (Docker or Podman); None: where engines put it;
    #: ``off``: no containers.
    containers_socket: str | None = None
    #: Where this host's /proc, /sys and /etc/hostname are: ``/``, or the host's mounted
    #: into a container (collect/hostroot.py).
    host_root: Path = Path("/")
    # --- notifications (issue 12, notify/): the [notify] table of a config file ----------
    #: Apprise URLs told of every alert (FIRING and RESOLVED), whatever its severity.
    notify_urls: tuple[str, ...] = ()
    #: Apprise URLs told of warning alerts only, and of critical alerts only.
    notify_warning: tuple[str, ...] = ()
    notify_critical: tuple[str, ...] = ()
    #: The dashboard's address as people reach it: the base of the links in messages.
    notify_public_url: str | None = None
    #: Seconds between repeats of a critical alert that is still firing; 0: no repeats.
    notify_repeat: float = 0.0

    @property
    def notify_targets(self) -> tuple[str, ...]:
        """Every notification URL configured, each once."""
        return tuple(dict.fromkeys(self.notify_urls + self.notify_warning + self.notify_critical))

    # --- alerts (issue 12, evaluation side) ---
    #: The alert rules: the shipped defaults, changed or added to by ``[[alerts]]`` tables.
    alerts: tuple[alert_rules.Rule, ...] = field(default_factory=alert_rules.defaults)

    @property
    def resolved_log_dir(self) -> Path:
        return self.log_dir or self.data_dir / "log"

    @property
    def resolved_credentials_dir(self) -> Path:
        return self.credentials_dir or self.data_dir

    @property
    def resolved_auth_file(self) -> Path:
        return self.auth_file or self.resolved_credentials_dir / "auth.json"

    @property
    def secret_key_file(self) -> Path:
        return self.resolved_credentials_dir / "secret_key"

    @property
    def history_path(self) -> Path | None:
        return None if self.memory_only else self.data_dir / "history.sqlite"


# --- parsers: text or TOML value -> typed value, raising ValueError with a reason ----------


def _int_in(low: int, high: int) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise ValueError(f"must be a whole number from {low} to {high}")
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"must be a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"must be from {low} to {high}")
        return value

    return parse


def _float_in(low: float, high: float) -> Callable[[Any], float]:
    def parse(raw: Any) -> float:
        if isinstance(raw, bool):
            raise ValueError(f"must be a number from {low:g} to {high:g}")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"must be a number from {low:g} to {high:g}") from None
        if not low <= value <= high:
            raise ValueError(f"must be from {low:g} to {high:g} seconds")
        return value

    return parse


def _choice(*options: str) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        value = str(raw).strip()
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return parse


def _path(raw: Any) -> Path:
    if not isinstance(raw, str | os.PathLike) or not str(raw).strip():
        raise ValueError("must be a non-empty path")
    return Path(raw).expanduser()


def _address(raw: Any) -> str:
    value = str(raw).strip()
    if value in ("localhost", "0.0.0.0", "::"):
        return value
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("must be an IP address (127.0.0.1, ::1, 0.0.0.0 …)") from None


def _addresses(raw: Any) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise ValueError("must be a list of IP addresses or networks")
    result = []
    for item in items:
        text = str(item).strip()
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"{text!r} is not an IP address or network") from None
        result.append(text)
    return tuple(result)


def _origins(raw: Any) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise ValueError("must be a list of origins such as https://dash.example.com")
    result = []
    for item in items:
        text = str(item).strip().rstrip("/")
        if not text:
            continue
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise ValueError(f"{text!r} is not an origin (scheme://host[:port], no path)")
        result.append(text)
    return tuple(result)


HOST_NAME = re.compile(r"^\.?[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")


def _hosts(raw: Any) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise ValueError("must be a list of host names such as dash.example.com")
    result = []
    for item in items:
        text = str(item).strip().lower().rstrip(".")
        if not text:
            continue
        if text != "*" and not HOST_NAME.match(text):
            try:
                text = str(ipaddress.ip_address(text.strip("[]")))
            except ValueError:
                raise ValueError(f"{text!r} is not a host name, .domain, IP address or *") from None
        result.append(text)
    return tuple(result)


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _redis_url(raw: Any) -> str:
    value = str(raw).strip()
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must be a redis://, rediss:// or unix:// URL")
    return value


def _socket(raw: Any) -> str:
    value = str(raw).strip()
    if value == "off":
        return value
    value = value.removeprefix("unix://")
    if not value.startswith("/"):
        raise ValueError("must be an absolute path to a unix socket (unix:// allowed) or off")
    return value


def _notify_urls(raw: Any) -> tuple[str, ...]:
    # Apprise URLs may hold commas (mailto's to=a,b): an environment value is split on
    # white space only. A bad one is named by its place: its text may hold a token.
    items = raw.split() if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise ValueError("must be a list of Apprise URLs such as json://host/path")
    result = []
    for place, item in enumerate(items, 1):
        text = str(item).strip()
        if not re.match(r"^[a-z][a-z0-9+.-]*://\S", text, re.IGNORECASE):
            raise ValueError(f"URL number {place} is not an Apprise URL (scheme://…)")
        result.append(text)
    return tuple(result)


def _public_url(raw: Any) -> str:
    text = str(raw).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ValueError("must be an http:// or https:// address (a path allowed, no query)")
    return text


def _repeat(raw: Any) -> float:
    """0 (off) or a duration: seconds, or "30m", "2h" (at least a minute)."""
    text = str(raw).strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        value = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except (ValueError, IndexError):
        value = -1.0
    if isinstance(raw, bool) or not (value == 0 or 60 <= value <= 7 * 86400):
        raise ValueError('must be 0 (off) or a duration from 60 s to 7 d ("30m", "2h", 3600)')
    return value


def _host_id(raw: Any) -> str:
    value = str(raw).strip()
    if not hostid.is_valid(value):
        raise ValueError(f"must be {hostid.RULE}")
    return value


SPECS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "bind": (_address, "address to listen on (default 127.0.0.1: loopback only)"),
    "port": (_int_in(1, 65535), "TCP port (default 8080)"),
    "interval": (
        _float_in(MIN_INTERVAL, MAX_INTERVAL),
        f"seconds between samples, {MIN_INTERVAL:g} to {MAX_INTERVAL:g} (default 1)",
    ),
    "data_dir": (_path, "history, and credentials by default (default ~/.local/share/hostpulse)"),
    "log_dir": (_path, "rotating log files (default <data_dir>/log)"),
    "logging_config": (_path, "a logging dictConfig YAML file replacing the shipped one"),
    "log_level": (_choice("DEBUG", "INFO", "WARNING", "ERROR"), "console log level"),
    "full_every": (_int_in(1, 3600), "a full sample every N ticks (default 60)"),
    "process_cmdline": (_choice(*CMDLINE_MODES), "process commands: name, truncated, full"),
    # --- issue 16, process tables (issue-16p) ---
    "process_history": (_bool, "keep the top processes every 10 s with the history (true)"),
    "trusted_proxies": (_addresses, "proxies whose X-Forwarded-For is believed"),
    "host_id": (_host_id, "the name this host is shown under (default: hostname)"),
    "memory_only": (_bool, "keep history in memory only, no SQLite file"),
    "credentials_dir": (
        _path,
        "auth.json and the session secret key; one for several workers (default <data_dir>)",
    ),
    "auth_file": (_path, "password hash and API tokens (default <credentials_dir>/auth.json)"),
    "allowed_origins": (_origins, "extra origins allowed to open the websocket (default none)"),
    "allowed_hosts": (
        _hosts,
        "Host names served besides this machine's own (.domain for subdomains, * for any)",
    ),
    "redis": (_redis_url, "Redis URL: many hosts and many workers (default: none, one process)"),
    "redis_maxlen": (_int_in(10, 100000), "samples kept per host stream in Redis (default 300)"),
    "backlog": (_int_in(10, 1000000), "samples an agent buffers while Redis is down (3600)"),
    "sample_local": (_bool, "with redis: also sample this machine (default false)"),
    "stall_timeout": (
        _float_in(1, 3600),
        "seconds a viewer may leave its socket undrained before it is disconnected (default 30)",
    ),
    "max_connections": (
        _int_in(0, 10_000_000),
        "client connections held at once (default 0: the open-files limit less a reserve)",
    ),
    "max_connections_per_client": (
        _int_in(1, 10_000_000),
        "connections held at once from one address, proxies excepted (default 64)",
    ),
    "header_timeout": (
        _float_in(1, 300),
        "seconds a client has to send a request's headers, or idle on keep-alive (default 10)",
    ),
    "gpu_sysfs": (_path, "sysfs root where AMD and Intel GPUs are read (default <host_root>/sys)"),
    "containers_socket": (
        _socket,
        "Docker/Podman API socket, or off (default: /var/run/docker.sock, podman's if found)",
    ),
    "host_root": (_path, "the host's /proc, /sys, /etc/hostname under this (a container: /host)"),
    # notifications (issue 12, notify/): in a config file, the [notify] table's urls,
    # warning, critical, public_url and repeat.
    "notify_urls": (_notify_urls, "Apprise URLs told of every alert (default none: no messages)"),
    "notify_warning": (_notify_urls, "Apprise URLs told of warning alerts only"),
    "notify_critical": (_notify_urls, "Apprise URLs told of critical alerts only"),
    "notify_public_url": (_public_url, "the dashboard's address, for links in messages"),
    "notify_repeat": (_repeat, "repeat a still-firing critical alert this often (default 0: off)"),
    # --- alerts (issue 12, evaluation side) ---
    "alerts": (
        alert_rules.parse_rules,
        "[[alerts]] rules over the defaults (docs/ALERTS.md); same name changes a default",
    ),
}

#: Tables of a config file whose settings are named ``<table>_<name>``: ``[notify]`` ``urls``
#: is the setting ``notify_urls`` (so the environment's HOSTPULSE_NOTIFY_URLS).
TABLES = ("notify",)
NOTIFY_URL_SETTINGS = ("notify_urls", "notify_warning", "notify_critical")


def is_switch(name: str) -> bool:
    """True for a setting that is true or false (a flag without a value)."""
    return SPECS[name][0] is _bool


def _apply(values: dict[str, Any], raw: Mapping[str, Any], source: str) -> None:
    for name, value in raw.items():
        if name not in SPECS:
            known = ", ".join(sorted(SPECS))
            raise ConfigError(f"unknown setting {name!r} in {source} (known: {known})")
        parse, _ = SPECS[name]
        try:
            values[name] = parse(value)
        except ValueError as exc:
            # Notification URLs hold tokens: the reason names the bad one, redacted; a rule
            # names itself.
            quiet = name in NOTIFY_URL_SETTINGS or name == "alerts"
            got = "" if quiet else f" (got {value!r})"
            raise ConfigError(f"setting {name!r} from {source}: {exc}{got}") from None


def read_file(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML ({exc})") from None
    # Settings may sit at the top level or under a [hostpulse] table.
    data = data.get("hostpulse", data) if isinstance(data.get("hostpulse"), dict) else data
    return _flatten_tables(data, path)


def _flatten_tables(data: dict[str, Any], path: Path) -> dict[str, Any]:
    flat = {name: value for name, value in data.items() if name not in TABLES}
    for table in TABLES:
        if table not in data:
            continue
        if not isinstance(data[table], dict):
            raise ConfigError(f"config file {path}: {table!r} must be a table ([{table}])")
        for name, value in data[table].items():
            flat[f"{table}_{name}"] = value
    return flat


def from_env(environ: Mapping[str, str]) -> dict[str, str]:
    found = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name != ENV_PREFIX + "CONFIG":
            found[name[len(ENV_PREFIX) :].lower()] = value
    return found


def load(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Settings:
    """Build Settings from every source, later sources winning."""
    environ = os.environ if environ is None else environ
    if config_file is None and environ.get(ENV_PREFIX + "CONFIG"):
        config_file = Path(environ[ENV_PREFIX + "CONFIG"])
    values: dict[str, Any] = {}
    if config_file is not None:
        _apply(values, read_file(config_file), f"config file {config_file}")
    for name, value in from_env(environ).items():
        _apply(values, {name: value}, f"environment {ENV_PREFIX}{name.upper()}")
    _apply(values, {k: v for k, v in (flags or {}).items() if v is not None}, "command line")
    return Settings(**values)


def explain(settings: Settings) -> str:
    """Every setting with its value and help, as TOML a config file can take as it is:
    ``name = value  # help``; a setting left unset is a comment saying what it defaults to."""
    rows = ["# hostpulse settings (TOML: paste into a config file as they are)"]
    for f in dataclasses.fields(settings):
        _, help_text = SPECS[f.name]
        value = getattr(settings, f.name)
        if value is None:
            rows.append(f"# {f.name} is unset: {help_text}")
            continue
        if f.name == "alerts":
            rows.append(alerts_toml(value, help_text))
            continue
        if f.name == "redis":
            value = redact_url(value)
            help_text += " (any password shown as ***)" if value != settings.redis else ""
        if f.name in NOTIFY_URL_SETTINGS and value:
            # Apprise URLs carry tokens anywhere (user, host, path): only the scheme shows.
            value = tuple(url.split("://", 1)[0] + "://***" for url in value)
            help_text += " (shown as scheme://***)"
        rows.append(f"{f.name} = {toml_value(value)}  # {help_text}")
    return "\n".join(rows)


def alerts_toml(rules: tuple[alert_rules.Rule, ...], help_text: str) -> str:
    """The rules as one TOML array of inline tables, a table a line."""
    lines = [f"alerts = [  # {help_text}"]
    for rule in rules:
        fields = ", ".join(f"{k} = {toml_value(v)}" for k, v in rule.as_config().items())
        lines.append(f"  {{{fields}}},")
    return "\n".join([*lines, "]"])


def toml_value(value: Any) -> str:
    """A setting's value written as TOML (the types Settings holds)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    # A JSON string is a TOML basic string: quotes, backslashes and controls escaped.
    return json.dumps(str(value), ensure_ascii=False)


def redact_url(url: str) -> str:
    """A URL fit for logs: any password replaced by ``***``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
