"""The dashboard's credentials: one password (scrypt) and named API tokens (SHA-256).

They live in their own JSON file, ``<data_dir>/auth.json`` by default (the ``auth_file``
setting), written atomically with mode 0600. Not in the TOML config: the config is often
world-readable and managed by hand or by Puppet, and rewriting it from ``hostpulse passwd``
would lose its comments and layout; the credentials file is only ever written by the CLI.

- The password is stored as ``scrypt$N$r$p$salt$hash`` (base64). scrypt is the standard
  library's ``hashlib.scrypt`` (OpenSSL); N=2^14, r=8, p=5 is one of OWASP's equivalent
  choices (16 MiB, about 0.2 s here) and keeps the memory per check small next to the
  workloads we watch. The parameters travel with the hash, so they can be raised later.
- A token is 32 random bytes (``hp_`` + URL-safe base64); only its SHA-256 is stored. A
  fast hash is right for a secret with 256 bits of entropy: there is nothing to guess.
- Comparisons use ``hmac.compare_digest``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILENAME = "auth.json"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 5
SCRYPT_MAXMEM = 64 * 1024 * 1024
SALT_BYTES, HASH_BYTES = 16, 32
TOKEN_PREFIX = "hp_"
TOKEN_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_PASSWORD, MAX_PASSWORD = 8, 1024


class CredentialsError(ValueError):
    """A credentials file or value that cannot be used; the message says which and why."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    check_new_password(password)
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, n, r, p, HASH_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def check_new_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise CredentialsError(
            f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters, got {len(password)}"
        )


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches; False for a wrong password or a malformed record."""
    if len(password) > MAX_PASSWORD:
        return False
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest, validate=True)
        got = _scrypt(
            password, base64.b64decode(salt, validate=True), int(n), int(r), int(p), len(want)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=dklen
    )


def password_fingerprint(encoded: str | None) -> str:
    """A short value that changes with the password: sessions carry it, so a new password
    (or none) ends every existing session."""
    if not encoded:
        return ""
    return hashlib.sha256(encoded.encode()).hexdigest()[:16]


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass
class Credentials:
    password: str | None = None
    #: name -> {"sha256": hex digest, "created": epoch seconds}
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        """Authentication is on once a password is set (tokens alone do not lock the page)."""
        return bool(self.password)

    def check_password(self, password: str) -> bool:
        return bool(self.password) and verify_password(password, self.password or "")

    def token_name(self, token: str) -> str | None:
        """The name of the token that matches, or None. Every stored token is compared."""
        digest = token_digest(token)
        found = None
        for name, record in self.tokens.items():
            if hmac.compare_digest(digest, str(record.get("sha256", ""))):
                found = name
        return found

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "password": self.password, "tokens": self.tokens}


def load(path: Path) -> Credentials:
    """The credentials in ``path``; empty (no authentication) when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Credentials()
    except OSError as exc:
        raise CredentialsError(
            f"credentials file {path}: cannot read it ({exc.strerror})"
        ) from None
    try:
        data = json.loads(text)
        password = data.get("password")
        tokens = data.get("tokens") or {}
        if password is not None and not (
            isinstance(password, str) and password.startswith("scrypt$")
        ):
            raise ValueError("'password' is not an scrypt record")
        if not isinstance(tokens, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in tokens.values()
        ):
            raise ValueError("'tokens' must map names to records with a sha256")
    except (ValueError, AttributeError) as exc:
        raise CredentialsError(f"credentials file {path}: not usable ({exc})") from None
    return Credentials(password=password, tokens=dict(tokens))


def save(path: Path, credentials: Credentials) -> None:
    """Write atomically (temp file, fsync, rename), mode 0600, directory created 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(credentials.to_json(), fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def loose_permissions(path: Path) -> bool:
    """True when group or others may read the file (it should be 0600)."""
    try:
        return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except OSError:
        return False


class Store:
    """The credentials file as the server sees it: re-read when it changes on disk.

    ``hostpulse passwd`` and ``hostpulse token revoke`` take effect on the next request, no
    restart. A file that turns unreadable or corrupt keeps the last good credentials (and
    the error is returned once for logging): a broken edit must not open the dashboard.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._signature: tuple | None = None
        self._credentials = load(path)
        self._signature = self._stat()
        self.last_error: str | None = None

    def _stat(self) -> tuple | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        except OSError:
            return ("error",)
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def current(self) -> Credentials:
        signature = self._stat()
        if signature != self._signature:
            try:
                self._credentials = load(self.path)
                self.last_error = None
            except CredentialsError as exc:
                self.last_error = str(exc)
            self._signature = signature
        return self._credentials


def now() -> float:
    return round(time.time(), 3)
