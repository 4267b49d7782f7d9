"""Load (issue 8, part 6): wall displays refreshing and incidents arriving together, under gunicorn, for minutes.

    python -m bench load [--minutes 10] [--walls 50] [--rate 10] [--refresh 10] [--warmup 60]
                         [--server gthread:2x4] [--no-redis] [--wait-idle 60] [--region 53.03] [--keep]
                         [--distinct-ids N] [--memtrace [--memtrace-frames 1]] [--smoke] [--results-dir DIR]

1. Setup (not timed): a fresh data dir (the region's cached boundaries copied in); the app's first start once
   (``create_app``: the locator, the labelled SIMULATED scenario in a fresh SQLite store, the first account), so
   the workers find it done; an ingest key (``python -m ntpd_map keys create``) and one display token per wall
   (``python -m ntpd_map tokens create --name wall-NN``; without that command, ``displays.create_display_token``
   that it calls, and without that either, an app before the access gate of issue 8, no token). A
   redis-server on a free loopback port (no persistence) as the shared cache (``NTPD_REDIS_URL``), or files
   with ``--no-redis``.
2. gunicorn (``--server gthread:2x4`` = ``-k gthread -w 2 --threads 4 --keep-alive 10``) serves
   ``ntpd_map.wsgi:app`` on loopback with ``NTPD_REFRESH_SECONDS=--refresh``; the load starts once the machine
   is idle (up to ``--wait-idle`` s; the cores other work used are reported, as in bench/positions.py).
3. From this process, ``--walls`` wall displays, each doing what the browser on the wall does (one keep-alive
   HTTP connection each, as a browser keeps one; cookies kept): ``GET /wall?token=...`` (the session and the
   ``_csrf_token`` cookie), ``/_dash-layout``, ``/_dash-dependencies``, the router callback, the wall's
   initial callbacks and the static layers its maps load; then each ``dcc.Interval`` of the page ticks the
   server callbacks it drives (the wall refresh every ``--refresh`` s, the coverage refresh every 30 s), with
   the state the previous answers left (``wall-sync``, ``cov-sync``) as dash-renderer keeps it. The request
   bodies are built from ``/_dash-dependencies`` and the layout the router returns, in the format captured
   from dash-renderer in headless Chromium (``output``, ``outputs``, ``inputs``, ``changedPropIds``,
   ``state``; ``endId`` from the page's ``_dash-config``); every POST carries ``X-CSRFToken`` from the
   ``_csrf_token`` cookie. Walls start at random times within the first refresh interval, so ticks are
   spread over it. A tick waits while the wall's previous request runs (the page pauses its timer while a
   refresh runs: ``running=``).
4. An ingester POSTs ``--rate`` single incidents per second to ``/api/incidents`` (open loop: the i-th at
   i/rate s, from a few threads, so a slow answer does not slow the arrivals): unique ids, the current time,
   points uniformly inside the region's kab/kota polygons, the call-type mix of a 112 center, categories,
   agencies and statuses as a call-taking system sends them.
   ``--rate 0``: no incidents, the walls alone. ``--distinct-ids N``: the ids cycle over N, so once N were sent
   every post updates a stored incident (new time, place and status): the data version still changes before
   every wall tick (each then a full refresh, as an updated incident redraws the whole 24 h) but the store
   and the 24 h window stop growing. With new ids a tick sends only the incidents new since the wall's last
   tick, and the whole window every 5 minutes (ntpd_map/pages/wall/callbacks.py, pages/live.py).
5. Every 10 s: the RSS of the gunicorn master and each worker (and of redis-server) from /proc, and the incidents
   in the wall's 24 h window (what a full refresh reads and sends).
6. ``--memtrace`` (a diagnostic): gunicorn runs with ``-c bench/memtrace.py``, which in each worker records
   malloc's and pymalloc's figures every 10 s and, at the end of the warm-up and at the end, objects by type and
   a tracemalloc snapshot (``--memtrace-frames``, 0 for none); what grew goes to
   ``bench/results/load-<timestamp>.memtrace.txt``. Its latency figures are not comparable.

Reported over the measured ``--minutes`` after ``--warmup`` s: p50/p95/p99/max latency per kind (``wall``: the
refresh tick; ``coverage``: the coverage tick; ``ingest``; ``page``: each request of the page loads at the
start, over the whole run), errors (any
answer but 200, or 204 from a callback that raised PreventUpdate; a Dash answer without ``response``; an
ingest answer that did not accept its incident; a refused or dropped connection), the RSS at the end of the
warm-up and at the end and its slope (least squares over the samples after the warm-up; also per 1,000
incidents in the 24 h window, which grows with the ingest), CPU cores used by
the server, this process and the rest of the machine, and checks: incidents stored = ingest answers 200, no
wall ever shown an older data version than it had already shown. Raw results go to
``bench/results/load-<timestamp>.json``; a summary line and a markdown row are printed.
"""

from __future__ import annotations

import gzip
import http.client
import itertools
import json
import os
import random
import re
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
CALLBACK = "/_dash-update-component"
RSS_EVERY_S = 10.0
#: slope of the server's RSS (MB per minute, after the warm-up) still called flat: 10 MB over 10 minutes
FLAT_MB_PER_MIN = 1.0
TARGET_P95_MS = 300.0


def add_parser(sub: Any) -> None:
    from bench.run import add_results_dir

    p = sub.add_parser("load", help="wall displays refreshing + incidents ingested under gunicorn (issue 8)")
    p.add_argument("--minutes", type=float, default=10.0, help="measured minutes (after the warm-up)")
    p.add_argument("--walls", type=int, default=50, help="wall displays")
    p.add_argument("--rate", type=float, default=10.0,
                   help="incidents per second POSTed to /api/incidents (0: none, the walls alone)")
    p.add_argument("--distinct-ids", type=int, default=0,
                   help="the posted ids cycle over this many: past that, every post updates a stored incident "
                        "(new time, place, status), so the store and the 24 h window stop growing while the data "
                        "version still changes before every wall tick (0: every id new)")
    p.add_argument("--refresh", type=int, default=10, help="the walls' refresh interval (NTPD_REFRESH_SECONDS)")
    p.add_argument("--warmup", type=float, default=60.0, help="seconds of load before measuring")
    p.add_argument("--server", default="gthread:2x4", help="gunicorn: sync:WORKERS or gthread:WORKERSxTHREADS")
    p.add_argument("--no-redis", action="store_true", help="files (FileSystemCache) instead of a redis-server")
    p.add_argument("--ingest-threads", type=int, default=4, help="client threads sending the incidents")
    p.add_argument("--region", default="53.03")
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--keep", action="store_true", help="keep the data dir (printed) for a look afterwards")
    p.add_argument("--wait-idle", type=float, default=60.0,
                   help="before the load, wait up to this many seconds for the machine to be idle")
    p.add_argument("--memtrace", action="store_true",
                   help="diagnostic (bench/memtrace.py): in each worker, malloc's and pymalloc's figures every 10 s, "
                        "objects by type and tracemalloc snapshots at the end of the warm-up and at the end, what "
                        "grew written beside the results; slows the server (latency not comparable)")
    p.add_argument("--memtrace-frames", type=int, default=1,
                   help="tracemalloc frames kept with --memtrace; 0: no tracemalloc (pymalloc's figures then readable)")
    p.add_argument("--smoke", action="store_true",
                   help="a check that the bench runs (tests/bench): the targets are reported but not judged; the exit "
                        "status is 1 only when a check fails (errors, failed walls, version regressions, stored != "
                        "accepted, tracebacks in the server log)")
    add_results_dir(p)


def main(args: Any) -> int:
    from bench.run import results_dir

    report = run(args)
    path = results_dir(args) / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    if report.get("memtrace"):
        path.with_suffix(".memtrace.txt").write_text(memtrace_text(report["memtrace"]))
        print(f"what grew per worker: {path.with_suffix('.memtrace.txt')}")
    print(json.dumps(report["summary"], indent=2))
    print(summary_line(report))
    print(markdown_row(report))
    print(f"raw results: {path}")
    if args.smoke:
        return 0 if report["summary"]["checks_passed"] else 1
    return 0 if report["summary"]["passed"] else 1


# --- an HTTP client that keeps what a browser keeps -------------------------------------------------------------


class Browser:
    """One keep-alive connection and a cookie jar, as a wall's browser has. Not thread-safe: one per wall."""

    def __init__(self, port: int, timeout: float = 60.0) -> None:
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}
        self.reconnects = 0

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """Status, headers (lower-case names) and the body (decompressed). Like a browser, a request on a
        kept-alive connection the server closed meanwhile is sent again once on a new one. Redirects are
        followed for GET."""
        for _ in range(5):
            status, head, data = self._send(method, path, body, headers or {})
            if method == "GET" and status in (301, 302, 303, 307, 308) and "location" in head:
                target = urlsplit(head["location"])
                path = target.path + (f"?{target.query}" if target.query else "")
                continue
            return status, head, data
        return status, head, data

    def _send(self, method: str, path: str, body: bytes | None,
              headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        send = {"Accept-Encoding": "gzip", "User-Agent": "ntpd-bench-load", **headers}
        if self.cookies:
            send["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (0, 1):
            fresh = self.conn is None
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=send)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.BadStatusLine):
                self.close()
                if fresh or attempt:
                    raise
                self.reconnects += 1  # the server closed the idle connection (--keep-alive): retry on a new one
                continue
            break
        head = {k.lower(): v for k, v in response.getheaders()}
        for raw in response.headers.get_all("Set-Cookie") or []:
            pair, _, attrs = raw.partition(";")
            name, _, value = pair.strip().partition("=")
            if "max-age=0" in attrs.lower().replace(" ", "") or (not value and "expires=" in attrs.lower()):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        if head.get("content-encoding") == "gzip":
            data = gzip.decompress(data)
        if response.will_close:
            self.close()
        return response.status, head, data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None


# --- Dash requests built as dash-renderer builds them ------------------------------------------------------------


def components(tree: Any) -> dict[str, dict[str, Any]]:
    """id -> props of every component with a string id in a Dash layout (as JSON)."""
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and "type" in node:
                if isinstance(props.get("id"), str):
                    found[props["id"]] = props
                for value in props.values():
                    walk(value)

    walk(tree)
    return found


def layer_urls(tree: Any) -> list[str]:
    """The static layer URLs the page's maps load (``url`` props under /layers/), in order, once each."""
    urls: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            url = node.get("url")
            if isinstance(url, str) and url.startswith("/layers/") and url not in urls:
                urls.append(url)
            for value in node.values():
                walk(value)

    walk(tree)
    return urls


def split_output(output: str) -> list[tuple[str, str]]:
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    return [(p.rsplit(".", 1)[0], p.rsplit(".", 1)[1]) for p in parts]


def callback_body(dep: dict[str, Any], values: dict[str, Any], changed: list[str]) -> dict[str, Any]:
    """The body dash-renderer posts for ``dep`` (an entry of /_dash-dependencies); ``values`` by "id.property".
    A prop without a value yet (an Interval before its first tick) is sent without ``value``."""

    def item(spec: dict[str, Any]) -> dict[str, Any]:
        key = f"{spec['id']}.{spec['property']}"
        return {"id": spec["id"], "property": spec["property"], **({"value": values[key]} if key in values else {})}

    outs = [{"id": i, "property": p} for i, p in split_output(dep["output"])]
    body: dict[str, Any] = {"output": dep["output"], "outputs": outs if dep["output"].startswith("..") else outs[0],
                            "inputs": [item(i) for i in dep["inputs"]], "changedPropIds": changed,
                            "parsedChangedPropsIds": changed}
    if dep.get("state"):
        body["state"] = [item(s) for s in dep["state"]]
    return body


def server_side(dep: dict[str, Any]) -> bool:
    return not dep.get("clientside_function") and dep.get("no_output") is not True


# --- one wall display --------------------------------------------------------------------------------------------


class Recorder:
    """Every request of the run: (start s since t0, kind, what, ms, status, ok, bytes); errors with details."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.lock = threading.Lock()
        self.rows: list[tuple[float, str, str, float, int, bool, int]] = []
        self.errors: list[dict[str, Any]] = []

    def add(self, started: float, kind: str, what: str, seconds: float, status: int, ok: bool, size: int,
            detail: str = "") -> None:
        with self.lock:
            self.rows.append((round(started - self.t0, 3), kind, what, round(1000 * seconds, 2), status, ok, size))
            if not ok:
                self.errors.append({"t": round(started - self.t0, 1), "kind": kind, "what": what, "status": status,
                                    "detail": detail[:300]})


class Wall:
    def __init__(self, n: int, port: int, token: str | None, start_at: float, end_at: float, rec: Recorder) -> None:
        self.n, self.token, self.start_at, self.end_at, self.rec = n, token, start_at, end_at, rec
        self.browser = Browser(port)
        self.values: dict[str, Any] = {}
        self.deps: list[dict[str, Any]] = []
        self.end_id = ""
        self.versions: list[int] = []
        self.regressions = 0
        self.ticks = 0
        self.max_lag_s = 0.0
        self.failed = ""

    def timed(self, kind: str, what: str, method: str, path: str, body: Any = None) -> tuple[int, bytes] | None:
        headers = {"Accept": "application/json" if method == "POST" else "text/html,application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
            csrf = self.browser.cookies.get("_csrf_token")
            if csrf:
                headers["X-CSRFToken"] = csrf  # what dash-renderer sends back from the page's cookie
        started = time.time()
        t = time.perf_counter()
        try:
            status, _head, answer = self.browser.request(method, path, data, headers)
        except (OSError, http.client.HTTPException) as exc:
            self.rec.add(started, kind, what, time.perf_counter() - t, -1, False, 0, repr(exc))
            return None
        seconds = time.perf_counter() - t
        ok, detail = status == 200, ""
        if method == "POST" and path.startswith(CALLBACK):
            ok = status == 204 or (status == 200 and b'"response"' in answer[:200])
        if not ok:
            detail = answer[:300].decode(errors="replace")
        self.rec.add(started, kind, what, seconds, status, ok, len(answer), detail)
        return status, answer

    def post_callback(self, kind: str, dep: dict[str, Any], changed: list[str]) -> None:
        query = f"?endId={self.end_id}" if self.end_id else ""
        got = self.timed(kind, dep["output"][:60], "POST", CALLBACK + query, callback_body(dep, self.values, changed))
        if got is None or got[0] != 200:
            return
        try:
            answer = json.loads(got[1])
        except ValueError:
            return
        for ident, props in (answer.get("response") or {}).items():
            for prop, value in props.items():
                self.values[f"{ident}.{prop.split('@', 1)[0]}"] = value
                if ident == "page" and prop == "children":
                    self.values.update({f"{i}.{p}": v for i, c in components(value).items() for p, v in c.items()})
        version = (self.values.get("wall-sync.data") or {}).get("version")
        if isinstance(version, int):
            if self.versions and version < self.versions[-1]:
                self.regressions += 1
            if not self.versions or version != self.versions[-1]:
                self.versions.append(version)

    def open_page(self) -> list[tuple[str, float, list[dict[str, Any]]]]:
        """The page load; the page's timers: (interval id, seconds, server callbacks it drives)."""
        path = f"/wall?token={self.token}" if self.token else "/wall"
        got = self.timed("page", "GET /wall", "GET", path)
        if got is None or got[0] != 200:
            self.failed = f"GET /wall answered {got[0] if got else 'nothing'}"
            return []
        config = re.search(rb'<script id="_dash-config" type="application/json"[^>]*>(.*?)</script>', got[1], re.S)
        if not config:  # sent on to the sign-in page: no token, or a refused one
            self.failed = "GET /wall did not answer the Dash page: " + got[1][:200].decode(errors="replace")
            self.rec.errors.append({"t": round(time.time() - self.rec.t0, 1), "kind": "page", "what": "GET /wall",
                                    "status": got[0], "detail": self.failed})
            return []
        self.end_id = str(json.loads(config[1]).get("end_id") or "")
        layout = self.timed("page", "GET /_dash-layout", "GET", "/_dash-layout")
        deps = self.timed("page", "GET /_dash-dependencies", "GET", "/_dash-dependencies")
        if not layout or not deps or layout[0] != 200 or deps[0] != 200:
            self.failed = "no layout or dependencies"
            return []
        shell = json.loads(layout[1])
        self.deps = [d for d in json.loads(deps[1]) if server_side(d)]
        self.values.update({f"{i}.{p}": v for i, c in components(shell).items() for p, v in c.items()})
        target = urlsplit(path)
        self.values["url.pathname"] = target.path
        self.values["url.search"] = f"?{target.query}" if target.query else ""
        # the router, then every server callback whose inputs are all on the rendered page, as on first render
        present = {k.split(".", 1)[0] for k in self.values}
        fired: set[str] = set()
        for _round in range(3):
            for dep in self.deps:
                ids = {i["id"] for i in dep["inputs"]} | {i for i, _ in split_output(dep["output"])}
                if dep["output"] in fired or dep.get("prevent_initial_call") is True or not ids <= present:
                    continue
                fired.add(dep["output"])
                self.post_callback("page", dep, [])
            present = {k.split(".", 1)[0] for k in self.values}
        page = self.values.get("page.children")
        for url in layer_urls(page):
            self.timed("page", f"GET {url}", "GET", url)
        timers = []
        on_page = {k.split(".", 1)[0] for k in self.values}
        for ident, props in components(page).items():
            if "interval" in props and not props.get("disabled"):  # a dcc.Interval (n_intervals unset at first)
                # the callbacks it triggers on this page: those of other pages (their outputs absent) never run
                driven = [d for d in self.deps if any(i["id"] == ident and i["property"] == "n_intervals"
                                                      for i in d["inputs"])
                          and {i["id"] for i in d["inputs"]} | {i for i, _ in split_output(d["output"])} <= on_page]
                if driven:
                    timers.append((ident, float(props["interval"]) / 1000, driven))
        return timers

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # a wall that stops is a failed wall, reported, not a thread dying quietly
            self.failed = f"{type(exc).__name__}: {exc}"[:300]
        finally:
            self.browser.close()

    def _run(self) -> None:
        time.sleep(max(0.0, self.start_at - time.time()))
        timers = self.open_page()
        if not timers:
            self.failed = self.failed or "no timer drives a server callback on the page"
            return
        mounted = time.time()
        due = {ident: mounted + every for ident, every, _ in timers}
        counts = {ident: 0 for ident, _, _ in timers}
        while True:
            ident = min(due, key=lambda k: due[k])
            if due[ident] >= self.end_at:
                return
            time.sleep(max(0.0, due[ident] - time.time()))
            self.max_lag_s = max(self.max_lag_s, time.time() - due[ident])
            every, driven = next((e, d) for i, e, d in timers if i == ident)
            counts[ident] += 1
            self.values[f"{ident}.n_intervals"] = counts[ident]
            kind = "wall" if any("wall-sync.data" in d["output"] for d in driven) else \
                "coverage" if any("cov-sync.data" in d["output"] for d in driven) else f"tick:{ident}"
            for dep in driven:
                self.post_callback(kind, dep, [f"{ident}.n_intervals"])
            self.ticks += 1
            if any(d.get("running") for d in driven):
                # the callback pauses its own timer while it runs (running=): dcc.Interval starts counting
                # again when it is re-enabled, so the next tick comes a full interval after the answer
                due[ident] = time.time() + every
            else:
                due[ident] += every


# --- the ingester ------------------------------------------------------------------------------------------------

CALL_MIX = (("darurat", 0.12), ("iseng", 0.30), ("panggilan kosong", 0.26), ("terputus", 0.22),
            ("salah sambung", 0.05), ("informasi", 0.05))
EMERGENCIES = (("Medis", "Medis/ambulans"), ("Kecelakaan lalu lintas", "Kepolisian"),
               ("Kebakaran", "Pemadam kebakaran"), ("Gangguan keamanan", "Kepolisian"), ("Bencana", "BPBD"),
               ("KDRT", "Kepolisian"), ("Sosial", "Dinas Sosial"))


def region_points(env: dict[str, str], n: int, seed: int) -> list[tuple[float, float]]:
    """``n`` points uniformly inside the region's kab/kota polygons (lat, lon)."""
    import numpy as np
    import shapely

    from ntpd_map.config import Settings
    from ntpd_map.runtime import Runtime

    region = Runtime(Settings.from_env(env)).region
    shape = shapely.union_all(region.kabkota.geometry.to_numpy())
    x0, y0, x1, y1 = shape.bounds
    rng = np.random.default_rng(seed)
    shapely.prepare(shape)
    out: list[tuple[float, float]] = []
    while len(out) < n:
        x = rng.uniform(x0, x1, 4 * n)
        y = rng.uniform(y0, y1, 4 * n)
        inside = shapely.contains_xy(shape, x, y)
        out += list(zip(np.round(y[inside], 6).tolist(), np.round(x[inside], 6).tolist(), strict=True))
    return out[:n]


def incident(i: int, run_id: str, point: tuple[float, float], rng: random.Random) -> dict[str, Any]:
    """One call as a call-taking system posts it the moment it is logged."""
    kind = rng.choices([c for c, _ in CALL_MIX], [w for _, w in CALL_MIX])[0]
    record: dict[str, Any] = {
        "id": f"LOAD-{run_id}-{i:07d}", "waktu": datetime.now(UTC).isoformat(timespec="seconds"),
        "jenis_panggilan": kind, "lat": point[0], "lon": point[1],
        "lokasi_sumber": "gps" if rng.random() < 0.8 else "cell",
        "nomor_penelepon": "08" + "".join(rng.choices("0123456789", k=10)),
        "status": "Selesai",
    }
    if kind == "darurat":
        category, agency = rng.choice(EMERGENCIES)
        record.update(kategori=category, instansi=agency,
                      status=rng.choices(["Dalam proses", "Dikirim", "Di lokasi", "Selesai"], [3, 3, 2, 2])[0])
    return record


def ingest(port: int, key: str, rate: float, t_start: float, t_end: float, threads: int, points: list[Any],
           rec: Recorder, run_id: str, seed: int, distinct: int = 0) -> dict[str, Any]:
    """Post ``rate`` incidents a second until ``t_end``; with ``distinct``, the i-th carries id i % distinct
    (an update of a stored incident once every id was sent)."""
    if rate <= 0:
        time.sleep(max(0.0, t_end - time.time()))
        return {"sent": 0, "accepted": 0, "distinct_accepted": 0, "updated": 0, "max_lag_s": 0.0}
    lock = threading.Lock()
    slots = itertools.count()  # the i-th incident is due at t_start + i / rate
    taken = [0]
    accepted = [0]
    updated = [0]
    accepted_ids: set[int] = set()
    max_lag = [0.0]

    def worker(w: int) -> None:
        browser = Browser(port)
        rng = random.Random(seed * 1000 + w)
        while True:
            with lock:
                i = next(slots)
            due = t_start + i / rate
            if due >= t_end:
                break
            time.sleep(max(0.0, due - time.time()))
            with lock:
                taken[0] += 1
                max_lag[0] = max(max_lag[0], time.time() - due)
            n = i % distinct if distinct else i
            body = json.dumps(incident(n, run_id, points[i % len(points)], rng)).encode()
            started, t = time.time(), time.perf_counter()
            try:
                status, _h, answer = browser.request("POST", "/api/incidents", body, {
                    "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            except (OSError, http.client.HTTPException) as exc:
                rec.add(started, "ingest", "POST /api/incidents", time.perf_counter() - t, -1, False, 0, repr(exc))
                continue
            seconds = time.perf_counter() - t
            ok = False
            if status == 200:
                try:
                    result = json.loads(answer)
                    ok = result.get("inserted", 0) + result.get("updated", 0) == 1 and not result.get("rejected")
                except ValueError:
                    pass
            if ok:
                with lock:
                    accepted[0] += 1
                    updated[0] += int(result.get("updated") == 1)
                    accepted_ids.add(n)
            rec.add(started, "ingest", "POST /api/incidents", seconds, status, ok, len(answer),
                    "" if ok else answer[:300].decode(errors="replace"))
        browser.close()

    pool = [threading.Thread(target=worker, args=(w,), name=f"ingest-{w}") for w in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    return {"sent": taken[0], "accepted": accepted[0], "distinct_accepted": len(accepted_ids), "updated": updated[0],
            "max_lag_s": round(max_lag[0], 3)}


# --- processes: redis, gunicorn, memory ---------------------------------------------------------------------------


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return sorted(out)


def window_held(db: Path | None) -> int | None:
    """Incidents in the wall's 24 h window now (what every full wall refresh reads and sends)."""
    if db is None:
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute("SELECT count(*) FROM incidents WHERE received_at >= ?", (int(time.time()) - 86400,))
            return int(row.fetchone()[0])
    except sqlite3.Error:
        return None


def sample_memory(master: int, redis_pid: int | None, t0: float, samples: list[dict[str, Any]],
                  stop: threading.Event, db: Path | None = None) -> None:
    """RSS of the gunicorn master, each worker and redis-server every RSS_EVERY_S s, and once more at the end
    (RSS counts the pages a forked worker still shares with the master in both); with ``db``, the incidents
    in the 24 h window at that moment."""
    while True:
        workers = {str(p): round(rss_mb(p) or 0.0, 1) for p in children(master)}
        master_mb = rss_mb(master) or 0.0
        samples.append({"t": round(time.time() - t0, 1), "master_mb": round(master_mb, 1), "workers_mb": workers,
                        "server_mb": round(master_mb + sum(workers.values()), 1),
                        "redis_mb": round(rss_mb(redis_pid) or 0.0, 1) if redis_pid else None,
                        "window_incidents": window_held(db)})
        if stop.is_set():
            return
        stop.wait(RSS_EVERY_S)


def start_redis(folder: Path, port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server), or use --no-redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"redis-server did not answer on port {port}")


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ntpd_map", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False)


def display_tokens(env: dict[str, str], walls: int) -> list[str | None]:
    """One display token per wall from ``python -m ntpd_map tokens create``. Without that command: what it
    calls (``displays.create_display_token``) if the app has it, else [None, ...] (an app before the gate)."""
    first = cli(env, "tokens", "create", "--name", "wall-00")
    if first.returncode != 0:
        if "invalid choice" not in first.stderr:
            raise RuntimeError(f"tokens create failed: {first.stderr.strip()[-500:]}")
        code = ("import json, sys\nfrom ntpd_map.runtime import Runtime\ntry:\n"
                "    from ntpd_map.access.displays import create_display_token\n"
                "except ImportError:\n    print('[]'); sys.exit()\nstore = Runtime().store\n"
                f"print(json.dumps([create_display_token(store, f'wall-{{n:02d}}', actor='bench')[1] "
                f"for n in range({walls})]))")
        made = json.loads(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                                         text=True, check=True).stdout)
        print("no `tokens` command in this app: " + ("tokens made with displays.create_display_token" if made else
                                                     "walls open /wall without a token"), file=sys.stderr)
        return list(made) if made else [None] * walls

    def create(n: int) -> str:
        done = cli(env, "tokens", "create", "--name", f"wall-{n:02d}")
        if done.returncode != 0:
            raise RuntimeError(f"tokens create failed: {done.stderr.strip()[-500:]}")
        return str(json.loads(done.stdout)["token"])

    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        rest = list(pool.map(create, range(1, walls)))
    return [str(json.loads(first.stdout)["token"]), *rest]


# --- the run -----------------------------------------------------------------------------------------------------


def run(args: Any) -> dict[str, Any]:
    from bench.positions import _free_port, _machine_busy, _tree_cpu_s, gunicorn_command, wait_idle, wait_ready
    from bench.run import copy_boundaries, machine

    work = Path(tempfile.mkdtemp(prefix="ntpd-bench-load-"))
    copy_boundaries(args.region, work / "data")  # the region's cache and its locator: no rebuild, not timed
    env = {**os.environ, "NTPD_DATA_DIR": str(work / "data"), "NTPD_REGION": args.region, "NTPD_SIMULATE": "auto",
           "NTPD_LOG_LEVEL": "WARNING", "NTPD_REFRESH_SECONDS": str(args.refresh), "NTPD_REDIS_URL": ""}
    env.pop("NTPD_DATABASE_URL", None)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        t = time.perf_counter()
        # the app's first start (locator, the scenario, the first account) once, before the workers start: two
        # workers doing it at once on an empty store race each other
        subprocess.run([sys.executable, "-c", "from ntpd_map.factory import create_app; create_app()"], cwd=ROOT,
                       env=env, check=True)
        key = json.loads(cli(env, "keys", "create", "--name", "bench", "--role", "ingest").stdout)["key"]
        tokens = display_tokens(env, args.walls)
        redis_pid = None
        if not args.no_redis:
            redis_port = _free_port()
            (work / "redis").mkdir()
            procs.append(start_redis(work / "redis", redis_port))
            redis_pid = procs[-1].pid
            env["NTPD_REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        total_s = args.warmup + 60 * args.minutes
        points = region_points(env, max(1000, int(args.rate * total_s * 1.1)), args.seed)
        setup_s = time.perf_counter() - t

        port = _free_port()
        log_path = work / "gunicorn.log"
        command = gunicorn_command(args.server, port)
        trace_dir = None
        if args.memtrace:  # bench/memtrace.py as gunicorn's config file: tracemalloc in each worker
            trace_dir = work / "memtrace"
            trace_dir.mkdir()
            env["NTPD_MEMTRACE_DIR"], env["NTPD_MEMTRACE_FRAMES"] = str(trace_dir), str(args.memtrace_frames)
            command[-1:-1] = ["-c", str(ROOT / "bench" / "memtrace.py")]
        with log_path.open("wb") as log_file:
            server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        procs.append(server)
        ready_s = wait_ready(port, server)
        idle_before = wait_idle(args.wait_idle) if args.wait_idle > 0 else None

        rng = random.Random(args.seed)
        t0 = time.time()
        t_warm, t_end = t0 + args.warmup, t0 + total_s
        rec = Recorder(t0)
        walls = [Wall(n, port, tokens[n], t0 + rng.uniform(0, args.refresh), t_end, rec) for n in range(args.walls)]
        samples: list[dict[str, Any]] = []
        stop = threading.Event()
        sampler = threading.Thread(target=sample_memory, daemon=True,
                                   args=(server.pid, redis_pid, t0, samples, stop, work / "data" / "ntpd.sqlite"))
        sampler.start()
        cpu: dict[str, Any] = {}

        def mark_cpu() -> None:
            time.sleep(max(0.0, t_warm - time.time()))
            cpu["start"] = (time.time(), _tree_cpu_s(server.pid), _own_cpu_s(), _machine_busy(),
                            _tree_cpu_s(redis_pid) if redis_pid else 0.0)
            if trace_dir is not None:
                (trace_dir / "take-warm").touch()

        marker = threading.Thread(target=mark_cpu, daemon=True)
        marker.start()
        threads = [threading.Thread(target=w.run, name=f"wall-{w.n:02d}") for w in walls]
        for th in threads:
            th.start()
        run_id = uuid.uuid4().hex[:8]
        ingested = ingest(port, key, args.rate, t0, t_end, args.ingest_threads, points, rec, run_id, args.seed,
                          args.distinct_ids)
        for th in threads:
            th.join()
        cpu["end"] = (time.time(), _tree_cpu_s(server.pid), _own_cpu_s(), _machine_busy(),
                      _tree_cpu_s(redis_pid) if redis_pid else 0.0)
        stop.set()
        sampler.join()
        memtrace = collect_memtrace(trace_dir, children(server.pid)) if trace_dir is not None else None
        stored = count_stored(work / "data" / "ntpd.sqlite", run_id)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    log_text = log_path.read_text(errors="replace") if log_path.exists() else ""
    if args.keep:
        print(f"data dir kept: {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)

    report = {
        "machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "commit": _commit(),
        "config": {"minutes": args.minutes, "walls": args.walls, "rate": args.rate, "refresh_s": args.refresh,
                   "warmup_s": args.warmup, "server": args.server, "cache": "files" if args.no_redis else "redis",
                   "tokens": tokens[0] is not None, "region": args.region, "distinct_ids": args.distinct_ids,
                   "memtrace_frames": args.memtrace_frames if args.memtrace else None,
                   "smoke": bool(getattr(args, "smoke", False)),
                   "malloc_env": {k: v for k, v in os.environ.items()
                                  if k.startswith(("MALLOC_", "GLIBC_TUNABLES", "LD_PRELOAD"))}},
        "setup_s": round(setup_s, 1), "server_ready_s": round(ready_s, 1),
        "ingest": {**ingested, "stored": stored},
        "walls": [{"n": w.n, "ticks": w.ticks, "versions_seen": len(w.versions), "regressions": w.regressions,
                   "max_tick_lag_s": round(w.max_lag_s, 3), "reconnects": w.browser.reconnects,
                   "failed": w.failed} for w in walls],
        "rss": samples,
        "memtrace": memtrace,
        "cpu": {**(cpu_shares(cpu) or {}), "other_work_before": idle_before},
        "server_log_tail": log_text.strip().splitlines()[-30:],
        "server_log_tracebacks": log_text.count("Traceback"),
        "errors": rec.errors[:200],
        "requests": [list(r) for r in rec.rows],
    }
    report["summary"] = summarise(report, rec, args.warmup)
    return report


def collect_memtrace(folder: Path, workers: list[int], timeout: float = 180.0) -> dict[str, Any]:
    """Ask each worker for its ``end`` snapshot (bench/memtrace.py) and gather what every worker wrote."""
    (folder / "take-end").touch()
    deadline = time.time() + timeout
    while time.time() < deadline and not all((folder / f"{pid}-end.json").exists() for pid in workers):
        time.sleep(1.0)
    time.sleep(0.5)  # the last file's write
    out: dict[str, Any] = {}
    for path in sorted(folder.glob("*.json")):
        pid, _, label = path.stem.partition("-")
        try:
            out.setdefault(pid, {})[label] = json.loads(path.read_text())
        except ValueError as exc:
            out.setdefault(pid, {})[label] = {"error": f"unreadable: {exc}"}
    for path in sorted(folder.glob("*-series.jsonl")):  # every 10 s: RSS, malloc's and pymalloc's figures
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        out.setdefault(path.name.partition("-")[0], {})["series"] = rows
    return out


def memtrace_text(memtrace: dict[str, Any]) -> str:
    """What grew in each worker between the end of the warm-up and the end, as text."""
    lines: list[str] = []
    for pid, taken in memtrace.items():
        warm, end = taken.get("warm", {}), taken.get("end", {})
        lines.append(f"== worker {pid}")
        for label, rep in (("warm", warm), ("end", end), ("after malloc_trim(0)", end.get("after_malloc_trim"))):
            if rep:
                lines.append(f"  {label}: rss {rep.get('rss_mb')} malloc {rep.get('malloc_mb')} "
                             f"pymalloc {rep.get('pymalloc_mb')} tracemalloc {rep.get('tracemalloc_mb')} "
                             f"gc objects {rep.get('gc_objects')}")
        series = taken.get("series") or []
        if series:
            lines.append("  every minute, MB: anon RSS | malloc arenas: in use + free | pymalloc arenas: in use + free "
                         "| tracemalloc | resident: main arena, other arenas (count), other anonymous")
            t0 = series[0]["time"]
            for row in series[::6]:
                m, py = row.get("malloc_mb") or {}, row.get("pymalloc_mb") or {}
                mp = row.get("maps_mb") or {}
                lines.append(f"    {row['time'] - t0:6.0f} s  {row['rss_mb'].get('RssAnon')} | {m.get('arena')}: "
                             f"{m.get('in_use')} + {m.get('free_in_arenas')} | {py.get('arenas')}: {py.get('in_use')} "
                             f"+ {py.get('free')} | {row.get('traced_mb')} | {mp.get('brk')}, "
                             f"{mp.get('thread_arenas')} ({mp.get('thread_arena_count')}), {mp.get('other_anon')}")
        if end.get("error") or warm.get("error"):
            lines.append(f"  error: {end.get('error') or warm.get('error')}")
        for title, key in (("top lines (tracemalloc, end - warm)", "top_lines"),
                           ("top tracebacks", "top_tracebacks")):
            if end.get(key):
                lines.append(f"  {title}:")
                for row in end[key]:
                    lines.append(f"    {row['size_diff_kb']:+10.1f} KB {row['count_diff']:+8d} blocks "
                                 f"(now {row['size_kb']:.1f} KB)  " + " <- ".join(row["where"]))
        if end.get("type_diffs"):
            lines.append("  objects by type (gc.get_objects, end - warm):")
            lines.extend(f"    {n:+8d} {name}" for name, n in end["type_diffs"])
    return "\n".join(lines) + "\n"


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    return done.stdout.strip()


def cpu_shares(cpu: dict[str, Any]) -> dict[str, float] | None:
    """Cores busy over the measured window: the server (master + workers), redis, this process, other work."""
    if "start" not in cpu:
        return None
    (w0, s0, l0, m0, r0), (w1, s1, l1, m1, r1) = cpu["start"], cpu["end"]
    wall = max(1e-9, w1 - w0)
    machine = (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * (os.cpu_count() or 1)
    server, load, redis = (s1 - s0) / wall, (l1 - l0) / wall, (r1 - r0) / wall
    return {"machine": round(machine, 2), "server": round(server, 2), "redis": round(redis, 3),
            "load_generator": round(load, 2), "other_work": round(machine - server - load - redis, 2)}


def count_stored(db: Path, run_id: str) -> int | None:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            row = conn.execute("SELECT count(*) FROM incidents WHERE external_id LIKE ?", (f"LOAD-{run_id}-%",))
            return int(row.fetchone()[0])
    except sqlite3.Error:
        return None


def percentiles(ms: list[float]) -> dict[str, Any]:
    if not ms:
        return {"n": 0}
    s = sorted(ms)

    def at(q: float) -> float:
        return round(s[min(len(s) - 1, int(q * len(s)))], 1)

    return {"n": len(s), "p50_ms": at(0.5), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": round(s[-1], 1)}


def least_squares(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of y over x; None without two distinct x."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return None if var == 0 else sum((x - mx) * (y - my) for x, y in points) / var


def slope_per_min(points: list[tuple[float, float]]) -> float | None:
    per_s = least_squares(points)
    return None if per_s is None else round(60 * per_s, 2)


def summarise(report: dict[str, Any], rec: Recorder, warmup: float) -> dict[str, Any]:
    rows = rec.rows
    # page loads happen at the start: counted over the whole run; everything else after the warm-up
    measured = [r for r in rows if r[0] >= warmup or r[1] == "page"]
    kinds = sorted({r[1] for r in rows})
    latency = {k: percentiles([r[3] for r in measured if r[1] == k and r[5]]) for k in kinds}
    for k in kinds:
        sized = [r[6] for r in measured if r[1] == k and r[5]]
        latency[k]["mean_kb"] = round(sum(sized) / len(sized) / 1024, 1) if sized else None
        latency[k]["errors"] = sum(1 for r in rows if r[1] == k and not r[5])
        latency[k]["status"] = {str(s): sum(1 for r in measured if r[1] == k and r[4] == s)
                                for s in sorted({r[4] for r in measured if r[1] == k})}
    after = [s for s in report["rss"] if s["t"] >= warmup]
    rss = {
        "from_s": after[0]["t"] if after else None,
        "start_mb": after[0]["server_mb"] if after else None,
        "end_mb": after[-1]["server_mb"] if after else None,
        "slope_mb_per_min": slope_per_min([(s["t"], s["server_mb"]) for s in after]),
        "redis_end_mb": after[-1]["redis_mb"] if after else None,
        "samples": len(after),
        # what every full wall refresh reads and sends: with new ids it grows by the ingest rate
        "window_start": after[0].get("window_incidents") if after else None,
        "window_end": after[-1].get("window_incidents") if after else None,
    }
    held = [(float(s["window_incidents"]), s["server_mb"]) for s in after if s.get("window_incidents") is not None]
    per_held = least_squares(held) if len({x for x, _ in held}) > 2 else None  # the window must have moved
    rss["mb_per_1000_in_window"] = round(1000 * per_held, 2) if per_held is not None else None
    # once the window stops growing (no ingest, or --distinct-ids once every id was sent): the slope from then on
    final = after[-1].get("window_incidents") if after else None
    first = len(after)
    while final is not None and first > 0 and after[first - 1].get("window_incidents") is not None \
            and abs(after[first - 1]["window_incidents"] - final) <= max(2, final // 100):
        first -= 1
    steady = after[first:]
    rss["steady_window_from_s"] = steady[0]["t"] if len(steady) >= 6 else None
    rss["steady_window_slope_mb_per_min"] = slope_per_min([(s["t"], s["server_mb"]) for s in steady]) \
        if len(steady) >= 6 else None
    minutes = report["config"]["minutes"]
    rate = {k: round(sum(1 for r in measured if r[1] == k) / (60 * minutes), 2) for k in kinds if k != "page"} \
        if minutes else {}
    errors = len(rec.errors)
    walls = report["walls"]
    ingest = report["ingest"]
    checks = {
        "errors": errors,
        "walls_failed": sum(1 for w in walls if w["failed"]),
        "version_regressions": sum(w["regressions"] for w in walls),
        # each id accepted at least once is one stored incident (ids cycle with --distinct-ids)
        "stored_equals_accepted": ingest["stored"] == ingest.get("distinct_accepted", ingest["accepted"]),
        "server_tracebacks": report["server_log_tracebacks"],
    }
    checks_passed = (errors == 0 and not checks["walls_failed"] and not checks["version_regressions"]
                     and checks["stored_equals_accepted"] and not checks["server_tracebacks"])
    p95_ok = all((latency.get(k, {}).get("p95_ms") or 0) < TARGET_P95_MS for k in ("wall", "coverage", "ingest"))
    slope = rss["slope_mb_per_min"]
    flat = slope is not None and abs(slope) <= FLAT_MB_PER_MIN
    return {
        "latency": latency, "requests_per_s": rate, "rss": rss, "checks": checks, "cpu": report["cpu"],
        "max_tick_lag_s": max((w["max_tick_lag_s"] for w in walls), default=None),
        "ingest_max_lag_s": ingest["max_lag_s"],
        # memory_flat: the raw slope, whatever the data did; the steady-window slope is reported beside it
        "targets": {"p95_under_300ms": p95_ok, "no_errors": errors == 0 and not checks["walls_failed"],
                    "memory_flat": flat,
                    "memory_flat_at_steady_window": None if rss["steady_window_slope_mb_per_min"] is None
                    else abs(rss["steady_window_slope_mb_per_min"]) <= FLAT_MB_PER_MIN},
        "checks_passed": checks_passed,
        "judged": not report["config"].get("smoke", False),
        "passed": p95_ok and errors == 0 and flat and not checks["walls_failed"]
        and not checks["version_regressions"] and checks["stored_equals_accepted"],
    }


def _fmt(lat: dict[str, Any]) -> str:
    if not lat.get("n"):
        return "-"
    return f"{lat['p50_ms']:.0f} / {lat['p95_ms']:.0f} / {lat['p99_ms']:.0f} / {lat['max_ms']:.0f}"


def _rss_text(rss: dict[str, Any]) -> str:
    extra = ""
    if rss.get("mb_per_1000_in_window") is not None:
        extra += f"; {rss['mb_per_1000_in_window']} MB per 1,000 incidents added to the 24 h window"
    if rss.get("steady_window_slope_mb_per_min") is not None and rss["steady_window_from_s"] > rss["from_s"]:
        extra += (f"; {rss['steady_window_slope_mb_per_min']} MB/min from {rss['steady_window_from_s']:.0f} s, "
                  f"the window no longer growing")
    return f"{rss['start_mb']} -> {rss['end_mb']} MB ({rss['slope_mb_per_min']} MB/min{extra})"


def summary_line(report: dict[str, Any]) -> str:
    c, s = report["config"], report["summary"]
    lat, rss = s["latency"], s["rss"]
    ids = f" (ids cycling over {c['distinct_ids']:,})" if c.get("distinct_ids") else ""
    return (f"load: {c['walls']} walls every {c['refresh_s']} s + {c['rate']:g} incidents/s{ids} "
            f"for {c['minutes']:g} min "
            f"({c['server']}, cache {c['cache']}, tokens {'yes' if c['tokens'] else 'no'}): "
            f"wall p50/p95/p99/max {_fmt(lat.get('wall', {}))} ms, coverage {_fmt(lat.get('coverage', {}))} ms, "
            f"ingest {_fmt(lat.get('ingest', {}))} ms; errors {s['checks']['errors']}; "
            f"server RSS {_rss_text(rss)}; "
            + (f"{'PASS' if s['passed'] else 'FAIL'}" if s.get("judged", True) else
               f"targets not judged (--smoke), checks {'passed' if s['checks_passed'] else 'FAILED'}"))


def markdown_row(report: dict[str, Any]) -> str:
    c, s = report["config"], report["summary"]
    lat, rss, cpu = s["latency"], s["rss"], s["cpu"] or {}
    ids = f", ids cycling over {c['distinct_ids']:,}" if c.get("distinct_ids") else ""
    return (f"| {report['when']} | {report['commit']} | {c['cache']} | {c['walls']} x {c['refresh_s']} s + "
            f"{c['rate']:g}/s{ids}, {c['minutes']:g} min | {_fmt(lat.get('wall', {}))} | "
            f"{_fmt(lat.get('ingest', {}))} | "
            f"{s['checks']['errors']} | {_rss_text(rss)} | "
            f"{cpu.get('server', '-')} / {cpu.get('other_work', '-')} |")
