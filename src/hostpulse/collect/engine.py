"""The container engine's API (Docker's, or Podman's Docker-compatible one) over its unix socket.

Only read-only calls: ``GET /containers/json`` (the running and paused containers) and ``GET
/containers/<id>/json`` (one container's pid, health, restart count, start time). Every call
has one deadline for connecting, sending and reading the whole answer, and a size cap, so a
socket that hangs, trickles or answers garbage costs at most ``timeout`` seconds and raises
:class:`EngineError`.

The inspect answer also carries the container's environment (``Config.Env``), which often
holds secrets, and the engine has no way to leave it out. So the answer is parsed with a
whitelist applied while the JSON objects are built: only the fields in :data:`_KEEP` survive
the parse, ``Config`` (with ``Env``) is never kept, and no answer body is ever logged.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

API = "/v1.41"
TIMEOUT = 2.0
#: The largest answer read (a list of a few thousand containers fits easily).
MAX_BYTES = 16 * 1024 * 1024
#: Where engines put their socket, in the order they are tried when none is named.
DEFAULT_SOCKETS = (
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/podman/podman.sock",
)

#: Every member of an inspect answer that is kept, at any depth (a whitelist: see above).
_KEEP = frozenset(
    {"Id", "Name", "Created", "RestartCount", "State"}
    | {"Status", "Pid", "StartedAt", "Health"}  # State's members (Health has a Status too)
)


#: Asked for each listed container: its earlier info to use instead of inspecting, or None.
Reuse = Callable[[str, dict[str, Any]], "ContainerInfo | None"]


def health_hint(listed: dict[str, Any]) -> str:
    """What a list entry says of health: Docker writes it into ``Status`` ("Up 2 hours
    (unhealthy)"); Podman does not (then always "")."""
    status = listed.get("Status")
    if not isinstance(status, str) or "(" not in status:
        return ""
    return status[status.rfind("(") :]


#: The states shown: those with processes and a cgroup (a paused container's are frozen).
SHOWN = ("running", "paused")
#: The list call: running and paused containers (Podman leaves paused ones out by default).
LIST_URL = "/containers/json?filters=" + quote(json.dumps({"status": list(SHOWN)}))


class EngineError(Exception):
    """The engine could not be asked or its answer made no sense; the message says which."""


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """What the engine says of one running container (no numbers: those come from cgroups)."""

    id: str
    name: str
    image: str
    created: float | None
    state: str
    health: str | None
    restart_count: int
    started_at: float | None
    pid: int


def find_socket(environ: dict[str, str] | None = None) -> str | None:
    """The first engine socket that exists: Docker's, Podman's (root, then the user's)."""
    environ = os.environ if environ is None else environ
    candidates = list(DEFAULT_SOCKETS)
    runtime_dir = environ.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        candidates += [f"{runtime_dir}/podman/podman.sock", f"{runtime_dir}/docker.sock"]
    return next((path for path in candidates if _is_socket(path)), None)


def _is_socket(path: str) -> bool:
    import stat

    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def get(path: str, url: str, timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES) -> bytes:
    """The body of ``GET url`` on the unix socket ``path``, within one deadline.

    HTTP/1.0, so the engine closes the connection after the answer (no keep-alive to
    manage); a chunked answer is still understood.
    """
    deadline = time.monotonic() + timeout
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            sock.sendall(f"GET {url} HTTP/1.0\r\nHost: engine\r\n\r\n".encode("ascii"))
            raw = _read_all(sock, deadline, max_bytes)
        except TimeoutError:
            raise EngineError(f"no answer from {path} within {timeout:g} s") from None
        except OSError as exc:
            raise EngineError(f"cannot reach {path}: {exc.strerror or exc}") from None
    finally:
        sock.close()
    return _body(raw, url)


def _read_all(sock: socket.socket, deadline: float, max_bytes: int) -> bytes:
    chunks, size = [], 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)  # a trickling answer still ends at the deadline
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise EngineError(f"answer larger than {max_bytes} bytes")
        chunks.append(chunk)


def _body(raw: bytes, url: str) -> bytes:
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = lines[0].split(b" ", 2)
    if not sep or len(status) < 2 or not status[0].startswith(b"HTTP/"):
        raise EngineError(f"GET {url}: not an HTTP answer")
    if status[1] != b"200":
        raise EngineError(f"GET {url}: HTTP {status[1].decode('ascii', 'replace')}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    if headers.get(b"transfer-encoding") == b"chunked":
        return _dechunk(body, url)
    return body


def _dechunk(body: bytes, url: str) -> bytes:
    out, pos = [], 0
    while True:
        end = body.find(b"\r\n", pos)
        try:
            size = int(body[pos:end].split(b";")[0], 16)
        except ValueError:
            raise EngineError(f"GET {url}: bad chunked encoding") from None
        if end < 0 or size == 0:
            return b"".join(out)
        out.append(body[end + 2 : end + 2 + size])
        pos = end + 2 + size + 2


def _json(body: bytes, url: str, hook: Any = None) -> Any:
    try:
        return json.loads(body, object_pairs_hook=hook)
    except ValueError:
        raise EngineError(f"GET {url}: answer is not JSON") from None


def _whitelisted(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {name: value for name, value in pairs if name in _KEEP}


def timestamp(value: Any) -> float | None:
    """Epoch seconds from the engine's RFC 3339 text (nanoseconds cut) or a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if value > 0 else None
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    text = value.replace("Z", "+00:00")
    date, dot, rest = text.partition(".")
    if dot:  # Python parses at most microseconds: keep six digits, then the offset
        digits = "".join(c for c in rest if c.isdigit())
        offset = rest[len(digits) :]
        text = f"{date}.{digits[:6]}{offset}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


class Engine:
    """A client of one engine socket."""

    def __init__(self, path: str, timeout: float = TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout

    def _get(self, url: str, hook: Any = None) -> Any:
        return _json(get(self.path, API + url, self.timeout), url, hook)

    def running(self, reuse: Reuse | None = None) -> list[ContainerInfo]:
        """Every running container, with what inspecting each one tells.

        ``reuse(id, listed entry)`` may answer a container's earlier :class:`ContainerInfo`
        instead of inspecting it again (the inspect is the costly call, for both sides).
        """
        listed = self._get(LIST_URL)
        if not isinstance(listed, list):
            raise EngineError("GET /containers/json: not a list")
        found = []
        for item in listed:
            if not isinstance(item, dict) or not isinstance(item.get("Id"), str):
                raise EngineError("GET /containers/json: an entry without an Id")
            known = reuse(item["Id"], item) if reuse is not None else None
            if known is not None:
                found.append(known)
                continue
            try:
                found.append(self._inspect(item))
            except EngineError as exc:
                if "HTTP 404" not in str(exc):  # 404: it stopped since the list was read
                    raise
        return [info for info in found if info is not None]

    def _inspect(self, listed: dict[str, Any]) -> ContainerInfo | None:
        ident = listed["Id"]
        url = f"/containers/{ident}/json"
        data = self._get(url, hook=_whitelisted)
        state = data.get("State") if isinstance(data, dict) else None
        if not isinstance(state, dict):
            raise EngineError(f"GET {url}: no State")
        pid = state.get("Pid")
        if state.get("Status") not in SHOWN or not isinstance(pid, int) or pid <= 0:
            return None  # stopped since the list was read
        health = state.get("Health")
        names = listed.get("Names") or [data.get("Name") or ident[:12]]
        restarts = data.get("RestartCount")
        return ContainerInfo(
            id=ident,
            name=str(names[0]).lstrip("/"),
            image=str(listed.get("Image") or ""),
            created=timestamp(listed.get("Created") or data.get("Created")),
            state=str(state.get("Status")),
            health=(health.get("Status") or None) if isinstance(health, dict) else None,
            restart_count=restarts if isinstance(restarts, int) else 0,
            started_at=timestamp(state.get("StartedAt")),
            pid=pid,
        )
