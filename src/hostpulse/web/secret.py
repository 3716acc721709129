"""The Flask secret key: generated on first start, kept with mode 0600 in the credentials
directory (``credentials_dir``, by default the data directory).

Several workers may share that directory and start at the same moment: the first key
written wins and every worker uses that one, so a session cookie signed by one worker is
accepted by all of them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

MIN_KEY_BYTES = 32


class SecretKeyError(RuntimeError):
    """The key can be neither read nor created; the message names the directory and why."""


def load_or_create(path: Path) -> bytes:
    key = _read(path)
    if key is not None:
        return key
    try:
        return _create(path)
    except OSError as exc:
        raise SecretKeyError(
            f"cannot create the session secret key {path.name!r} in {path.parent} "
            f"(the credentials_dir): {exc.strerror or exc}. Make that directory writable for "
            "this user, or set credentials_dir to one that is"
        ) from None


def _create(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_hex(32).encode())
            fh.flush()
            os.fsync(fh.fileno())
        try:
            # A link, not a rename: it fails when another worker's key got there first,
            # and either way the key file only ever appears whole.
            os.link(tmp, path)
        except FileExistsError:
            if _read(path) is None:  # an unusable old key: replace it
                os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    key = _read(path)
    if key is None:
        raise SecretKeyError(f"secret key {path}: unreadable after writing it")
    return key


def _read(path: Path) -> bytes | None:
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretKeyError(
            f"cannot read the session secret key {path}: {exc.strerror or exc}"
        ) from None
    return key if len(key) >= MIN_KEY_BYTES else None
