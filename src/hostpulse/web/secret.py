"""The Flask secret key: generated on first start, kept in the data directory with mode 0600."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILENAME = "secret_key"


def load_or_create(data_dir: Path) -> bytes:
    path = data_dir / FILENAME
    try:
        key = path.read_bytes().strip()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    # O_EXCL-free write to a temp file, then an atomic rename: never a half-written key.
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    os.replace(tmp, path)
    return key
