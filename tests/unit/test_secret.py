"""The session secret key: created once, shared by every worker that reads the same file."""

from __future__ import annotations

import threading

from hostpulse.web import secret


def test_created_once_0600_and_kept(tmp_path):
    path = tmp_path / "creds" / "secret_key"
    key = secret.load_or_create(path)
    assert len(key) >= secret.MIN_KEY_BYTES
    assert path.stat().st_mode & 0o777 == 0o600
    assert secret.load_or_create(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temp file left


def test_workers_starting_together_get_one_key(tmp_path):
    path = tmp_path / "secret_key"
    start = threading.Barrier(8)
    keys = []

    def worker() -> None:
        start.wait()
        keys.append(secret.load_or_create(path))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and set(keys) == {path.read_bytes().strip()}


def test_an_unusable_key_is_replaced(tmp_path):
    path = tmp_path / "secret_key"
    path.write_bytes(b"short\n")
    key = secret.load_or_create(path)
    assert len(key) >= secret.MIN_KEY_BYTES and path.read_bytes().strip() == key
