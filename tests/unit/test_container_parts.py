"""The containers collector's parts without an engine: the cgroup v2 layout (files the test
writes: this machine runs v1), v1 texts, the engine client against real unix sockets that
answer, answer garbage or hang, and the sampler keeping its schedule meanwhile.

Real containers: tests/integration/test_containers.py.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path

import pytest

from engine_support import SocketServer
from hostpulse import metrics
from hostpulse.collect import cgroup, engine
from hostpulse.collect.containers import ContainerCollector
from hostpulse.rates import rate
from hostpulse.sampler import Sampler

MiB = 1024 * 1024
ID = "c0ffee" * 10 + "abcd"
SECRET = "PASSWORD=hunter2-do-not-keep"


def http(body, status: str = "200 OK", chunked: bool = False) -> bytes:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    if chunked:
        middle = len(data) // 2
        parts = [data[:middle], data[middle:]]
        data = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
        return b"HTTP/1.1 " + status.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + data
    head = f"HTTP/1.0 {status}\r\nContent-Type: application/json\r\n"
    return head.encode() + f"Content-Length: {len(data)}\r\n\r\n".encode() + data


def inspect_answer(pid: int, health: str | None = "healthy") -> dict:
    state = {"Status": "running", "Pid": pid, "StartedAt": "2026-12-01T10:00:00.123456789Z"}
    if health:
        state["Health"] = {"Status": health, "FailingStreak": 0, "Log": [{"Output": "x"}]}
    return {
        "Id": ID,
        "Name": "/web",
        "Created": "2026-12-01T09:59:59Z",
        "RestartCount": 2,
        "State": state,
        "Config": {"Env": [SECRET], "Image": "nginx"},
    }


def engine_respond(pid: int, chunked: bool = False, listed=None):
    listed = listed if listed is not None else [{"Id": ID, "Names": ["/web"], "Image": "nginx:1"}]

    def respond(request: str) -> bytes:
        line = request.split("\r\n", 1)[0]
        if line.startswith("GET /v1.41/containers/json?filters="):
            return http(listed, chunked=chunked)
        if line.startswith(f"GET /v1.41/containers/{ID}/json "):
            return http(inspect_answer(pid), chunked=chunked)
        return http({"message": "no such container"}, "404 Not Found")

    return respond


# --- cgroup v2, with files the test writes -------------------------------------------------


def write_v2_container(root: Path, pid: int, cpu_usec: int, current: int, inactive: int) -> Path:
    """A fake /proc and a v2 cgroup tree holding one container's cgroup."""
    group = root / "cgroup" / "system.slice" / f"docker-{ID}.scope"
    group.mkdir(parents=True, exist_ok=True)
    (group / "cpu.stat").write_text(f"usage_usec {cpu_usec}\nuser_usec 1\nsystem_usec 2\n")
    (group / "memory.current").write_text(f"{current}\n")
    (group / "memory.stat").write_text(
        f"anon 1000\nfile 5000\nactive_file 7\ninactive_file {inactive}\nshmem 0\n"
    )
    (group / "memory.max").write_text("max\n")
    (group / "io.stat").write_text(
        "8:0 rbytes=1000 wbytes=2000 rios=1 wios=2 dbytes=0 dios=0\n"
        "8:16 rbytes=10 wbytes=20 rios=1 wios=1 dbytes=0 dios=0\n"
    )
    (group / "pids.current").write_text("3\n")
    proc = root / "proc"
    (proc / "self").mkdir(parents=True, exist_ok=True)
    (proc / "self" / "mountinfo").write_text(
        f"30 25 0:26 / {root / 'cgroup'} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
    )
    (proc / str(pid)).mkdir(exist_ok=True)
    (proc / str(pid) / "cgroup").write_text(f"0::/system.slice/docker-{ID}.scope\n")
    (proc / str(pid) / "net" / "dev").parent.mkdir(exist_ok=True)
    (proc / str(pid) / "net" / "dev").write_text(
        "Inter-|   Receive                            |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets\n"
        "    lo: 999999 1 0 0 0 0 0 0 999999 1 0 0 0 0 0 0\n"
        "  eth0: 5000 10 0 0 0 0 0 0 7000 12 0 0 0 0 0 0\n"
    )
    return group


def test_v2_layout_keys_values_and_facts(tmp_path):
    pid = 4242
    group = write_v2_container(tmp_path, pid, cpu_usec=1_000_000, current=50 * MiB, inactive=MiB)
    server = SocketServer(tmp_path / "engine.sock", engine_respond(pid))
    collector = ContainerCollector(server.path, proc=str(tmp_path / "proc"), mem_total=8 << 30)
    try:
        collector.refresh_once()  # the engine's answer, without waiting for its thread
        first = collector.read().counters
        # one second of CPU in the next 2 s: 50 % of one core
        (group / "cpu.stat").write_text("usage_usec 2000000\n")
        (group / "io.stat").write_text("8:0 rbytes=3000 wbytes=2000\n8:16 rbytes=10 wbytes=20\n")
        reading = collector.read()

        def per_second(key: str) -> float | None:
            return rate(first[key], reading.counters[key], 2.0)

        assert per_second("container.web.cpu") == pytest.approx(50.0)
        assert per_second("container.web.read_bps") == pytest.approx(1000.0)
        assert per_second("container.web.write_bps") == 0.0
        assert reading.values["container.web.mem_used"] == 49 * MiB  # current - inactive_file
        assert reading.values["container.web.mem_limit"] == 8 << 30  # "max": the host's memory
        assert reading.values["container.web.pids"] == 3
        assert reading.counters["container.web.rx_bps"] == 5000  # lo left out
        assert reading.counters["container.web.tx_bps"] == 7000
        row = reading.tables["containers"]["web"]
        assert row == {
            "id": ID,
            "name": "web",
            "image": "nginx:1",
            "created": pytest.approx(1796119199.0),
            "state": "running",
            "health": "healthy",
            "restart_count": 2,
            "started_at": pytest.approx(1796119200.123456),
        }
        assert SECRET not in repr(collector.__dict__) and SECRET not in json.dumps(row)
    finally:
        collector.close()
        server.close()


def test_v2_container_that_the_engine_drops_goes_gone(tmp_path):
    pid = 4243
    write_v2_container(tmp_path, pid, 1, MiB, 0)
    listed = [{"Id": ID, "Names": ["/web"], "Image": "nginx:1"}]
    server = SocketServer(tmp_path / "engine.sock", engine_respond(pid, listed=listed))
    collector = ContainerCollector(server.path, proc=str(tmp_path / "proc"))
    try:
        collector.refresh_once()
        assert "container.web.mem_used" in collector.read().values
        listed.clear()  # stopped: the engine lists it no more
        collector.refresh_once()
        reading = collector.read()
        assert not [k for k in reading.values if k.startswith("container.")]
        assert reading.tables["containers"] == {}
    finally:
        collector.close()
        server.close()


def test_known_containers_are_not_inspected_every_refresh(tmp_path):
    pid = 4244
    write_v2_container(tmp_path, pid, 1, MiB, 0)
    listed = [
        {"Id": ID, "Names": ["/web"], "Image": "nginx:1", "State": "running", "Status": "Up 1 s"}
    ]
    server = SocketServer(tmp_path / "engine.sock", engine_respond(pid, listed=listed))
    collector = ContainerCollector(server.path, proc=str(tmp_path / "proc"), reinspect=0.5)

    def inspects() -> int:
        return sum(1 for line in server.requests if f"/containers/{ID}/json" in line)

    try:
        collector.refresh_once()
        collector.refresh_once()  # the list only: nothing new in it
        assert inspects() == 1
        listed[0]["Status"] = "Up 3 seconds (unhealthy)"  # Docker's list says health
        collector.refresh_once()
        assert inspects() == 2
        time.sleep(0.6)  # and a while later anyway (Podman's list says nothing of health)
        collector.refresh_once()
        assert inspects() == 3
        collector._stale.add(ID)  # a tick found it gone: perhaps restarted with a new pid
        collector.refresh_once()
        assert inspects() == 4
        assert len(server.requests) == 5 + 4
    finally:
        collector.close()
        server.close()


def test_memory_limit_from_v2_file(tmp_path):
    group = write_v2_container(tmp_path, 7, 1, MiB, 0)
    (group / "memory.max").write_text("268435456\n")
    where = cgroup.locate(
        (tmp_path / "proc" / "7" / "cgroup").read_text(),
        cgroup.cgroup_mounts((tmp_path / "proc" / "self" / "mountinfo").read_text()),
    )
    assert where is not None and where.version == 2
    reader = cgroup.CgroupReader(where)
    try:
        assert reader.limit() == 256 * MiB
    finally:
        reader.close()


# --- cgroup v1 texts ---------------------------------------------------------------------


HYBRID_MOUNTINFO = """\
25 1 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs rw
26 25 0:23 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
27 25 0:24 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct
28 25 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
29 25 0:26 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio
30 25 0:27 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
31 25 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
"""
HYBRID_PROC = """\
8:pids:/libpod_parent/libpod-abc
7:blkio:/libpod_parent/libpod-abc
4:memory:/libpod_parent/libpod-abc
2:cpuacct:/libpod_parent/libpod-abc
1:cpu:/libpod_parent/libpod-abc
0::/libpod_parent/libpod-abc
"""


def test_hybrid_layout_uses_the_v1_controllers():
    where = cgroup.locate(HYBRID_PROC, cgroup.cgroup_mounts(HYBRID_MOUNTINFO))
    assert where == cgroup.Location(
        1,
        cpu="/sys/fs/cgroup/cpuacct/libpod_parent/libpod-abc",
        memory="/sys/fs/cgroup/memory/libpod_parent/libpod-abc",
        io="/sys/fs/cgroup/blkio/libpod_parent/libpod-abc",
        pids="/sys/fs/cgroup/pids/libpod_parent/libpod-abc",
    )


def test_combined_controllers_and_a_namespaced_mount_root():
    mountinfo = "26 25 0:23 /docker/x /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct"
    mountinfo += "\n28 25 0:25 /docker/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    proc = "3:memory:/docker/x/inner\n2:cpu,cpuacct:/docker/x/inner\n"
    where = cgroup.locate(proc, cgroup.cgroup_mounts(mountinfo))
    assert where is not None
    assert where.cpu == "/sys/fs/cgroup/cpu,cpuacct/inner"
    assert where.memory == "/sys/fs/cgroup/memory/inner"
    assert where.io is None and where.pids is None


def test_v1_texts():
    blkio = b"8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\n"
    blkio += b"8:16 Read 1\nTotal 12289\n"
    assert cgroup._io_bytes(blkio, v1=True) == (4097, 8192)
    stat = b"cache 1\nrss 2\ninactive_file 5\ntotal_cache 10\ntotal_inactive_file 300\n"
    assert cgroup._stat_field(stat, b"total_inactive_file") == 300
    assert cgroup._stat_field(stat, b"inactive_file") == 5  # not the total_ line
    assert cgroup._stat_field(b"inactive_file 9\n", b"inactive_file") == 9
    assert cgroup._stat_field(stat, b"absent") == 0


def test_no_cgroup_found_is_none():
    assert cgroup.locate("", cgroup.cgroup_mounts(HYBRID_MOUNTINFO)) is None
    assert cgroup.locate(HYBRID_PROC, {}) is None


# --- the engine client on real sockets -----------------------------------------------------


def test_engine_running_and_the_environment_is_never_kept(tmp_path):
    for chunked in (False, True):
        path = tmp_path / f"e{int(chunked)}.sock"
        server = SocketServer(path, engine_respond(99, chunked=chunked))
        try:
            [info] = engine.Engine(str(path)).running()
        finally:
            server.close()
        assert (info.id, info.name, info.pid, info.health) == (ID, "web", 99, "healthy")
        assert info.restart_count == 2
        assert SECRET not in repr(info)
        assert all("GET /v1.41/containers" in line for line in server.requests)


def test_engine_vanished_container_between_list_and_inspect(tmp_path):
    listed = [{"Id": "gone" * 16, "Names": ["/x"]}, {"Id": ID, "Names": ["/web"]}]
    server = SocketServer(tmp_path / "e.sock", engine_respond(5, listed=listed))
    try:
        assert [i.name for i in engine.Engine(server.path).running()] == ["web"]
    finally:
        server.close()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"\x00\xffnot http at all", "not an HTTP answer"),
        (http(b"{not json"), "not JSON"),
        (http({"a": 1}), "not a list"),
        (http([{"Names": []}]), "without an Id"),
        (http({"message": "boom"}, "500 Internal Server Error"), "HTTP 500"),
    ],
)
def test_engine_garbage_is_an_engine_error(tmp_path, answer, message):
    server = SocketServer(tmp_path / "g.sock", lambda _request: answer)
    try:
        with pytest.raises(engine.EngineError, match=message):
            engine.Engine(server.path).running()
    finally:
        server.close()


def test_engine_hanging_socket_times_out(tmp_path):
    server = SocketServer(tmp_path / "h.sock", lambda _request: None)
    try:
        started = time.monotonic()
        with pytest.raises(engine.EngineError, match="no answer"):
            engine.Engine(server.path, timeout=0.3).running()
        assert time.monotonic() - started < 1.0
    finally:
        server.close()


def test_engine_missing_socket(tmp_path):
    with pytest.raises(engine.EngineError, match="cannot reach"):
        engine.Engine(str(tmp_path / "absent.sock")).running()


def test_find_socket_looks_in_the_runtime_dir(tmp_path):
    sock = socket.socket(socket.AF_UNIX)
    (tmp_path / "podman").mkdir()
    sock.bind(str(tmp_path / "podman" / "podman.sock"))
    try:
        found = engine.find_socket({"XDG_RUNTIME_DIR": str(tmp_path)})
        # a Docker socket on this machine would come first
        assert found in (str(tmp_path / "podman" / "podman.sock"), *engine.DEFAULT_SOCKETS)
    finally:
        sock.close()
    (tmp_path / "plain").write_text("not a socket")
    assert not engine._is_socket(str(tmp_path / "plain"))


def test_timestamps():
    assert engine.timestamp("1970-01-01T00:00:01.5Z") == 1.5
    assert engine.timestamp("1970-01-01T00:00:01.123456789+00:00") == pytest.approx(1.123456)
    assert engine.timestamp("0001-01-01T00:00:00Z") is None
    assert engine.timestamp(1700000000) == 1700000000.0
    assert engine.timestamp("garbage") is None and engine.timestamp(None) is None


# --- keys ----------------------------------------------------------------------------------


def test_container_keys_units_and_prometheus_label():
    assert metrics.unit_of("container.web.cpu") == "%"
    assert metrics.unit_of("container.web.mem_used") == "B"
    assert metrics.unit_of("container.web.mem_limit") == "B"
    assert metrics.unit_of("container.web.rx_bps") == "B/s"
    assert metrics.unit_of("container.web.pids") == ""
    assert metrics.prometheus_series("container.web-1.cpu") == (
        "hostpulse_container_cpu",
        {"container": "web-1"},
    )
    assert metrics.key("container", "cpu", "my app") == "container.my_app.cpu"


# --- the sampler keeps its schedule whatever the socket does -------------------------------


def _run_sampler_against(path: str, caplog, seconds: float = 1.6) -> tuple[Sampler, list[str]]:
    collector = ContainerCollector(path, refresh=0.2, timeout=0.5)
    sampler = Sampler([collector], interval=0.25, read_facts=dict)
    caplog.set_level(logging.INFO, logger="hostpulse.collect")
    sampler.start()
    time.sleep(seconds)
    sampler.stop()
    assert collector.refreshes >= 2 and collector.failures == collector.refreshes
    lines = [r.getMessage() for r in caplog.records if r.name == "hostpulse.collect"]
    return sampler, lines


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["hanging", "garbage", "absent"])
def test_sampler_keeps_its_schedule_and_logs_once(tmp_path, caplog, kind):
    server = None
    if kind == "hanging":
        server = SocketServer(tmp_path / "s.sock", lambda _request: None)
    elif kind == "garbage":
        server = SocketServer(tmp_path / "s.sock", lambda _request: b"\x16\x03\x01garbage")
    path = server.path if server else str(tmp_path / "absent.sock")
    try:
        sampler, lines = _run_sampler_against(path, caplog)
    finally:
        if server:
            server.close()
    # 1.6 s at 0.25 s: 7 ticks, none skipped, none slow, while the refresher fails 3+ times
    assert sampler.stats.ticks >= 6 and sampler.stats.skipped == 0
    assert sampler.stats.last_duration < 0.05
    assert not sampler.stats.errors
    assert len(lines) == 1, lines
    assert path in lines[0]
    assert "containers" not in sampler.facts  # never answered: no containers panel


def test_no_socket_anywhere_is_one_info_line_and_no_table(caplog):
    caplog.set_level(logging.INFO, logger="hostpulse.collect")
    collector = ContainerCollector(None, find=lambda: None)
    try:
        for _ in range(3):
            collector.refresh_once()
        reading = collector.read()
    finally:
        collector.close()
    assert reading.values == {} and "containers" not in reading.tables
    lines = [r for r in caplog.records if r.name == "hostpulse.collect"]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
