"""Command line: ``hostpulse serve | agent | snapshot | config check``.

Nothing is imported at module level beyond the standard library's ``sys`` and ``argparse``:
``serve`` must let gevent patch the process before socket or threading are imported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hostpulse", description="Real-time server dashboard.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="sample this host and serve the dashboard")
    serve.add_argument("--config", type=Path, help="TOML config file")
    serve.add_argument("--bind", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", help="TCP port (default 8080)")
    serve.add_argument("--interval", help="seconds between samples (0.25 to 60, default 1)")
    serve.add_argument("--data-dir", dest="data_dir", help="history and secret key directory")
    serve.add_argument("--log-dir", dest="log_dir", help="rotating log files directory")
    serve.add_argument("--redis", help="Redis URL: serve every host published there")
    serve.add_argument(
        "--sample-local",
        dest="sample_local",
        action="store_const",
        const="true",
        help="with --redis: also sample this machine",
    )
    serve.add_argument("--host-id", dest="host_id", help="this host's id (default: hostname)")

    agent = sub.add_parser("agent", help="sample this host and publish it to Redis")
    agent.add_argument("--config", type=Path, help="TOML config file")
    agent.add_argument("--redis", help="Redis URL (redis://[user:password@]host:port/db)")
    agent.add_argument("--host-id", dest="host_id", help="this host's id (default: hostname)")
    agent.add_argument("--interval", help="seconds between samples (0.25 to 60, default 1)")
    agent.add_argument("--log-dir", dest="log_dir", help="rotating log files directory")

    snap = sub.add_parser("snapshot", help="print one sample taken over one interval")
    snap.add_argument("--json", action="store_true", help="host facts and the sample as JSON")
    snap.add_argument("--interval", default="1", help="seconds to sample over (default 1)")
    snap.add_argument("--processes", action="store_true", help="include the top processes")

    check = sub.add_parser("config", help="configuration tools")
    check_sub = check.add_subparsers(dest="config_command", required=True)
    check_cmd = check_sub.add_parser("check", help="validate the settings and explain them")
    check_cmd.add_argument("--config", type=Path, help="TOML config file")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        # First thing, before anything imports socket or threading.
        from gevent import monkey

        monkey.patch_all()
    args = build_parser().parse_args(argv)
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
    flag_names = (
        "bind",
        "port",
        "interval",
        "data_dir",
        "log_dir",
        "redis",
        "sample_local",
        "host_id",
    )
    settings = _load(args, **{name: getattr(args, name) for name in flag_names})
    if settings is None:
        return EXIT_CONFIG
    from hostpulse import logsetup
    from hostpulse.web.server import serve

    try:
        logsetup.configure(settings.logging_config, settings.resolved_log_dir, settings.log_level)
    except (OSError, ValueError) as exc:
        print(f"hostpulse: setting 'logging_config': {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        serve(settings)
    except OSError as exc:
        print(
            f"hostpulse: cannot listen on {settings.bind}:{settings.port}: {exc}", file=sys.stderr
        )
        return 1
    return 0


def _agent(args: argparse.Namespace) -> int:
    flag_names = ("redis", "host_id", "interval", "log_dir")
    settings = _load(args, **{name: getattr(args, name) for name in flag_names})
    if settings is None:
        return EXIT_CONFIG
    if not settings.redis:
        print("hostpulse: the agent needs --redis URL (or HOSTPULSE_REDIS)", file=sys.stderr)
        return EXIT_CONFIG
    from hostpulse import agent, logsetup

    try:
        logsetup.configure(settings.logging_config, settings.resolved_log_dir, settings.log_level)
    except (OSError, ValueError) as exc:
        print(f"hostpulse: setting 'logging_config': {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return agent.run(settings)


def _snapshot(args: argparse.Namespace) -> int:
    from hostpulse import config

    try:
        interval = config.SPECS["interval"][0](args.interval)
    except ValueError as exc:
        print(f"hostpulse: --interval {exc}", file=sys.stderr)
        return EXIT_CONFIG
    from hostpulse import snapshot

    snapshot.run(interval, as_json=args.json, processes=args.processes, out=sys.stdout)
    return 0


def _config_check(args: argparse.Namespace) -> int:
    from hostpulse import config

    settings = _load(args)
    if settings is None:
        return EXIT_CONFIG
    print(config.explain(settings))
    print("configuration OK")
    return 0
