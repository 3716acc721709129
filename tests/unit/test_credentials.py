"""Password hashing, tokens, the credentials file, the login limiter and the exposure warning."""

from __future__ import annotations

import argparse
import logging

import pytest

from hostpulse import cli, config, credentials
from hostpulse.web.auth import LoginLimiter

FAST = {"n": 2**10, "r": 8, "p": 1}  # the stored parameters are what verify uses


def test_hash_is_salted_and_verifies_in_constant_form():
    a = credentials.hash_password("a long password", **FAST)
    b = credentials.hash_password("a long password", **FAST)
    assert a != b and a.startswith("scrypt$1024$8$1$")
    assert credentials.verify_password("a long password", a)
    assert not credentials.verify_password("a long passworD", a)
    assert not credentials.verify_password("x", "garbage")
    assert not credentials.verify_password("x", "scrypt$1$2$3$!!$!!")


def test_default_parameters_are_owasp_strength():
    assert (credentials.SCRYPT_N, credentials.SCRYPT_R, credentials.SCRYPT_P) == (2**14, 8, 5)


def test_short_password_refused():
    with pytest.raises(credentials.CredentialsError, match="8 to 1024"):
        credentials.hash_password("short")


def test_tokens_are_stored_as_digests(tmp_path):
    token = credentials.new_token()
    creds = credentials.Credentials(tokens={"ci": {"sha256": credentials.token_digest(token)}})
    path = tmp_path / "auth.json"
    credentials.save(path, creds)
    assert path.stat().st_mode & 0o777 == 0o600 and token not in path.read_text()
    loaded = credentials.load(path)
    assert loaded.token_name(token) == "ci" and loaded.token_name(token + "x") is None
    assert not loaded.enabled  # tokens alone do not lock the page


def test_store_rereads_changes_and_keeps_the_last_good_file(tmp_path):
    path = tmp_path / "auth.json"
    store = credentials.Store(path)
    assert not store.current().enabled
    credentials.save(path, credentials.Credentials(password="scrypt$1024$8$1$AA==$AA=="))
    assert store.current().enabled
    path.write_text("{broken")
    assert store.current().enabled and "not usable" in store.last_error


@pytest.mark.parametrize("text", ["[]", '{"password": "plain"}', '{"tokens": {"a": 1}}', "{"])
def test_bad_files_raise(tmp_path, text):
    path = tmp_path / "auth.json"
    path.write_text(text)
    with pytest.raises(credentials.CredentialsError, match=r"auth\.json"):
        credentials.load(path)


def fail(limiter, address):
    wait, _ = limiter.begin(address)
    assert wait == 0
    limiter.end(address, ok=False)


def test_limiter_per_client_with_window_and_ipv6_prefix():
    now = [0.0]
    limiter = LoginLimiter(max_failures=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("192.0.2.1") == 0
        fail(limiter, "192.0.2.1")
    assert limiter.retry_after("192.0.2.1") == 60
    assert limiter.begin("192.0.2.1") == (60, "client")
    assert limiter.retry_after("192.0.2.2") == 0
    now[0] = 61
    assert limiter.retry_after("192.0.2.1") == 0
    for suffix in ("1", "2", "3"):  # one /64 is one client
        fail(limiter, f"2001:db8::{suffix}")
    assert limiter.retry_after("2001:db8::ffff") > 0
    now[0] = 200
    assert limiter.begin("2001:db8::9") == (0, "")
    limiter.end("2001:db8::9", ok=True)  # a success clears the client's failures
    assert limiter.retry_after("2001:db8::1") == 0


def test_limiter_counts_checks_in_flight():
    """Concurrent tries take their slots before any check is done: only max_failures of
    them are let through, and a slot comes back when a check ends well."""
    limiter = LoginLimiter(max_failures=3, window=60, clock=lambda: 0.0)
    results = [limiter.begin("192.0.2.1") for _ in range(200)]
    assert sum(wait == 0 for wait, _ in results) == 3
    limiter.end("192.0.2.1", ok=True)
    assert limiter.begin("192.0.2.1")[0] == 0
    for _ in range(3):
        limiter.end("192.0.2.1", ok=False)
    assert limiter.begin("192.0.2.1") == (60, "client")


def test_limiter_caps_failures_of_all_clients_together():
    now = [0.0]
    limiter = LoginLimiter(max_failures=5, window=60, global_failures=10, clock=lambda: now[0])
    for i in range(10):
        fail(limiter, f"198.51.100.{i}")  # a new address every try
    assert limiter.begin("198.51.100.200") == (60, "all")
    now[0] = 61
    assert limiter.begin("198.51.100.200") == (0, "")


def test_limiter_table_is_bounded():
    limiter = LoginLimiter(max_clients=100, global_failures=10_000)
    for i in range(1000):
        fail(limiter, f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._failures) <= 100


def test_new_settings_parse_and_name_themselves(tmp_path):
    settings = config.load(
        environ={"HOSTPULSE_ALLOWED_ORIGINS": "https://a.example, http://b.example:8080/"}
    )
    assert settings.allowed_origins == ("https://a.example", "http://b.example:8080")
    assert settings.resolved_auth_file == settings.data_dir / "auth.json"
    with pytest.raises(config.ConfigError, match="allowed_origins"):
        config.load(environ={"HOSTPULSE_ALLOWED_ORIGINS": "https://a.example/path"})


@pytest.mark.parametrize(
    "bind, warned",
    [
        ("127.0.0.1", False),
        ("::1", False),
        ("localhost", False),
        ("0.0.0.0", True),
        ("::", True),
        ("192.0.2.10", True),
    ],
)
def test_warning_when_exposed_without_a_password(tmp_path, caplog, bind, warned):
    settings = config.load(environ={}, flags={"bind": bind, "data_dir": str(tmp_path)})
    with caplog.at_level(logging.WARNING):
        cli._warn_if_exposed(settings, auth_enabled=False)
    assert ("no authentication" in caplog.text) is warned
    caplog.clear()
    cli._warn_if_exposed(settings, auth_enabled=True)
    assert "no authentication" not in caplog.text


def test_passwd_reads_standard_input(tmp_path, monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("from a script!\n"))
    args = argparse.Namespace(config=None, data_dir=str(tmp_path), remove=False)
    assert cli._passwd(args) == 0
    stored = credentials.load(tmp_path / "auth.json")
    assert stored.check_password("from a script!")
