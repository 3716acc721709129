"""Command line: ``hostpulse serve | agent | snapshot | config check | passwd | token |
redis-acl``.

Nothing is imported at module level beyond the standard library's ``sys`` and ``argparse``:
``serve`` must let gevent patch the process before socket or threading are imported.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

EXIT_CONFIG = 2
#: The settings each command takes as flags too (--bind …); their help comes from config.SPECS.
SERVE_FLAGS = (
    "bind",
    "port",
    "interval",
    "data_dir",
    "credentials_dir",
    "log_dir",
    "redis",
    "sample_local",
    "host_id",
    "host_root",
)
AGENT_FLAGS = ("redis", "host_id", "interval", "log_dir", "host_root")
LOCATION_FLAGS = ("data_dir", "credentials_dir")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hostpulse", description="Real-time server dashboard.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="sample this host and serve the dashboard")
    serve.add_argument("--config", type=Path, help="TOML config file")
    _add_setting_flags(serve, SERVE_FLAGS)

    agent = sub.add_parser("agent", help="sample this host and publish it to Redis")
    agent.add_argument("--config", type=Path, help="TOML config file")
    _add_setting_flags(agent, AGENT_FLAGS)

    snap = sub.add_parser("snapshot", help="print one sample taken over one interval")
    snap.add_argument("--config", type=Path, help="TOML config file (process_cmdline, host_root)")
    snap.add_argument("--json", action="store_true", help="host facts and the sample as JSON")
    snap.add_argument("--interval", default="1", help="seconds to sample over (default 1)")
    snap.add_argument("--processes", action="store_true", help="include the top processes")

    check = sub.add_parser("config", help="configuration tools")
    check_sub = check.add_subparsers(dest="config_command", required=True)
    check_cmd = check_sub.add_parser("check", help="validate the settings and explain them")
    check_cmd.add_argument("--config", type=Path, help="TOML config file")

    passwd = sub.add_parser(
        "passwd",
        help="set the dashboard password (from standard input when it is not a terminal)",
    )
    _add_location_flags(passwd)
    passwd.add_argument("--remove", action="store_true", help="remove the password (no login)")

    token = sub.add_parser("token", help="API tokens for the REST API and /metrics")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token and print it once")
    create.add_argument("name", help="a name for the token: letters, digits, . _ -")
    _add_location_flags(create)
    listing = token_sub.add_parser("list", help="list token names and creation times")
    _add_location_flags(listing)
    revoke = token_sub.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
    _add_location_flags(revoke)

    acl = sub.add_parser("redis-acl", help="print Redis ACL users: one per agent, for workers")
    acl_sub = acl.add_subparsers(dest="acl_command", required=True)
    acl_agent = acl_sub.add_parser("agent", help="a user that may write this host's keys only")
    acl_agent.add_argument("host_id", help="the host id the agent publishes under")
    acl_sub.add_parser("worker", help="a user that reads every host and writes only want keys")

    alerts = sub.add_parser("alerts", help="alert tools")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    alerts_test = alerts_sub.add_parser(
        "test", help="send a test message to every notification URL and print each result"
    )
    alerts_test.add_argument("--config", type=Path, help="TOML config file")
    # Each command knows its own parser: a wrong flag is answered with that command's usage.
    for command in (
        serve,
        agent,
        snap,
        check,
        check_cmd,
        passwd,
        token,
        create,
        listing,
        revoke,
        acl,
        acl_agent,
        alerts,
        alerts_test,
    ):
        command.set_defaults(command_parser=command)
    return parser


def _add_location_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML config file")
    _add_setting_flags(parser, LOCATION_FLAGS)


def _add_setting_flags(parser: argparse.ArgumentParser, names: tuple[str, ...]) -> None:
    """``--some-setting`` for each setting named, with the help its spec gives; a switch for
    a true/false setting. The value is parsed (and refused) with every other source's."""
    from hostpulse import config

    for name in names:
        flag = "--" + name.replace("_", "-")
        help_text = config.SPECS[name][1]
        if config.is_switch(name):
            parser.add_argument(flag, dest=name, action="store_const", const="true", help=help_text)
        else:
            parser.add_argument(flag, dest=name, help=help_text)


def _setting_flags(args: argparse.Namespace, names: tuple[str, ...]) -> dict:
    return {name: getattr(args, name, None) for name in names}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        # First thing, before anything imports socket or threading.
        import gevent
        from gevent import monkey

        # Greenlets would each keep their spawning stack (≈4 KB a viewer) for debugging.
        gevent.config.track_greenlet_tree = False
        monkey.patch_all()
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # argparse hands a subcommand's unknown flags up to the top-level parser, whose
        # usage says nothing about them (`serve --prot 9000`).
        getattr(args, "command_parser", parser).error(
            f"unrecognized arguments: {' '.join(unknown)}"
        )
    if args.version:
        from hostpulse import __version__

        print(__version__)
        return 0
    if args.command == "serve":
        return _serve(args)
    if args.command == "agent":
        return _agent(args)
    if args.command == "snapshot":
        return _snapshot(args)
    if args.command == "config":
        return _config_check(args)
    if args.command == "passwd":
        return _passwd(args)
    if args.command == "token":
        return _token(args)
    if args.command == "redis-acl":
        return _redis_acl(args)
    if args.command == "alerts":
        return _alerts_test(args)
    build_parser().print_help()
    return EXIT_CONFIG


def _load(args: argparse.Namespace, **flags):
    from hostpulse import config

    try:
        return config.load(getattr(args, "config", None), flags=flags)
    except config.ConfigError as exc:
        print(f"hostpulse: {exc}", file=sys.stderr)
        return None


def _serve(args: argparse.Namespace) -> int:
    settings = _load(args, **_setting_flags(args, SERVE_FLAGS))
    if settings is None:
        return EXIT_CONFIG
    if not _usable_dirs(settings):
        return EXIT_CONFIG
    from hostpulse import config, credentials, runtime
    from hostpulse.web.driver import UnsupportedEngine
    from hostpulse.web.secret import SecretKeyError
    from hostpulse.web.server import CannotListen, serve

    try:
        auth = credentials.load(settings.resolved_auth_file)
    except credentials.CredentialsError as exc:
        print(f"hostpulse: setting 'auth_file': {exc}", file=sys.stderr)
        return EXIT_CONFIG

    if not _configure_logging(settings):
        return EXIT_CONFIG
    _warn_if_exposed(settings, auth.enabled)
    try:
        serve(settings, runtime.build(settings))
    except config.ConfigError as exc:  # what only building can tell (notification URLs)
        print(f"hostpulse: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except UnsupportedEngine as exc:
        print(f"hostpulse: {exc}", file=sys.stderr)
        return 1
    except SecretKeyError as exc:
        print(f"hostpulse: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except CannotListen as exc:
        print(f"hostpulse: {exc}", file=sys.stderr)
        return 1
    return 0


def _usable_dirs(settings) -> bool:
    """The data and credentials directories exist (made if need be) and are writable; else
    one line naming the setting and the directory, before any log line about history."""
    import os

    wanted = {"credentials_dir": settings.resolved_credentials_dir}
    if not settings.memory_only:
        wanted["data_dir"] = settings.data_dir
    for name, path in wanted.items():
        if name == "credentials_dir" and settings.credentials_dir is None:
            name = "data_dir"  # the credentials live in the data directory
        if path.exists() and not path.is_dir():
            print(f"hostpulse: setting '{name}': {path} is not a directory", file=sys.stderr)
            return False
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            print(f"hostpulse: setting '{name}': cannot create {path}: {reason}", file=sys.stderr)
            return False
        if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
            why = "on a read-only file system" if _read_only(path) else "not writable"
            print(f"hostpulse: setting '{name}': {path} is {why}", file=sys.stderr)
            return False
    return True


def _read_only(path) -> bool:
    import os

    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _warn_if_exposed(settings, auth_enabled: bool) -> None:
    """A clear warning when anyone on the network can see this host's dashboard."""
    import ipaddress
    import logging

    from hostpulse import credentials

    if auth_enabled:
        if credentials.loose_permissions(settings.resolved_auth_file):
            logging.getLogger("hostpulse").warning(
                "%s is readable by group or others; chmod 600 it", settings.resolved_auth_file
            )
        return
    bind = settings.bind
    if bind == "localhost" or (
        bind not in ("0.0.0.0", "::") and ipaddress.ip_address(bind).is_loopback
    ):
        return
    logging.getLogger("hostpulse").warning(
        "WARNING: listening on %s with no authentication: anyone who can reach this port "
        "sees this host's processes, command lines and addresses. Set a password with "
        "`hostpulse passwd`, or bind to 127.0.0.1 behind an authenticating proxy.",
        bind,
    )


def _credentials_path(args: argparse.Namespace):
    settings = _load(args, **_setting_flags(args, LOCATION_FLAGS))
    return None if settings is None else settings.resolved_auth_file


def _read_new_password() -> str | None:
    """From standard input when it is not a terminal (scripts, Puppet); else asked twice."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    import getpass

    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        print("hostpulse: the passwords differ; nothing changed", file=sys.stderr)
        return None
    return first


def _edit_credentials(args: argparse.Namespace, action) -> int:
    """Load the credentials file, run ``action(path, current)``; one place for its errors."""
    from hostpulse import credentials

    path = _credentials_path(args)
    if path is None:
        return EXIT_CONFIG
    try:
        return action(path, credentials.load(path))
    except credentials.CredentialsError as exc:
        print(f"hostpulse: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:
        print(f"hostpulse: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return 1


def _passwd(args: argparse.Namespace) -> int:
    return _edit_credentials(args, lambda path, current: _set_password(args, path, current))


def _set_password(args: argparse.Namespace, path, current) -> int:
    from hostpulse import credentials

    if args.remove:
        current.password = None
        credentials.save(path, current)
        print(f"password removed from {path}: the dashboard is open to anyone who reaches it")
        return 0
    password = _read_new_password()
    if password is None:
        return 1
    current.password = credentials.hash_password(password)
    credentials.save(path, current)
    print(f"password set in {path}; existing sessions end (a running server sees it at once)")
    return 0


def _token(args: argparse.Namespace) -> int:
    return _edit_credentials(args, lambda path, current: _edit_tokens(args, path, current))


def _edit_tokens(args: argparse.Namespace, path, current) -> int:
    import time

    from hostpulse import credentials

    if args.token_command == "list":
        for name, record in sorted(current.tokens.items()):
            created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.get("created") or 0))
            print(f"{name}\tcreated {created}")
        return 0
    name = args.name
    if args.token_command == "create":
        if not credentials.TOKEN_NAME.match(name):
            print("hostpulse: a token name is 1 to 64 of A-Z a-z 0-9 . _ -", file=sys.stderr)
            return EXIT_CONFIG
        if name in current.tokens:
            print(f"hostpulse: a token named {name!r} exists; revoke it first", file=sys.stderr)
            return 1
        token = credentials.new_token()
        current.tokens[name] = {
            "sha256": credentials.token_digest(token),
            "created": credentials.now(),
        }
        credentials.save(path, current)
        print(token)
        print(
            f"token {name!r} created; it is shown only this once. Send it as "
            "'Authorization: Bearer <token>'.",
            file=sys.stderr,
        )
        if not current.enabled:
            print(
                "note: no password is set, so the API is open anyway; tokens are "
                "required once `hostpulse passwd` sets one.",
                file=sys.stderr,
            )
        return 0
    if name not in current.tokens:
        print(f"hostpulse: no token named {name!r}", file=sys.stderr)
        return 1
    del current.tokens[name]
    credentials.save(path, current)
    print(f"token {name!r} revoked")
    return 0


def _agent(args: argparse.Namespace) -> int:
    settings = _load(args, **_setting_flags(args, AGENT_FLAGS))
    if settings is None:
        return EXIT_CONFIG
    if not settings.redis:
        print("hostpulse: the agent needs --redis URL (or HOSTPULSE_REDIS)", file=sys.stderr)
        return EXIT_CONFIG
    from hostpulse import agent

    if not _configure_logging(settings):
        return EXIT_CONFIG
    return agent.run(settings)


def _configure_logging(settings) -> bool:
    """Logging for a long-running command; False (with a one-line message) when it cannot."""
    from hostpulse import logsetup

    try:
        logsetup.configure(settings.logging_config, settings.resolved_log_dir, settings.log_level)
    except (OSError, ValueError) as exc:
        print(f"hostpulse: setting 'logging_config': {exc}", file=sys.stderr)
        return False
    return True


def _snapshot(args: argparse.Namespace) -> int:
    from hostpulse import config

    try:
        interval = config.SPECS["interval"][0](args.interval)
    except ValueError as exc:
        print(f"hostpulse: --interval {exc}", file=sys.stderr)
        return EXIT_CONFIG
    settings = _load(args)
    if settings is None:
        return EXIT_CONFIG
    from hostpulse import snapshot

    snapshot.run(settings, interval, as_json=args.json, processes=args.processes, out=sys.stdout)
    return 0


def _config_check(args: argparse.Namespace) -> int:
    from hostpulse import config

    settings = _load(args)
    if settings is None or not _notify_urls_usable(settings):
        return EXIT_CONFIG
    print(config.explain(settings))
    print("# configuration OK")
    return 0


def _redis_acl(args: argparse.Namespace) -> int:
    """The ACL line for redis (ACL SETUSER or an ACL file) and the URL to give with it; the
    password is new, shown once, and stored by Redis only as its SHA-256."""
    from hostpulse import hostid
    from hostpulse.remote import acl

    password = acl.new_password()
    if args.acl_command == "agent":
        if not hostid.is_valid(args.host_id):
            print(f"hostpulse: a host id must be {hostid.RULE}", file=sys.stderr)
            return EXIT_CONFIG
        user, rules = acl.agent_user(args.host_id), acl.agent_rules(args.host_id, password)
        use = f"hostpulse agent --host-id {shlex.quote(args.host_id)} --redis"
    else:
        user, rules, use = acl.WORKER_USER, acl.worker_rules(password), "hostpulse serve --redis"
    print(f"# In redis-cli: ACL SETUSER {user} {' '.join(rules)}")
    print("# or in the ACL file (aclfile), then ACL LOAD:")
    print(f"user {user} {' '.join(rules)}")
    print(f"# Then: {use} '{acl.url_for(user, password)}'")
    return 0


def _notify_urls_usable(settings) -> bool:
    """Every notification URL one Apprise can use (only Apprise knows its services)."""
    if not settings.notify_targets:
        return True
    from hostpulse import config
    from hostpulse.notify.targets import build_targets

    try:
        build_targets(settings)
    except config.ConfigError as exc:
        print(f"hostpulse: {exc}", file=sys.stderr)
        return False
    return True


def _alerts_test(args: argparse.Namespace) -> int:
    """A test message to every notification URL, one line per URL: exit 1 if any failed."""
    settings = _load(args)
    if settings is None or not _notify_urls_usable(settings):
        return EXIT_CONFIG
    if not settings.notify_targets:
        print("hostpulse: no notification URLs: set [notify] urls", file=sys.stderr)
        return EXIT_CONFIG
    from hostpulse.notify import send_test

    failed = 0
    for target, error in send_test(settings):
        print(f"{'FAILED' if error else 'ok':6} {target.shown}" + (f": {error}" if error else ""))
        failed += error is not None
    return 1 if failed else 0
