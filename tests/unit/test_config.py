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
