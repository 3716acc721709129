"""Shared test helpers: a real `hostpulse serve` in a subprocess, a raw websocket viewer,
a real nginx in front of it, and the Chromium page helper of the e2e tier."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import websocket  # websocket-client, brought in by python-socketio[client]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
STATIC = ROOT / "src" / "hostpulse" / "web" / "static"
VENDOR = STATIC / "vendor"
DEPLOY = ROOT / "deploy"
MODULES = DEPLOY / "puppet" / "modules"
TEMPLATES = MODULES / "hostpulse" / "templates"
NGINX = Path("/usr/sbin/nginx")
CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ASSETS = ("socket.io.min.js", "uPlot.iife.min.js", "uPlot.min.css")


def browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return "Debian chromium not installed (apt-get install chromium)"
    if not all((VENDOR / name).exists() for name in ASSETS):
        return "browser assets missing: run `make assets`"
    return None


def tools_missing(*commands: str) -> str | None:
    absent = [c for c in commands if shutil.which(c) is None and not Path(c).exists()]
    return f"not installed: {', '.join(absent)} (see .ci/run)" if absent else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, headers: dict | None = None, timeout: float = 5.0):
    """(status, headers, body bytes) — also for 4xx/5xx answers."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def wait_until(predicate, timeout: float, what: str, every: float = 0.1):
    """``predicate()``'s first truthy answer within ``timeout`` s, or an AssertionError."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def get_json(url: str, headers: dict | None = None):
    status, _, body = http_get(url, headers)
    return status, json.loads(body)


# --- the CLI and logging in --------------------------------------------------------------------

PASSWORD = "correct horse battery"


def hostpulse(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """`hostpulse ARGS` in a subprocess (passwd, token, …), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "hostpulse", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
    )


def request(server, method, path, body=None, headers=None):
    """(status, headers dict (lower-case names), body) without following redirects."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def login(server, password=PASSWORD, headers=None):
    body = urllib.parse.urlencode({"password": password})
    hdrs = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    return request(server, "POST", "/login", body, hdrs)


def cookie_of(headers) -> str:
    return headers["set-cookie"].split(";", 1)[0]


@dataclass
class Server:
    """`hostpulse serve` on a free loopback port, with its own data and log directories."""

    tmp: Path
    interval: float = 0.5
    extra_env: dict = field(default_factory=dict)
    args: list = field(default_factory=list)
    #: Interpreter options before ``-m hostpulse`` (e.g. ``-m cProfile -o FILE``).
    python_args: list = field(default_factory=list)
    #: The interpreter whose hostpulse runs (another venv's: tests/package), and its cwd.
    python: str = sys.executable
    cwd: Path | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    #: Run in the child before it starts (e.g. lowering a resource limit).
    preexec: object = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.tmp / "data"

    @property
    def log_dir(self) -> Path:
        return self.tmp / "log"

    def start(self, wait: float = 15.0) -> Server:
        env = {**os.environ, **self.extra_env}
        env.pop("HOSTPULSE_CONFIG", None)
        command = [
            self.python,
            *self.python_args,
            "-m",
            "hostpulse",
            "serve",
            "--port",
            str(self.port),
            "--interval",
            str(self.interval),
            "--data-dir",
            str(self.data_dir),
            "--log-dir",
            str(self.log_dir),
            *self.args,
        ]
        self.stdout = open(self.tmp / f"server-{self.port}.out", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=self.stdout,
            stderr=subprocess.STDOUT,
            preexec_fn=self.preexec,
            cwd=self.cwd,
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}: {self.output()}")
            try:
                if http_get(self.url + "/healthz", timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not healthy within {wait}s: {self.output()}")

    def output(self) -> str:
        return (self.tmp / f"server-{self.port}.out").read_text(errors="replace")[-4000:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.stdout.close()
        code, self.process = self.process.returncode, None
        return code


#: Engine.IO v4 over a websocket, no polling first (what the page asks for too).
SOCKETIO_PATH = "/socket.io/?EIO=4&transport=websocket"


def client_frame(opcode: int, data: bytes, mask: bool = True, first: int = 0x80) -> bytes:
    """A client-to-server websocket frame (payload < 126 bytes), masked unless told;
    ``first`` holds FIN and the reserved bits."""
    key = os.urandom(4) if mask else b""
    body = bytes(b ^ key[i & 3] for i, b in enumerate(data)) if mask else data
    return bytes((first | opcode, (0x80 if mask else 0) | len(data))) + key + body


class Wire:
    """The Engine.IO v4 / Socket.IO v5 client side of one connection, without any I/O.

    The one implementation of the handshake shared by RawViewer (tests, blocking) and
    benchmarks/viewers.py (asyncio): feed it each received text frame; it says what to send
    back and whether the frame was an event of our namespace.
    """

    def __init__(self, namespace: str = "/live", auth: dict | None = None) -> None:
        self.namespace = namespace
        self.auth = auth
        self.event_prefix = f"42{namespace},"
        self.opened = False

    def on_frame(self, frame: str) -> tuple[str | None, bool]:
        """(reply to send or None, True if ``frame`` is an event on our namespace)."""
        if not self.opened:
            if not frame.startswith("0"):
                raise ValueError(f"expected an Engine.IO open packet, got {frame[:80]!r}")
            self.opened = True
            # Join the namespace; the connect payload is the client's `auth` (what it watches).
            auth = json.dumps(self.auth) if self.auth is not None else ""
            return f"40{self.namespace},{auth}", False
        if frame == "2":
            return "3", False  # Engine.IO ping -> pong
        return None, frame.startswith(self.event_prefix)

    def event(self, frame: str) -> tuple[str, object]:
        """(name, payload) of an event frame on our namespace."""
        name, *rest = json.loads(frame[len(self.event_prefix) :])
        return name, (rest[0] if rest else None)

    def event_frame(self, event: str, data=None, ack: int | None = None) -> str:
        ack_id = "" if ack is None else str(ack)
        return f"42{self.namespace},{ack_id}" + json.dumps([event, data])


def connect_from(base_url: str, source: str, sockopt: tuple = (), timeout: float = 10):
    """A TCP socket from ``source`` (port chosen by the kernel) connected to base_url's host."""
    where = urllib.parse.urlsplit(base_url)
    sock = socket.socket()
    for option in sockopt:
        sock.setsockopt(*option)
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect((where.hostname, where.port))
    return sock


class RawViewer:
    """A viewer speaking Engine.IO v4 / Socket.IO v5 itself over a websocket.

    It keeps the raw text of every frame, so tests can compare bytes between viewers.
    ``sockopt`` goes to the socket before it connects (e.g. a small SO_RCVBUF). ``source``
    is the local address to connect from (any of 127/8 on Linux): a client from another
    network as nginx's ``ip_hash`` sees it.
    """

    def __init__(
        self,
        base_url: str,
        namespace: str = "/live",
        headers: list | None = None,
        auth: dict | None = None,
        sockopt: tuple = (),
        source: str | None = None,
    ):
        ws_url = base_url.replace("http", "ws", 1) + SOCKETIO_PATH
        sock = None if source is None else connect_from(base_url, source, sockopt)
        self.ws = websocket.create_connection(
            ws_url, timeout=10, header=headers or [], sockopt=sockopt, socket=sock
        )
        self.wire = Wire(namespace, auth)
        self.namespace = namespace
        self.frames: list[str] = []
        reply, _ = self.wire.on_frame(self.ws.recv())
        self.ws.send(reply)

    def send_event(self, event: str, data=None, ack: int | None = None) -> None:
        self.ws.send(self.wire.event_frame(event, data, ack))

    def next_frame(self, timeout: float = 10.0) -> str:
        """The next Socket.IO frame (pings are answered and skipped)."""
        self.ws.settimeout(timeout)
        while True:
            frame = self.ws.recv()
            reply, _ = self.wire.on_frame(frame)
            if reply is not None:
                self.ws.send(reply)
                continue
            self.frames.append(frame)
            return frame

    def next_event(self, timeout: float = 10.0) -> tuple[str, object, str]:
        """(event name, payload, raw frame) of the next event on our namespace."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.next_frame(max(0.1, deadline - time.monotonic()))
            if frame.startswith(self.wire.event_prefix):
                name, payload = self.wire.event(frame)
                return name, payload, frame

    def wait_for(self, event: str, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            name, payload, raw = self.next_event(deadline - time.monotonic())
            if name == event:
                return payload, raw
        raise TimeoutError(event)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.ws.close()


class Probe(threading.Thread):
    """A well-behaved viewer beside a load or a flood, noting each sample's ``ts`` and the
    wall-clock time it arrived."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.viewer = RawViewer(url)
        self.viewer.wait_for("hello")
        self.samples: list[tuple[float, float]] = []  # (ts, received)
        self.stopping = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(websocket.WebSocketTimeoutException, OSError):
                name, payload, _ = self.viewer.next_event(timeout=1)
                if name == "sample":
                    self.samples.append((payload["ts"], time.time()))

    def longest_gap(self, since: float) -> float:
        """The longest wall-clock wait for a sample from ``since`` (time.time()) until now."""
        times = [since] + [rx for _, rx in self.samples if rx >= since] + [time.time()]
        return max(b - a for a, b in itertools.pairwise(times))

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)
        self.viewer.close()


#: One frame of each kind a flooding client may send over its websocket (test_hostile.py,
#: benchmarks/flood.py).
FLOOD_FRAMES = {
    "websocket pings": client_frame(0x9, b"x"),
    "engine.io pings": client_frame(0x1, b"2"),
    "resync": client_frame(0x1, b'42/live,["resync"]'),
    "events on another namespace": client_frame(0x1, b'42["watch",{}]'),
    "watch unknown host": client_frame(0x1, b'42/live,["watch",{"host":"nope"}]'),
    "unknown packets": client_frame(0x1, b"7junk"),
}


class Page:
    """A Playwright page with console problems (CSP violations among them) collected."""

    def __init__(
        self,
        browser,
        base_url: str,
        width: int = 1280,
        scheme: str = "light",
        ignore_https_errors: bool = False,
    ):
        self.base_url = base_url
        self.context = browser.new_context(
            viewport={"width": width, "height": 900},
            color_scheme=scheme,
            ignore_https_errors=ignore_https_errors,
        )
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))

    def _console(self, msg) -> None:
        if msg.type != "error":
            return
        self.problems.append(f"console.{msg.type}: {msg.text} @ {(msg.location or {}).get('url')}")

    def open(self) -> None:
        response = self.page.goto(self.base_url + "/")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        self.wait_state("connected")
        self.page.wait_for_function(
            "() => /^[0-9.]+$/.test(document.querySelector('#cpu-total').textContent)",
            timeout=15000,
        )

    def wait_state(self, state: str, timeout: float = 15000) -> None:
        self.page.wait_for_function(
            "(s) => document.querySelector('#conn-state').dataset.state === s",
            arg=state,
            timeout=timeout,
        )

    def text(self, selector: str) -> str:
        return self.page.locator(selector).first.text_content() or ""

    def transport(self) -> str:
        return self.page.evaluate("() => window.hostpulse.live.socket.io.engine.transport.name")

    def seq(self) -> int | None:
        return self.page.evaluate("() => window.hostpulse.live.seq")

    def wait_ticks(self, n: int, timeout: float = 15.0) -> None:
        start = self.seq()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.seq()
            if start is not None and now is not None and now >= start + n:
                return
            time.sleep(0.1)
        raise AssertionError(f"fewer than {n} ticks applied in {timeout}s (seq {start})")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.evaluate("() => window.scrollTo(0, 0)")
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- nginx: the shipped site template, rendered by Puppet, in front of a real server ---------


def render_epp(template: str, values: dict, tmp: Path) -> str:
    """Render one of the Puppet module's EPP templates with `puppet epp render`: the very
    mechanism the module uses, so the tests run exactly what Puppet writes."""
    values_file = tmp / f"{template}-{os.getpid()}-{time.monotonic_ns()}.yaml"
    values_file.write_text(json.dumps(values))  # JSON is YAML
    result = subprocess.run(
        ["puppet", "epp", "render", "--values_file", str(values_file), str(TEMPLATES / template)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    values_file.unlink()
    problems = [line for line in result.stderr.splitlines() if "/proc/1/environ" not in line]
    assert result.returncode == 0 and not problems, result.stderr
    return result.stdout


def nginx_site(tmp: Path, listen: str, upstreams: list[str], **values) -> str:
    """The nginx site as Puppet writes it, for a test: loopback listen, our static dir."""
    base = {
        "server_name": "_",
        "listen": [listen],
        "upstreams": upstreams,
        "static_dir": str(STATIC),
    }
    return render_epp("nginx-site.conf.epp", {**base, **values}, tmp)


def shipped_nginx(tmp: Path, upstreams: list[str], main: dict | None = None, **values) -> Nginx:
    """An Nginx (not started) running the shipped site for these upstreams ("host:port", one
    per hostpulse worker, sticky by client address) on a free loopback port; ``values`` go to
    the template, ``main`` to the Nginx (its main file). The one way tests and benchmarks put
    nginx in front of hostpulse."""
    port = free_port()
    site = nginx_site(tmp, f"127.0.0.1:{port}", upstreams, **values)
    return Nginx(tmp / "nginx", site, url=f"http://127.0.0.1:{port}", **(main or {}))


@dataclass
class Nginx:
    """Debian's nginx running `site` (an http-context file) with every path in `tmp`.

    The main file is what Debian's nginx.conf provides around a site, plus the absolute
    pid/log paths and the five temp paths a non-packaged start needs.
    """

    tmp: Path
    site: str
    #: Where a client reaches it (informational, for the tests).
    url: str = ""
    #: A proxied websocket holds two connections (client and upstream), each one file.
    worker_connections: int = 256
    #: nginx worker processes ("auto": one a core, as Debian's own nginx.conf has it).
    processes: int | str = 1
    process: subprocess.Popen | None = None

    @property
    def error_log(self) -> Path:
        return self.tmp / "error.log"

    @property
    def access_log(self) -> Path:
        return self.tmp / "access.log"

    def main_conf(self) -> str:
        t = self.tmp
        temps = "\n".join(
            f"    {name}_temp_path {t / name};"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # The file limit: every connection, plus logs, listening and epoll descriptors.
        return f"""daemon off;
worker_processes {self.processes};
worker_rlimit_nofile {self.worker_connections + 64};
pid {t / "nginx.pid"};
error_log {self.error_log} info;
events {{ worker_connections {self.worker_connections}; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log {self.access_log} combined;
{temps}
    include {t / "site.conf"};
}}
"""

    def write(self) -> Path:
        self.tmp.mkdir(parents=True, exist_ok=True)
        (self.tmp / "site.conf").write_text(self.site)
        conf = self.tmp / "nginx.conf"
        conf.write_text(self.main_conf())
        return conf

    def check(self) -> subprocess.CompletedProcess:
        conf = self.write()
        return subprocess.run(
            [str(NGINX), "-t", "-q", "-c", str(conf), "-p", str(self.tmp)],
            capture_output=True,
            text=True,
            timeout=30,
        )

    def start(self, wait: float = 10.0) -> Nginx:
        conf = self.write()
        pidfile = self.tmp / "nginx.pid"
        pidfile.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [str(NGINX), "-c", str(conf), "-p", str(self.tmp)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.tmp / "stderr", "ab"),  # noqa: SIM115
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:  # the pid file is written once it listens
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {(self.tmp / 'stderr').read_text()}")
            if pidfile.exists() and pidfile.read_text().strip():
                return self
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"nginx not started within {wait}s")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def errors(self) -> list[str]:
        """Lines of the error log at level error or worse."""
        if not self.error_log.exists():
            return []
        return re.findall(
            r"^.*\[(?:error|crit|alert|emerg)\].*$", self.error_log.read_text(), re.MULTILINE
        )

    def statuses(self) -> list[tuple[str, int]]:
        """(request line, status) of every request in the access log."""
        text = self.access_log.read_text() if self.access_log.exists() else ""
        return [(m.group(1), int(m.group(2))) for m in re.finditer(r'"([^"]*)" (\d{3}) ', text)]


def require(missing: str | None) -> None:
    """Skip a test module whose real component is missing — except in CI, which installs
    every one of them: there a skip would hide a broken set-up, so it fails instead."""
    if missing is None:
        return
    if os.environ.get("CI"):
        raise RuntimeError(f"{missing} (CI must install it: see .ci/run)")
    pytest.skip(missing, allow_module_level=True)
