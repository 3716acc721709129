"""A real `hostpulse serve` (gevent) whose container engine socket hangs: the sampler keeps
its schedule, /healthz stays ok, and the log says so once."""

from __future__ import annotations

import time

import pytest

from engine_support import SocketServer
from support import Server, get_json

pytestmark = pytest.mark.integration


def test_hanging_engine_socket_does_not_stall_serve(tmp_path):
    engine = SocketServer(tmp_path / "hang.sock", lambda _request: None)
    server = Server(tmp_path, interval=0.25, extra_env={"HOSTPULSE_CONTAINERS_SOCKET": engine.path})
    try:
        server.start()
        hid = get_json(server.url + "/api/v1/hosts")[1]["hosts"][0]["id"]
        seqs = []
        started = time.monotonic()
        while time.monotonic() - started < 6:  # asked at once, hangs 2 s, asked again at 7 s
            status, health = get_json(server.url + "/healthz")
            assert status == 200 and health["status"] == "ok", health
            seqs.append(get_json(f"{server.url}/api/v1/hosts/{hid}/sample")[1]["seq"])
            time.sleep(0.5)
        # 6 s at 0.25 s: ~24 slots; the ticks went on while each engine call hung for 2 s
        assert seqs[-1] - seqs[0] >= 18, seqs
        [request] = engine.requests  # the list, once: the next ask is due at 7 s
        assert request.startswith("GET /v1.41/containers/json?filters=")
    finally:
        server.stop()
        engine.close()
    log = (server.log_dir / "hostpulse.log").read_text()
    lines = [ln for ln in log.splitlines() if engine.path in ln]
    assert len(lines) == 1 and "no answer" in lines[0], lines
