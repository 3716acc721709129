"""Soak: viewers coming and going for a long time on one `hostpulse serve`; a row every period.

A steady population of ``--viewers`` raw websocket viewers (the asyncio client of
``viewers.py``), ``--rate`` new ones a second, each living ``viewers / rate`` seconds, so as
many leave as arrive; half leave politely (Socket.IO disconnect and a websocket close), half
drop the TCP connection. ``--stalled`` of them stop reading right after their hello (small
receive buffer, processes panel open): the server must cut each at ``stall_timeout``; the
viewer sees the reset in its socket's TCP state without reading. A few probe viewers, in a
process of their own, stay for the whole run and measure the delay from a sample's ``ts``.

Every ``--period`` seconds a row: elapsed, viewers, server RSS, open fds, threads, delay,
delivery (samples received / received + ``seq`` gaps, every reading viewer), stalled viewers
cut, load average. At the end every viewer leaves, and the summary compares the first steady
minute with the last one, the fds with the baseline before the first viewer, and checks that a
fresh viewer still gets its hello and samples. Loopback only; stops by itself; asserts nothing
(``tests/integration/test_soak.py`` runs it for a minute and asserts).

    .venv/bin/python benchmarks/soak.py                          # 30 min, 500 viewers, 10/s
    .venv/bin/python benchmarks/soak.py --minutes 2 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import socket
import statistics
import struct
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import RawViewer, Server, client_frame, http_get
from viewers import (
    HELLO_PREFIX,
    SAMPLE_PREFIX,
    STALLED_RCVBUF,
    Viewer,
    cpu_seconds,
    pct,
    raise_fd_limit,
    server_counter,
    status_kb,
)

TCP_ESTABLISHED = 1


# --- the viewers ---------------------------------------------------------------------------


@dataclass
class Tally:
    """What one viewer process saw since its last report (counters are reset by a report)."""

    received: int = 0  # samples
    missed: int = 0  # seq gaps of reading viewers
    delays: list = field(default_factory=list)  # probes only, seconds
    connects: int = 0
    failed: int = 0  # connects without a hello
    dropped: int = 0  # reading viewers the server closed before they left
    stalled_cut: int = 0  # stalled viewers whose connection the server reset
    stalled_kept: int = 0  # stalled viewers still connected at their deadline
    cut_after: list = field(default_factory=list)  # seconds from hello to the reset

    def report(self) -> dict:
        """What was counted since the last report; counting starts again from zero."""
        out = asdict(self)
        self.__dict__.update(asdict(Tally()))
        return out


class SoakViewer(Viewer):
    """viewers.Viewer that follows every sample's ``seq`` and counts gaps."""

    def __init__(self, host, port, probe, stall, tally: Tally) -> None:
        super().__init__(host, port, probe, stall)
        self.tally = tally
        self.seq: int | None = None
        self.missed = 0

    def on_text(self, payload: bytes) -> None:
        text = payload.decode()
        if text.startswith(SAMPLE_PREFIX):
            sample = self.wire.event(text)[1]
            self._follow(sample["seq"])
            if self.probe:
                self.tally.delays.append(time.time() - sample["ts"])
            return
        if text.startswith(HELLO_PREFIX) and self.seq is None:
            sample = self.wire.event(text)[1].get("sample")
            self.seq = sample["seq"] if sample else None
        super().on_text(payload)

    def _follow(self, seq: int) -> None:
        if self.seq is not None and seq > self.seq + 1:
            self.missed += seq - self.seq - 1
            self.tally.missed += seq - self.seq - 1
        if self.seq is None or seq > self.seq:
            self.seq = seq
            self.tally.received += 1

    def tcp_state(self) -> int:
        sock = self.transport.get_extra_info("socket")
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]

    def leave(self, politely: bool) -> None:
        """A browser tab closed (Socket.IO disconnect, websocket close) or a network drop."""
        if politely and not self.closed.done():
            self.send_text(f"41{self.wire.namespace},")
            self.transport.write(client_frame(0x8, struct.pack("!H", 1000)))  # close, 1000
            self.transport.close()
        else:
            self.transport.abort()


async def connect(host: str, port: int, probe: bool, stall: bool, tally: Tally):
    """One viewer up to its hello, or None (counted as failed): no retry, a soak counts."""
    loop = asyncio.get_running_loop()
    tally.connects += 1
    sock = socket.socket()
    if stall:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RCVBUF)
    sock.setblocking(False)
    viewer = None
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (host, port)), 10)
        _, viewer = await loop.create_connection(
            lambda: SoakViewer(host, port, probe, stall, tally), sock=sock
        )
        await asyncio.wait_for(asyncio.shield(viewer.hello), 10)
        return viewer
    except (OSError, TimeoutError, ConnectionError):
        tally.failed += 1
        if viewer is not None:
            viewer.transport.abort()
        sock.close()
        return None


async def live_until(viewer: SoakViewer, seconds: float) -> bool:
    """Read for ``seconds``; False if the server closed the connection first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(viewer.closed), seconds)
        return False
    return True


async def stall_until_cut(viewer: SoakViewer, deadline: float, tally: Tally) -> None:
    """Not reading: poll the socket's TCP state (a reset shows there without a read)."""
    hello_at = viewer.hello.result()
    while time.time() < deadline:
        if viewer.closed.done() or viewer.tcp_state() != TCP_ESTABLISHED:
            tally.stalled_cut += 1
            tally.cut_after.append(time.time() - hello_at)
            viewer.transport.abort()
            return
        await asyncio.sleep(0.5)
    tally.stalled_kept += 1
    viewer.transport.abort()


class Population:
    """One process's viewers: a connect every 1/rate s, each leaving after its lifetime."""

    def __init__(self, host: str, port: int, args) -> None:
        self.host, self.port, self.args = host, port, args
        self.tally = Tally()
        self.open: set[SoakViewer] = set()
        self.worst_missed = 0  # most seq gaps of one reading viewer, over the whole run
        self.stopping = False

    def stalls(self, i: int) -> bool:
        """Exactly a ``stalled`` fraction, spread evenly."""
        return int((i + 1) * self.args.stalled) > int(i * self.args.stalled)

    async def one(self, i: int) -> None:
        stall = self.stalls(i)
        viewer = await connect(self.host, self.port, False, stall, self.tally)
        if viewer is None:
            return
        self.open.add(viewer)
        try:
            if stall:
                deadline = time.time() + self.args.stall_timeout + self.args.stall_grace
                await stall_until_cut(viewer, deadline, self.tally)
                return
            await self.read(viewer, self.args.viewers / self.args.rate, politely=i % 2 == 0)
        finally:
            self.open.discard(viewer)

    async def read(self, viewer: SoakViewer, lifetime: float, politely: bool) -> None:
        """Read ``lifetime`` seconds or until the run stops, then leave; counts a hang-up."""
        end = time.time() + lifetime
        while time.time() < end and not self.stopping:
            if not await live_until(viewer, min(1.0, end - time.time())):
                self.tally.dropped += 1  # the server closed a viewer that kept reading
                break
        self.worst_missed = max(self.worst_missed, viewer.missed)
        viewer.leave(politely)

    async def churn(self, seconds: float) -> None:
        start, tasks, i = time.monotonic(), set(), 0
        while time.monotonic() - start < seconds:
            task = asyncio.create_task(self.one(i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
            await asyncio.sleep(max(0.0, start + i / self.args.rate - time.monotonic()))
        self.stopping = True  # readers leave now; stalled viewers wait for their cut
        if tasks:
            await asyncio.wait(tasks)


async def serve_reports(conn, population: Population, work) -> None:
    """Run ``work``; answer each of the parent's asks with a report, the last one "done"."""
    loop = asyncio.get_running_loop()
    job = asyncio.create_task(work)
    while True:
        await loop.run_in_executor(None, conn.recv)
        done = job.done()
        if done and job.exception() is not None:
            raise job.exception()
        report = {
            **population.tally.report(),
            "open": len(population.open),
            "worst_missed": population.worst_missed,
        }
        conn.send(("done" if done else "row", report))
        if done:
            return


def churn_process(conn, host: str, port: int, args) -> None:
    async def run() -> None:
        population = Population(host, port, args)
        await serve_reports(conn, population, population.churn(args.minutes * 60))

    asyncio.run(run())


def probe_process(conn, host: str, port: int, args) -> None:
    """Probe viewers for the whole run (reconnecting if cut), leaving with the churn."""

    async def keep(population: Population) -> None:
        while not population.stopping:
            viewer = await connect(host, port, True, False, population.tally)
            if viewer is None:
                await asyncio.sleep(1)
                continue
            population.open.add(viewer)
            await population.read(viewer, math.inf, politely=True)
            population.open.discard(viewer)

    async def run() -> None:
        population = Population(host, port, args)

        async def work() -> None:
            keepers = [asyncio.create_task(keep(population)) for _ in range(args.probes)]
            await asyncio.sleep(args.minutes * 60)
            population.stopping = True
            await asyncio.gather(*keepers)

        await serve_reports(conn, population, work())

    asyncio.run(run())


# --- the server side, rows and summary --------------------------------------------------------


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def skipped_ticks(url: str) -> float:
    """The sampler's skipped ticks (a seq gap for everybody, not a delivery failure)."""
    _, _, body = http_get(url + "/metrics", timeout=10)
    prefix = "hostpulse_sampler_skipped_ticks_total{"
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.decode().splitlines()
        if line.startswith(prefix)
    )


def server_row(server: Server, elapsed: float, cpu_pct: float, reports: list[dict]) -> dict:
    pid = server.process.pid
    delays = [d for r in reports for d in r["delays"]]
    received = sum(r["received"] for r in reports)
    missed = sum(r["missed"] for r in reports)
    return {
        "elapsed": elapsed,
        "viewers": sum(r["open"] for r in reports),
        "server_viewers": server_counter(server.url, "hostpulse_viewers"),
        "cpu_pct": cpu_pct,
        "rss_mb": status_kb(pid, "VmRSS") / 1024,
        "fds": open_fds(pid),
        "threads": status_kb(pid, "Threads"),
        "delays": delays,
        "delay_p50": pct(delays, 50),
        "delay_p99": pct(delays, 99),
        "received": received,
        "missed": missed,
        "delivery": received / (received + missed) if received + missed else None,
        "connects": sum(r["connects"] for r in reports),
        "failed": sum(r["failed"] for r in reports),
        "dropped": sum(r["dropped"] for r in reports),
        "stalled_cut": sum(r["stalled_cut"] for r in reports),
        "stalled_kept": sum(r["stalled_kept"] for r in reports),
        "cut_after": [c for r in reports for c in r["cut_after"]],
        "server_stall_cuts": server_counter(server.url, "hostpulse_stalled_viewers_total"),
        "load1": os.getloadavg()[0],
    }


def ms(value) -> str:
    return "–" if value is None else f"{1000 * value:.1f}"


HEADER = (
    "| elapsed s | viewers (server) | CPU % | RSS MB | fds | threads | delay p50 / p99 ms "
    "| delivery | connects / failed | stalled cut (server) | load1 |"
)


def row_line(row: dict, totals: dict) -> str:
    delivery = "–" if row["delivery"] is None else f"{100 * row['delivery']:.2f}%"
    cuts = row["server_stall_cuts"]
    return (
        f"| {row['elapsed']:.0f} | {row['viewers']} ({cuts_fmt(row['server_viewers'])}) "
        f"| {row['cpu_pct']:.1f} | {row['rss_mb']:.1f} | {row['fds']} | {row['threads']} "
        f"| {ms(row['delay_p50'])} / {ms(row['delay_p99'])} | {delivery} "
        f"| {totals['connects']} / {totals['failed']} "
        f"| {totals['stalled_cut']} ({cuts_fmt(cuts)}) | {row['load1']:.2f} |"
    )


def cuts_fmt(value) -> str:
    return "–" if value is None else f"{value:.0f}"


@dataclass
class Summary:
    rows: list
    fd_baseline: int
    fd_after: int
    rss_baseline_mb: float
    rss_after_mb: float
    skipped_ticks: float
    worst_missed: int
    fresh_viewer_ok: bool
    totals: dict
    steady_from: float
    steady_to: float

    def window(self, start: float, end: float) -> list:
        return [r for r in self.rows if start <= r["elapsed"] < end] or self.rows[-1:]

    @property
    def first(self) -> list:
        return self.window(self.steady_from, self.steady_from + 60)

    @property
    def last(self) -> list:
        return self.window(self.steady_to - 60, self.steady_to + 1)

    def median(self, rows: list, key: str) -> float:
        return statistics.median(r[key] for r in rows)

    def delays(self, rows: list) -> list:
        return [d for r in rows for d in r["delays"]]

    @property
    def rss_growth_mb(self) -> float:
        return self.median(self.last, "rss_mb") - self.median(self.first, "rss_mb")

    @property
    def rss_slope_mb_per_hour(self) -> float | None:
        if self.steady_to - self.steady_from < 300:  # too short to tell a trend from the ramp
            return None
        steady = self.window(self.steady_from, self.steady_to + 1)
        fit = statistics.linear_regression(
            [r["elapsed"] for r in steady], [r["rss_mb"] for r in steady]
        )
        return fit.slope * 3600

    @property
    def delivery(self) -> float | None:
        received, missed = self.totals["received"], self.totals["missed"]
        return received / (received + missed) if received + missed else None

    def lines(self, rss_bound_mb: float) -> list[str]:
        t = self.totals
        first, last = self.delays(self.first), self.delays(self.last)
        cut_after = t["cut_after"]
        slope = self.rss_slope_mb_per_hour
        out = [
            f"RSS: before viewers {self.rss_baseline_mb:.1f} MB; first steady minute "
            f"{self.median(self.first, 'rss_mb'):.1f} → last minute "
            f"{self.median(self.last, 'rss_mb'):.1f} MB (growth {self.rss_growth_mb:+.1f} MB"
            + ("" if slope is None else f", trend {slope:+.1f} MB/h")
            + f"); after all left {self.rss_after_mb:.1f} MB",
            f"fds: before viewers {self.fd_baseline}; first steady minute "
            f"{self.median(self.first, 'fds'):.0f} → last minute "
            f"{self.median(self.last, 'fds'):.0f}; after all left {self.fd_after}",
            f"delay p50/p99: first steady minute {ms(pct(first, 50))}/{ms(pct(first, 99))} ms "
            f"→ last minute {ms(pct(last, 50))}/{ms(pct(last, 99))} ms",
            f"delivery: {t['received']} samples, {t['missed']} missed "
            f"({'–' if self.delivery is None else f'{100 * self.delivery:.3f}%'}); "
            f"worst reading viewer missed {self.worst_missed}; sampler skipped "
            f"{self.skipped_ticks:.0f} ticks",
            f"viewers: {t['connects']} connects, {t['failed']} failed, {t['dropped']} reading "
            f"viewers closed by the server",
            f"stalled: {t['stalled_cut'] + t['stalled_kept']}, cut {t['stalled_cut']} "
            f"(server counted {cuts_fmt(self.rows[-1]['server_stall_cuts'])}), still connected "
            f"at their deadline {t['stalled_kept']}; cut after p50 {pct_s(cut_after, 50)} s, "
            f"max {max(cut_after, default=0):.1f} s",
            "fresh viewer after the run: "
            + ("hello + samples" if self.fresh_viewer_ok else "FAILED"),
        ]
        problems = self.problems(rss_bound_mb)
        out.append("verdict: " + ("PASS" if not problems else "FAIL — " + "; ".join(problems)))
        return out

    def problems(self, rss_bound_mb: float) -> list[str]:
        t = self.totals
        checks = [
            (self.fd_after <= self.fd_baseline + 3, "fds did not return to the baseline"),
            (self.worst_missed <= self.skipped_ticks, "a reading viewer missed updates"),
            (t["dropped"] == 0, "reading viewers were disconnected"),
            (t["failed"] == 0, "connects failed"),
            (t["stalled_kept"] == 0, "stalled viewers were not cut"),
            (self.rss_growth_mb < rss_bound_mb, f"RSS grew by ≥ {rss_bound_mb:g} MB"),
            (self.fresh_viewer_ok, "a fresh viewer got no hello + samples"),
        ]
        return [message for ok, message in checks if not ok]


def pct_s(values: list, p: float) -> str:
    value = pct(values, p)
    return "–" if value is None else f"{value:.1f}"


def fresh_viewer_ok(url: str) -> bool:
    try:
        viewer = RawViewer(url)
    except OSError:
        return False
    try:
        viewer.wait_for("hello")
        viewer.wait_for("sample")
        viewer.wait_for("sample")
        return True
    except (OSError, TimeoutError, ValueError):
        return False
    finally:
        viewer.close()


def settle_fds(pid: int, baseline: int, seconds: float = 10.0) -> int:
    """Open fds once the server has closed what the last viewers left (it may take a tick)."""
    deadline = time.monotonic() + seconds
    while (fds := open_fds(pid)) > baseline and time.monotonic() < deadline:
        time.sleep(0.5)
    return fds


def say(line: str) -> None:
    print(line, flush=True)


def run(args, out=say) -> Summary:
    """The whole soak against a fresh server; ``out`` receives each printed line."""
    env = {"HOSTPULSE_STALL_TIMEOUT": str(args.stall_timeout)}
    with tempfile.TemporaryDirectory(prefix="hostpulse-soak-") as tmp:
        server = Server(Path(tmp), args.interval, extra_env=env).start()
        try:
            return soak(server, args, out)
        finally:
            server.stop()


def soak(server: Server, args, out) -> Summary:
    pid = server.process.pid
    time.sleep(2 * args.interval)
    fd_baseline, rss_baseline = open_fds(pid), status_kb(pid, "VmRSS") / 1024
    children = []
    for target in (churn_process, probe_process):
        parent, child = mp.Pipe()
        proc = mp.Process(target=target, args=(child, "127.0.0.1", server.port, args), daemon=True)
        proc.start()
        children.append((proc, parent))
    start = last = time.monotonic()
    last_cpu = cpu_seconds(pid)
    rows, totals, worst, done = [], {}, 0, set()
    out(HEADER)
    out("|" + "---:|" * HEADER.count("|", 1))
    while len(done) < len(children):
        time.sleep(max(0.0, start + (len(rows) + 1) * args.period - time.monotonic()))
        reports = []
        for i, (_, conn) in enumerate(children):
            if i in done:
                continue
            conn.send("report")
            kind, report = conn.recv()
            worst = max(worst, report.pop("worst_missed"))
            reports.append(report)
            if kind == "done":
                done.add(i)
        now, cpu = time.monotonic(), cpu_seconds(pid)
        row = server_row(server, now - start, 100 * (cpu - last_cpu) / (now - last), reports)
        last, last_cpu = now, cpu
        for key in (
            "connects",
            "failed",
            "dropped",
            "stalled_cut",
            "stalled_kept",
            "received",
            "missed",
        ):
            totals[key] = totals.get(key, 0) + row[key]
        totals["cut_after"] = totals.get("cut_after", []) + row["cut_after"]
        rows.append(row)
        out(row_line(row, totals))
    for proc, _ in children:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    fd_after = settle_fds(pid, fd_baseline)
    lifetime = args.viewers / args.rate
    summary = Summary(
        rows=rows,
        fd_baseline=fd_baseline,
        fd_after=fd_after,
        rss_baseline_mb=rss_baseline,
        rss_after_mb=status_kb(pid, "VmRSS") / 1024,
        skipped_ticks=skipped_ticks(server.url),
        worst_missed=worst,
        fresh_viewer_ok=fresh_viewer_ok(server.url),
        totals=totals,
        steady_from=lifetime if lifetime < args.minutes * 60 else 0.0,
        steady_to=args.minutes * 60,
    )
    for line in summary.lines(args.rss_bound):
        out(line)
    return summary


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=30.0, help="churn time (30)")
    p.add_argument("--viewers", type=int, default=500, help="steady population (500)")
    p.add_argument("--rate", type=float, default=10.0, help="viewers arriving a second (10)")
    p.add_argument("--stalled", type=float, default=0.05, help="fraction that stops reading")
    p.add_argument("--stall-timeout", type=float, default=30.0, help="server setting (30)")
    p.add_argument(
        "--stall-grace", type=float, default=45.0, help="s past stall_timeout to wait for a cut"
    )
    p.add_argument("--probes", type=int, default=5, help="delay probes, own process (5)")
    p.add_argument("--interval", type=float, default=1.0, help="server tick (1 s)")
    p.add_argument("--period", type=float, default=10.0, help="seconds between rows (10)")
    p.add_argument("--rss-bound", type=float, default=50.0, help="MB of growth that fails (50)")
    p.add_argument("--json", type=Path, help="also write rows and summary here")
    return p


def main() -> int:
    args = parser().parse_args()
    raise_fd_limit(2 * args.viewers)
    summary = run(args)
    if args.json:
        args.json.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, **asdict(summary)})
        )
    return 0 if not summary.problems(args.rss_bound) else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
