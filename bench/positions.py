"""Responder positions (issue 6): OsmAnd reports per second over HTTP, and the responder layer for 500 units.

    python -m bench positions [--units 500] [--history-hours 6] [--duration 20] [--warmup 5] [--connections 16]
                              [--servers sync:2 sync:4 gthread:2x4 gthread:3x4 gthread:2x8]
                              [--backend sqlite|postgis --pg-url URL] [--wait-idle 120] [--results-dir DIR]

1. Setup (not timed): a fresh data dir (the region's cached boundaries copied in, no simulated scenario),
   ``--units`` units registered with ``Store.upsert_units``, ``--history-hours`` of 10 s reports per unit written
   with ``Store.write_positions`` in bulk (500 units x 6 h = 1.08M rows: the table a busy shift leaves), a read key.
2. For each server configuration (``sync:W`` = W sync workers, ``gthread:WxT`` = W workers x T threads with
   keep-alive): gunicorn serves ``ntpd_map.wsgi:app`` on a free loopback port, and a second process (this module
   with ``--load``: asyncio, raw HTTP/1.1 keep-alive connections, light on CPU) sends reports exactly as Traccar
   Client does, round robin over the registered devices, each with a new timestamp: 60% POST with the fields in
   the query string and an empty body (older clients), 20% GET, 20% the JSON body of newer clients. Reports/s and
   latency percentiles over ``--duration`` s after ``--warmup`` s; then the store is checked: rows added = 200
   answers (nothing lost, nothing doubled); a burst of already-sent reports is sent again (answered, not stored);
   a few bad reports (unknown device, bad coordinates and times) must be refused and not stored. The server's CPU
   time per report comes from /proc. ``GET /api/responders`` is timed over HTTP against each configuration.
3. The responder layer for the units (``RespondersLayer.data``, what the map's refresh callback sends) and the
   ``/api/responders`` answer in process (Flask test client: server time without the network), median and p95 of
   ``--layer-runs`` runs, with the store's ``latest_positions`` and ``units`` reads beside them.

Raw results go to bench/results/positions.json (or ``--results-dir``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PATH = "/api/positions/osmand"
#: Kab. Timor Tengah Utara, roughly: where simulated units start their random walks.
LAT0, LAT1, LON0, LON1 = -9.85, -9.25, 124.15, 124.85
REPORT_EVERY_S = 10  # the history's reporting interval (Traccar Client's default is 300 s, phones set 10-30 s)


def add_parser(sub: Any) -> None:
    from bench.run import add_results_dir

    p = sub.add_parser("positions", help="OsmAnd position reports per second over HTTP, responder layer (issue 6)")
    p.add_argument("--units", type=int, default=500, help="registered units (devices) reporting")
    p.add_argument("--history-hours", type=float, default=6.0, help="hours of 10 s reports per unit stored first")
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds of load per configuration")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of load before measuring")
    p.add_argument("--connections", type=int, nargs="+", default=[16], help="concurrent client connections")
    p.add_argument("--servers", nargs="+", default=["sync:2", "sync:4", "gthread:2x4", "gthread:3x4", "gthread:2x8"],
                   help="gunicorn configurations: sync:WORKERS or gthread:WORKERSxTHREADS")
    p.add_argument("--repeats", type=int, default=2000, help="already-sent reports sent again after the load")
    p.add_argument("--layer-runs", type=int, default=50)
    p.add_argument("--backend", default="sqlite", choices=["sqlite", "postgis"])
    p.add_argument("--pg-url", default=os.environ.get("NTPD_TEST_DATABASE_URL"))
    p.add_argument("--region", default="53.03")
    p.add_argument("--keep", action="store_true", help="keep the data dir (printed) for profiling")
    p.add_argument("--wait-idle", type=float, default=120.0,
                   help="before each configuration, wait up to this many seconds for the machine to be idle")
    add_results_dir(p)
    p.add_argument("--load", help=argparse.SUPPRESS)  # internal: run the load generator with this JSON spec


def main(args: Any) -> int:
    if args.load:
        print(json.dumps(asyncio.run(load(json.loads(args.load)))))
        return 0
    from bench.run import results_dir

    report = run(args)
    (results_dir(args) / "positions.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(markdown(report))
    return 0


# --- the load generator (a second process) --------------------------------------------------------------------


def device_id(i: int) -> str:
    return f"bench-{i:05d}"


class Reports:
    """Reports of ``n`` phones, round robin, each device's timestamps rising one second per report from
    ``base_ts`` (so no two reports of a device share a timestamp, and none is in the future)."""

    def __init__(self, n: int, base_ts: int, seed: int, port: int) -> None:
        rng = random.Random(seed)
        self.n = n
        self.base_ts = base_ts
        self.k = [0] * n
        self.lat = [rng.uniform(LAT0, LAT1) for _ in range(n)]
        self.lon = [rng.uniform(LON0, LON1) for _ in range(n)]
        self.rng = rng
        self.i = 0
        self.host = f"Host: 127.0.0.1:{port}\r\n".encode()
        self.sent: list[bytes] = []  # a reservoir of requests answered 200, for the repeat burst

    def next(self) -> tuple[str, bytes]:
        d = self.i % self.n
        self.i += 1
        ts = self.base_ts + self.k[d]
        self.k[d] += 1
        rng = self.rng
        lat = self.lat[d] = min(LAT1, max(LAT0, self.lat[d] + rng.uniform(-2e-4, 2e-4)))
        lon = self.lon[d] = min(LON1, max(LON0, self.lon[d] + rng.uniform(-2e-4, 2e-4)))
        speed_ms = rng.uniform(0, 20)
        bearing = rng.uniform(0, 360)
        batt = 20 + d % 80
        kind = ("json", "json", "get", "get", "post", "post", "post", "post", "post", "post")[self.i % 10]
        if kind == "json":
            body = json.dumps({"device_id": device_id(d), "location": {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)),
                "coords": {"latitude": round(lat, 6), "longitude": round(lon, 6), "accuracy": 8.0,
                           "speed": round(speed_ms, 2), "heading": round(bearing, 1), "altitude": 310.0},
                "is_moving": True, "odometer": 1000.0 + self.k[d], "battery": {"level": batt / 100,
                                                                              "is_charging": False},
                "activity": {"type": "in_vehicle"}}}, separators=(",", ":")).encode()
            return kind, (f"POST {PATH} HTTP/1.1\r\n".encode() + self.host
                          + b"Content-Type: application/json\r\nContent-Length: "
                          + str(len(body)).encode() + b"\r\n\r\n" + body)
        query = (f"id={device_id(d)}&timestamp={ts}&lat={lat:.6f}&lon={lon:.6f}&speed={speed_ms * 1.943844:.1f}"
                 f"&bearing={bearing:.1f}&altitude=310.0&accuracy=8.0&batt={batt:.1f}")
        if d % 7 == 0:
            query += "&charge=true"
        if kind == "get":
            return kind, f"GET {PATH}?{query} HTTP/1.1\r\n".encode() + self.host + b"\r\n"
        return kind, (f"POST {PATH}?{query} HTTP/1.1\r\n".encode() + self.host
                      + b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n\r\n")

    def remember(self, request: bytes, keep: int) -> None:
        if len(self.sent) < keep:
            self.sent.append(request)
        else:
            j = self.rng.randrange(self.i)
            if j < keep:
                self.sent[j] = request


class Connection:
    """One HTTP/1.1 client connection on a raw non-blocking socket (no asyncio streams: connecting per request,
    as a sync gunicorn worker makes the client do, costs a fraction of what ``open_connection`` costs)."""

    def __init__(self, port: int, counters: dict[str, int]) -> None:
        self.port = port
        self.counters = counters
        self.sock: socket.socket | None = None
        self.buf = b""

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Status and body; -1 when the connection failed (the report may or may not have been stored)."""
        loop = asyncio.get_running_loop()
        try:
            if self.sock is None:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.sock, self.buf = sock, b""
                await loop.sock_connect(sock, ("127.0.0.1", self.port))
                self.counters["connects"] += 1
            await loop.sock_sendall(self.sock, request)
            status, close, body = await self._response(loop)
        except (OSError, ValueError, IndexError):
            self.close()
            return -1, b""
        if close:
            self.close()
        return status, body

    async def _more(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self.sock is not None
        data = await loop.sock_recv(self.sock, 65536)
        if not data:
            raise ConnectionResetError("closed by the server")
        self.buf += data

    async def _response(self, loop: asyncio.AbstractEventLoop) -> tuple[int, bool, bytes]:
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            await self._more(loop)
        lines = self.buf[:end].split(b"\r\n")
        rest = self.buf[end + 4:]
        version, status = lines[0].split(b" ", 2)[:2]
        length: int | None = None
        close = version != b"HTTP/1.1"
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        self.buf = rest
        if chunked:  # small answers only: read to the last chunk, keep the raw chunks as the body
            while (end := self.buf.find(b"0\r\n\r\n")) < 0:
                await self._more(loop)
            body, self.buf = self.buf[:end], self.buf[end + 5:]
        elif length is not None:
            while len(self.buf) < length:
                await self._more(loop)
            body, self.buf = self.buf[:length], self.buf[length:]
        else:
            try:
                while True:
                    await self._more(loop)
            except ConnectionResetError:
                pass
            body, self.buf, close = self.buf, b"", True
        return int(status), close, body

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buf = None, b""


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    s = sorted(values)

    def at(q: float) -> float:
        return round(1000 * s[min(len(s) - 1, int(q * len(s)))], 2)

    return {"p50_ms": at(0.5), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": round(1000 * s[-1], 2)}


async def load(spec: dict[str, Any]) -> dict[str, Any]:
    """Warm-up, a measured run, a repeat burst and a few bad reports; counts and latencies as JSON."""
    port, n = spec["port"], spec["units"]
    reports = Reports(n, spec["base_ts"], spec["seed"], port)
    counters = {"connects": 0}
    by_status: dict[int, int] = {}
    by_kind: dict[str, int] = {}
    measured: dict[int, int] = {}
    latencies: list[float] = []
    errors: list[str] = []
    start, cpu_start = time.perf_counter(), _cpu_s()
    t_warm = start + spec["warmup"]
    t_end = t_warm + spec["duration"]
    cpu: dict[str, float] = {}

    async def client() -> None:
        conn = Connection(port, counters)
        while time.perf_counter() < t_end:
            kind, request = reports.next()
            t = time.perf_counter()
            status, body = await conn.send(request)
            done = time.perf_counter()
            by_status[status] = by_status.get(status, 0) + 1
            by_kind[kind] = by_kind.get(kind, 0) + 1
            if status == 200:
                reports.remember(request, spec["repeats"])
            elif len(errors) < 5:
                errors.append(f"{status} {kind}: {body[:200]!r}")
            if t_warm <= done < t_end:
                measured[status] = measured.get(status, 0) + 1
                latencies.append(done - t)
        conn.close()

    async def mark_cpu() -> None:
        await asyncio.sleep(max(0.0, t_warm - time.perf_counter()))
        cpu["start"] = _cpu_s()
        await asyncio.sleep(max(0.0, t_end - time.perf_counter()))
        cpu["end"] = _cpu_s()

    await asyncio.gather(mark_cpu(), *(client() for _ in range(spec["connections"])))
    elapsed, load_cpu_s = time.perf_counter() - start, _cpu_s() - cpu_start
    _pause("loaded")  # the parent counts the stored rows between phases

    # the same reports again: a phone resends what it is not sure arrived; answered, never stored twice
    repeats: dict[int, int] = {}
    queue = list(reports.sent)

    async def resend() -> None:
        conn = Connection(port, counters)
        while queue:
            status, _ = await conn.send(queue.pop())
            repeats[status] = repeats.get(status, 0) + 1
        conn.close()

    await asyncio.gather(*(resend() for _ in range(min(8, spec["connections"]))))
    _pause("repeated")

    # bad reports: refused with a reason, never stored
    ts = spec["base_ts"] + max(reports.k) + 5
    good = f"timestamp={ts}&lat=-9.45&lon=124.48&speed=0&bearing=0&altitude=0&accuracy=5&batt=50"
    bad_queries = {
        "unknown device": f"id=not-registered-1&{good}",
        "latitude 95": f"id={device_id(0)}&timestamp={ts}&lat=95&lon=124.48",
        "longitude 200": f"id={device_id(0)}&timestamp={ts}&lat=-9.45&lon=200",
        "latitude text": f"id={device_id(0)}&timestamp={ts}&lat=abc&lon=124.48",
        "timestamp text": f"id={device_id(0)}&timestamp=yesterday&lat=-9.45&lon=124.48",
        "no id": good,
        "no position": f"id={device_id(0)}&timestamp={ts}",
    }
    checks: dict[str, int] = {}
    conn = Connection(port, counters)
    for name, query in bad_queries.items():
        status, _ = await conn.send(f"POST {PATH}?{query} HTTP/1.1\r\n".encode() + reports.host
                                    + b"Content-Length: 0\r\n\r\n")
        checks[name] = status
    body = b'{"device_id": "bench-00000", "location": {"timestamp": "not a time", "coords": {}}}'
    status, _ = await conn.send(f"POST {PATH} HTTP/1.1\r\n".encode() + reports.host
                                + b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
                                + b"\r\n\r\n" + body)
    checks["json without coordinates"] = status
    conn.close()

    ok_measured = measured.get(200, 0)
    return {
        "connections": spec["connections"],
        "elapsed_s": round(elapsed, 2),
        "sent": sum(by_status.values()),
        "by_status": {str(k): v for k, v in sorted(by_status.items())},
        "by_kind": by_kind,
        "ok_total": by_status.get(200, 0),
        "failed_connections": by_status.get(-1, 0),
        "measured_s": spec["duration"],
        "measured_by_status": {str(k): v for k, v in sorted(measured.items())},
        "reports_per_s": round(ok_measured / spec["duration"]),
        **_percentiles(latencies),
        "non_200_measured": sum(measured.values()) - ok_measured,
        "first_errors": errors,
        "connects": counters["connects"],
        "client_cpu_share": round((cpu["end"] - cpu["start"]) / spec["duration"], 3),
        "load_cpu_s": round(load_cpu_s, 3),
        "repeats_sent": sum(repeats.values()),
        "repeats_by_status": {str(k): v for k, v in sorted(repeats.items())},
        "bad_reports": checks,
        "next_offset": max(reports.k) + 10,
    }


def _pause(phase: str) -> None:
    """Tell the parent a phase is over and wait for it to go on (it counts rows in the store meanwhile)."""
    print(json.dumps({"phase": phase}), flush=True)
    sys.stdin.readline()


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the server and the store ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its direct children (gunicorn's master and workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def wait_idle(limit_s: float, busy_cores: float = 0.3) -> float:
    """Wait (at most ``limit_s``) until other work uses less than ``busy_cores`` over 2 s; the cores it used
    at the end. The machine is shared: figures taken while another job runs are lower and say so."""
    deadline = time.time() + limit_s
    while True:
        b0 = _machine_busy()
        time.sleep(2)
        b1 = _machine_busy()
        cores = (b1[0] - b0[0]) / max(1, b1[1] - b0[1]) * (os.cpu_count() or 1)
        if cores < busy_cores or time.time() > deadline:
            return round(cores, 2)


def prepare(args: Any) -> tuple[Path, dict[str, str], str | None]:
    """A data dir with boundaries, units, the position history and a read key; the server's environment."""
    from bench.run import copy_boundaries

    work = Path(tempfile.mkdtemp(prefix="ntpd-bench-positions-"))
    copy_boundaries(args.region, work)  # the region's cache: no rebuild from the mirror
    env = {**os.environ, "NTPD_DATA_DIR": str(work), "NTPD_REGION": args.region, "NTPD_SIMULATE": "never",
           "NTPD_LOG_LEVEL": "WARNING"}
    schema = None
    if args.backend == "postgis":
        import uuid
        from urllib.parse import quote

        import psycopg

        if not args.pg_url:
            raise SystemExit("postgis needs --pg-url (or NTPD_TEST_DATABASE_URL)")
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(args.pg_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in args.pg_url else "?"
        env["NTPD_DATABASE_URL"] = f"{args.pg_url}{sep}options={quote(f'-csearch_path={schema},public')}"
    return work, env, schema


def populate(env: dict[str, str], units: int, hours: float, base_ts: int) -> dict[str, Any]:
    """Units, ``hours`` of reports every 10 s per unit before ``base_ts`` (a random walk each), a read key."""
    from datetime import UTC, datetime

    import numpy as np

    from ntpd_map.access.keys import create_api_key
    from ntpd_map.config import Settings
    from ntpd_map.domain import AgencyKind, ResponderPosition, Unit
    from ntpd_map.runtime import Runtime

    runtime = Runtime(Settings.from_env(env))
    runtime.region  # noqa: B018 - build the region cache now if the copied one was stale
    store = runtime.store
    kinds = [AgencyKind.MEDICAL, AgencyKind.POLICE, AgencyKind.FIRE, AgencyKind.DISASTER, AgencyKind.SAR]
    store.upsert_units([Unit(device_id(i), f"Unit bench {i:03d}", f"Instansi {i % 12}", kinds[i % len(kinds)])
                        for i in range(units)])
    _, key = create_api_key(store, "bench", "read")

    rng = np.random.default_rng(6)
    steps = int(hours * 3600 / REPORT_EVERY_S)
    lat = rng.uniform(LAT0, LAT1, units)
    lon = rng.uniform(LON0, LON1, units)
    offsets = rng.integers(0, REPORT_EVERY_S, units)
    written = 0
    t = time.perf_counter()
    chunk = max(1, 200_000 // max(units, 1))  # steps per write_positions call
    for s0 in range(0, steps, chunk):
        batch = []
        for s in range(s0, min(steps, s0 + chunk)):
            lat = np.clip(lat + rng.normal(0, 3e-4, units), LAT0, LAT1)
            lon = np.clip(lon + rng.normal(0, 3e-4, units), LON0, LON1)
            ts = base_ts - (steps - s) * REPORT_EVERY_S - offsets
            speed = rng.uniform(0, 70, units)
            for i in range(units):
                batch.append(ResponderPosition(device_id(i), datetime.fromtimestamp(int(ts[i]), UTC),
                                               float(lat[i]), float(lon[i]), "osmand", float(speed[i]),
                                               float(rng.uniform(0, 360)), 8.0, 80.0))
        written += store.write_positions(batch)
    write_s = time.perf_counter() - t
    store.close()
    return {"units": units, "history_hours": hours, "history_rows": written,
            "history_write_rows_per_s": round(written / write_s) if write_s else None, "key": key}


def count_positions(env: dict[str, str]) -> int:
    url = env.get("NTPD_DATABASE_URL") or ""
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM positions").fetchone()
            return int(row[0]) if row else 0
    path = url.removeprefix("sqlite:///") if url else str(Path(env["NTPD_DATA_DIR"]) / "ntpd.sqlite")
    with sqlite3.connect(path, timeout=30) as conn:
        return int(conn.execute("SELECT count(*) FROM positions").fetchone()[0])


def gunicorn_command(config: str, port: int) -> list[str]:
    kind, _, size = config.partition(":")
    cmd = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "--backlog", "2048"]
    if kind == "sync":
        cmd += ["-k", "sync", "-w", size]
    elif kind == "gthread":
        workers, _, threads = size.partition("x")
        cmd += ["-k", "gthread", "-w", workers, "--threads", threads or "4", "--keep-alive", "10"]
    else:
        raise SystemExit(f"unknown server configuration {config!r}: sync:W or gthread:WxT")
    from gunicorn.config import KNOWN_SETTINGS

    if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS):
        cmd.append("--no-control-socket")  # gunicorn 24+: one shared ~/.gunicorn/gunicorn.ctl otherwise
    return [*cmd, "ntpd_map.wsgi:app"]


def wait_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 180) -> float:
    t = time.perf_counter()
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5)
            break
        except OSError:
            time.sleep(0.3)
    else:
        raise RuntimeError("gunicorn did not answer /api/health in time")
    for _ in range(20):  # every worker past its first request (workers boot one by one)
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=30)
    return time.perf_counter() - t


def time_responders_http(port: int, key: str, runs: int) -> dict[str, Any]:
    """``GET /api/responders`` over a keep-alive loopback connection: round trip, size, feature count."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    body = b""
    status = 0
    for _ in range(runs + 2):
        t = time.perf_counter()
        conn.request("GET", "/api/responders", headers={"Authorization": f"Bearer {key}"})
        response = conn.getresponse()
        body = response.read()
        times.append(time.perf_counter() - t)
        status = response.status
    conn.close()
    out: dict[str, Any] = {"status": status, "bytes": len(body), **_ms_stats(times[2:])}
    if status == 200:
        out["features"] = len(json.loads(body).get("features", []))
    return out


def _ms_stats(times: list[float]) -> dict[str, float]:
    import numpy as np

    ms = np.array(times) * 1000
    return {"median_ms": round(float(np.median(ms)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "min_ms": round(float(ms.min()), 2)}


def run_server(config: str, connections: int, args: Any, env: dict[str, str], key: str,
               base_ts: int) -> tuple[dict[str, Any], int]:
    port = _free_port()
    server = subprocess.Popen(gunicorn_command(config, port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        ready_s = wait_ready(port, server)
        before = count_positions(env)
        spec = {"port": port, "units": args.units, "base_ts": base_ts, "warmup": args.warmup,
                "duration": args.duration, "connections": connections, "repeats": args.repeats, "seed": base_ts}
        idle_before = wait_idle(args.wait_idle)
        cpu0, busy0 = _tree_cpu_s(server.pid), _machine_busy()
        t0 = time.perf_counter()
        gen = subprocess.Popen([sys.executable, "-m", "bench", "positions", "--load", json.dumps(spec)], cwd=ROOT,
                               env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert gen.stdin is not None and gen.stdout is not None
        counts = {}
        for phase in ("loaded", "repeated"):
            line = gen.stdout.readline()
            if json.loads(line or "{}").get("phase") != phase:
                raise RuntimeError(f"load generator: expected phase {phase}, got {line!r}")
            if phase == "loaded":
                cpu1, busy1, t1 = _tree_cpu_s(server.pid), _machine_busy(), time.perf_counter()
            counts[phase] = count_positions(env)
            gen.stdin.write("go\n")
            gen.stdin.flush()
        out, _ = gen.communicate(timeout=120)
        if gen.returncode:
            raise RuntimeError(f"load generator failed ({gen.returncode})")
        result = json.loads(out.strip().splitlines()[-1])
        after = count_positions(env)
        responders = time_responders_http(port, key, args.layer_runs)
    finally:
        server.terminate()
        try:
            _, stderr = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            _, stderr = server.communicate()
    total_reports = result["sent"]
    wall = t1 - t0
    machine_cores = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]) * (os.cpu_count() or 1)
    result.update({
        "server": config,
        "server_ready_s": round(ready_s, 1),
        "server_cpu_ms_per_report": round(1000 * (cpu1 - cpu0) / max(1, total_reports), 3),
        "cores_busy": {"machine": round(machine_cores, 2), "server": round((cpu1 - cpu0) / wall, 2),
                       "load_generator": round(result["load_cpu_s"] / wall, 2),
                       "other_work": round(machine_cores - (cpu1 - cpu0 + result["load_cpu_s"]) / wall, 2),
                       "other_work_before": idle_before},
        "stored_before": before,
        "stored_added": counts["loaded"] - before,
        "stored_equals_200": counts["loaded"] - before == result["ok_total"],
        "repeats_stored": counts["repeated"] - counts["loaded"],
        "bad_reports_stored": after - counts["repeated"],
        "responders_http": responders,
        "server_stderr_tail": stderr.decode(errors="replace").strip().splitlines()[-5:],
    })
    return result, base_ts + result["next_offset"]


def time_layer(env: dict[str, str], key: str, runs: int) -> dict[str, Any]:
    """The responder layer and the /api/responders answer in this process: server time, no network."""
    from layers.base import LayerContext, View
    from layers.responders import RespondersLayer
    from ntpd_map.config import Settings
    from ntpd_map.factory import create_app
    from ntpd_map.runtime import Runtime
    from ntpd_map.store.model import IncidentQuery

    runtime = Runtime(Settings.from_env(env))
    store = runtime.store
    layer, ctx = RespondersLayer(), LayerContext(runtime)
    now = int(time.time())
    t = time.perf_counter()
    data = layer.data(ctx, View(IncidentQuery(), now))
    first_s = time.perf_counter() - t

    def timed(fn: Any) -> list[float]:
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return times

    out: dict[str, Any] = {
        "units": len(store.units()),
        "features": len(data["features"]),
        "layer_first_ms": round(1000 * first_s, 2),
        "layer": _ms_stats(timed(lambda: layer.data(ctx, View(IncidentQuery(), int(time.time()))))),
        "store_latest_positions": _ms_stats(timed(store.latest_positions)),
        "store_units": _ms_stats(timed(store.units)),
        "layer_json_bytes": len(json.dumps(data, separators=(",", ":"))),
    }
    client = create_app(runtime=runtime).server.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    response = client.get("/api/responders", headers=headers)
    out["api_status"] = response.status_code
    out["api_bytes"] = len(response.data)
    if response.status_code == 200:
        out["api"] = _ms_stats(timed(lambda: client.get("/api/responders", headers=headers).data))
    return out


def run(args: Any) -> dict[str, Any]:
    from bench.run import machine

    work, env, schema = prepare(args)
    base_ts = int(time.time()) // 60 * 60 - 2 * 3600  # history before, the load's reports after (all past)
    print(f"== data dir {work}", file=sys.stderr, flush=True)
    t = time.perf_counter()
    setup = populate(env, args.units, args.history_hours, base_ts)
    setup["setup_s"] = round(time.perf_counter() - t, 1)
    key = setup.pop("key")
    print(f"== setup {setup}", file=sys.stderr, flush=True)
    report: dict[str, Any] = {"machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                              "backend": args.backend, "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
                              "setup": setup, "runs": []}
    try:
        for config in args.servers:
            for connections in args.connections:
                print(f"== {config}, {connections} connections", file=sys.stderr, flush=True)
                result, base_ts = run_server(config, connections, args, env, key, base_ts)
                print(json.dumps({k: v for k, v in result.items() if k != "server_stderr_tail"}), file=sys.stderr,
                      flush=True)
                report["runs"].append(result)
        if base_ts > time.time():
            print("warning: the load's timestamps ran into the future", file=sys.stderr)
        print("== responder layer", file=sys.stderr, flush=True)
        report["layer"] = time_layer(env, key, args.layer_runs)
        report["stored_total"] = count_positions(env)
        report["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    finally:
        if schema and args.pg_url:
            import psycopg

            with psycopg.connect(args.pg_url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
        if args.keep:
            print(f"== kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    ok = [r for r in report["runs"] if r["stored_equals_200"] and r["failed_connections"] == 0]
    if ok:
        best = max(ok, key=lambda r: r["reports_per_s"])
        report["best"] = {"server": best["server"], "connections": best["connections"],
                          "reports_per_s": best["reports_per_s"]}
    return report


def markdown(report: dict[str, Any]) -> str:
    rows = ["| server | conns | reports/s | p50 / p95 / p99 ms | non-200 | rows added = 200s | repeats: answers, rows "
            "| server CPU ms/report | cores: server / load / other | /api/responders over HTTP |",
            "| --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |"]
    for r in report["runs"]:
        http, cores = r["responders_http"], r["cores_busy"]
        rows.append(
            f"| {r['server']} | {r['connections']} | {r['reports_per_s']:,} | {r['p50_ms']} / {r['p95_ms']} / "
            f"{r['p99_ms']} | {r['non_200_measured']} | {r['stored_added']:,} = {r['ok_total']:,}: "
            f"{'yes' if r['stored_equals_200'] else 'NO'} | {r['repeats_sent']:,}: {r['repeats_by_status']}, "
            f"{r['repeats_stored']} | {r['server_cpu_ms_per_report']} | {cores['server']} / "
            f"{cores['load_generator']} / {cores['other_work']} | {http.get('median_ms')} / {http.get('p95_ms')} ms, "
            f"{http['bytes']:,} B |")
    layer = report.get("layer", {})
    if layer:
        rows.append("")
        rows.append(f"Responder layer, {layer['features']} features: first {layer['layer_first_ms']} ms, "
                    f"median {layer['layer']['median_ms']} ms, p95 {layer['layer']['p95_ms']} ms "
                    f"(latest_positions {layer['store_latest_positions']['median_ms']} ms, units "
                    f"{layer['store_units']['median_ms']} ms); /api/responders in process "
                    f"{layer.get('api', {}).get('median_ms')} / {layer.get('api', {}).get('p95_ms')} ms, "
                    f"{layer['api_bytes']:,} B.")
    return "\n".join(rows)
