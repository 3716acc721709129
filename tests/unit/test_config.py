import re
from pathlib import Path

import pytest

from hostpulse import config
from hostpulse.config import ConfigError


def test_defaults_are_safe():
    s = config.load(environ={})
    assert s.bind == "127.0.0.1"
    assert s.interval == 1.0
    assert s.resolved_log_dir == s.data_dir / "log"
    assert s.resolved_auth_file == s.data_dir / "auth.json"
    assert s.secret_key_file == s.data_dir / "secret_key"


def test_credentials_dir_holds_credentials_and_secret_key_not_history():
    env = {"HOSTPULSE_DATA_DIR": "/var/lib/hp-w1", "HOSTPULSE_CREDENTIALS_DIR": "/etc/hp"}
    s = config.load(environ=env)
    assert s.resolved_auth_file == Path("/etc/hp/auth.json")
    assert s.secret_key_file == Path("/etc/hp/secret_key")
    assert s.history_path == Path("/var/lib/hp-w1/history.sqlite")
    explicit = config.load(environ={**env, "HOSTPULSE_AUTH_FILE": "/srv/auth.json"})
    assert explicit.resolved_auth_file == Path("/srv/auth.json")


def test_allowed_hosts_are_names_domains_addresses_or_any():
    env = {"HOSTPULSE_ALLOWED_HOSTS": "Dash.Example.com., .example.org, [::1], 192.0.2.1, *"}
    s = config.load(environ=env)
    assert s.allowed_hosts == ("dash.example.com", ".example.org", "::1", "192.0.2.1", "*")
    assert config.load(environ={}).allowed_hosts == ()


def test_precedence_file_env_flags(tmp_path: Path):
    f = tmp_path / "hp.toml"
    f.write_text('port = 9000\ninterval = 2\nbind = "0.0.0.0"\n')
    env = {"HOSTPULSE_PORT": "9100", "HOSTPULSE_INTERVAL": "5"}
    s = config.load(f, env, {"interval": 0.5, "log_dir": None})
    assert (s.bind, s.port, s.interval) == ("0.0.0.0", 9100, 0.5)


def test_config_file_from_env_and_hostpulse_table(tmp_path: Path):
    f = tmp_path / "hp.toml"
    f.write_text('[hostpulse]\nfull_every = 10\ntrusted_proxies = ["10.0.0.0/8"]\n')
    s = config.load(environ={"HOSTPULSE_CONFIG": str(f)})
    assert s.full_every == 10
    assert s.trusted_proxies == ("10.0.0.0/8",)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HOSTPULSE_INTERVAL": "0.1"}, "'interval' from environment HOSTPULSE_INTERVAL"),
        ({"HOSTPULSE_INTERVAL": "fast"}, "must be a number"),
        ({"HOSTPULSE_PORT": "70000"}, "'port'"),
        ({"HOSTPULSE_BIND": "example.com"}, "must be an IP address"),
        ({"HOSTPULSE_PROCESS_CMDLINE": "all"}, "name, truncated, full"),
        ({"HOSTPULSE_BOGUS": "1"}, "unknown setting 'bogus'"),
        ({"HOSTPULSE_MEMORY_ONLY": "perhaps"}, "true or false"),
        ({"HOSTPULSE_HOST_ID": "a/b"}, "'host_id'"),
        ({"HOSTPULSE_ALLOWED_HOSTS": "ok.example, http://x.example/"}, "'allowed_hosts'"),
        ({"HOSTPULSE_ALLOWED_HOSTS": "a b"}, "not a host name"),
    ],
)
def test_bad_values_name_the_setting(env, message):
    with pytest.raises(ConfigError, match=message):
        config.load(environ=env)


def test_bad_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read"):
        config.load(tmp_path / "missing.toml", {})
    bad = tmp_path / "bad.toml"
    bad.write_text("port = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(bad, {})
    typed = tmp_path / "typed.toml"
    typed.write_text("port = true")
    with pytest.raises(ConfigError, match="'port' from config file"):
        config.load(typed, {})


def test_explain_lists_every_setting():
    text = config.explain(config.load(environ={}))
    for name in config.SPECS:
        assert name in text


def test_explain_prints_toml_that_loads_back_to_the_same_settings(tmp_path):
    """`config check`'s listing pasted into a config file gives the same settings: unset
    values are comments (not None), lists are TOML arrays (not Python tuples)."""
    source = tmp_path / "source.toml"
    source.write_text(
        'port = 9100\ninterval = 0.5\ndata_dir = "/srv/hp \\"x\\""\nmemory_only = true\n'
        'trusted_proxies = ["10.0.0.0/8", "::1"]\nallowed_origins = ["https://a.example"]\n'
        'host_id = "web-1"\nredis = "redis://127.0.0.1:6379/0"\n'
    )
    settings = config.load(source, environ={})
    text = config.explain(settings)
    values = [
        line.split(" = ", 1)[1].split("  # ")[0] for line in text.splitlines() if " = " in line
    ]
    assert values and not [v for v in values if v == "None" or v.startswith("(")], values
    pasted = tmp_path / "pasted.toml"
    pasted.write_text(text)
    assert config.load(pasted, environ={}) == settings
    assert "# log_dir is unset" in text
    assert 'trusted_proxies = ["10.0.0.0/8", "::1"]' in text


@pytest.mark.parametrize(
    "host_id, valid",
    [("web-1", True), ("x" * 128, True), ("ünïcode.example", True), ("", False),
     ("x" * 129, False), ("a/b", False), ("a b", False), ("a\tb", False), ("a\x00b", False),
     ("a\u2028b", False), (7, False), (None, False)],
)  # fmt: skip
def test_one_host_id_rule_for_settings_agents_viewers_and_urls(host_id, valid):
    from hostpulse import hostid
    from hostpulse.remote.publisher import Publisher

    assert hostid.is_valid(host_id) is valid
    if not isinstance(host_id, str):
        return
    if valid:
        assert config.load(environ={"HOSTPULSE_HOST_ID": host_id}).host_id == host_id
        return
    if host_id.strip():  # (a blank setting is refused too, as not a host id once stripped)
        with pytest.raises(ConfigError, match=re.escape(hostid.RULE)):
            config.load(environ={}, flags={"host_id": host_id})
    with pytest.raises(ValueError, match=re.escape(hostid.RULE)):
        Publisher("redis://127.0.0.1:1", host_id, interval=1.0)


def test_command_line_flags_are_the_settings_with_their_help():
    from hostpulse import cli

    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for command, names in (("serve", cli.SERVE_FLAGS), ("agent", cli.AGENT_FLAGS)):
        actions = {a.dest: a for a in commands[command]._actions}
        for name in names:
            assert actions[name].help == config.SPECS[name][1]
            assert actions[name].option_strings == ["--" + name.replace("_", "-")]
    args = parser.parse_args(["serve", "--sample-local", "--interval", "2", "--host-id", "w"])
    assert (args.sample_local, args.interval, args.host_id) == ("true", "2", "w")
    flags = cli._setting_flags(args, cli.SERVE_FLAGS)
    loaded = config.load(environ={}, flags=flags)
    assert loaded.sample_local is True and loaded.interval == 2.0 and loaded.host_id == "w"


def test_interval_bounds_are_the_samplers():
    from hostpulse.sampler import MAX_INTERVAL, MIN_INTERVAL, Sampler

    assert config.load(environ={}, flags={"interval": MIN_INTERVAL}).interval == MIN_INTERVAL
    assert config.load(environ={}, flags={"interval": MAX_INTERVAL}).interval == MAX_INTERVAL
    for outside in (MIN_INTERVAL / 2, MAX_INTERVAL * 2):
        with pytest.raises(ConfigError, match=f"from {MIN_INTERVAL:g} to {MAX_INTERVAL:g}"):
            config.load(environ={}, flags={"interval": outside})
        with pytest.raises(ValueError):
            Sampler([], interval=outside)


def test_containers_socket():
    assert config.load(environ={}).containers_socket is None  # found where engines put it
    env = {"HOSTPULSE_CONTAINERS_SOCKET": "unix:///run/podman/podman.sock"}
    assert config.load(environ=env).containers_socket == "/run/podman/podman.sock"
    assert config.load(environ={"HOSTPULSE_CONTAINERS_SOCKET": "off"}).containers_socket == "off"
    with pytest.raises(ConfigError, match=r"containers_socket.*absolute path"):
        config.load(environ={"HOSTPULSE_CONTAINERS_SOCKET": "docker.sock"})


def test_containers_off_builds_no_collector():
    from hostpulse.collect import registry

    assert registry.container_collectors("off") == []
    [collector] = registry.container_collectors("/run/docker.sock")
    assert collector.name == "containers"
