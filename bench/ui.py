"""UI benchmark of the operations page (issue 3, "Performance").

    python -m bench ui [--window-n 100000] [--stored 1000000] [--region 53.03] [--runs 20] [--results-dir DIR]

1. Fills a fresh SQLite store (temporary NTPD_DATA_DIR) with ``--stored`` simulated incidents over 150 days,
   ``--window-n`` of them in the last 24 hours (the page's default window), written as ingest writes them
   (located, in chunks of 1M) and labelled simulated, plus the simulated responders of the region.
   The window's incidents lie in the last 23 h and the rest before the last 25 h, so the number the map must
   draw does not change while the bench runs.
2. Server time of the incident layer, in process: the app's own refresh callback, called through Dash's
   endpoint (Flask's test client, so Dash's dispatch and the response's JSON count) with the inputs of the
   page's layout, ``--runs`` times each: a first load (full refresh of the 24 h window with the fit), a
   full refresh after the window slid, an idle tick (version check, 204) and, after step 5, a tick that
   finds the 100 new incidents (Patch) -> p50/p95 of the request, and of the store calls and functions it
   makes (inclusive times, wrapped while timing).
3. The real app (create_app) in a thread, headless Chromium at 1600x900: time from navigationStart until the
   incidents layer draws every incident of the window (clusters count their points), read by a poller inside
   the page every 50 ms; the size of the response that carried the geobuf. A cold load (fresh profile), then
   warm reloads (scripts in the browser cache).
4. Idle: NTPD_REFRESH_SECONDS=2, every /_dash-update-component over ~12 s -> max and median bytes.
5. 100 incidents received now are written into the store; the bytes of the update(s) that carried them
   (a Patch to the 'incidents-new' layer) and the time until the map draws them.
6. bench/results/ui.json (or ``--out``, or ``--results-dir``/ui.json; with the machine) and a markdown table on
   stdout.

The bench signs in as a user would: it adds an operator account (``bench-operator``, a random password) to its
store, signs Flask's test client in through ``/login`` for step 2, and types the name and password into the
sign-in form in Chromium before the cold load of step 3 (landing on ``/api/health``, so nothing of the
operations page is cached before it); every callback carries the CSRF token from the ``_csrf_token`` cookie.

Sizes: PerformanceResourceTiming (transferSize: Chrome reports encoded body + a fixed 300 bytes for headers)
and, from the DevTools network log, the real bytes both ways (request line, headers and body up; status,
headers and body down).
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tests.browser.leaflet_hook import RECORD_MAPS_JS

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

    from ntpd_map.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
HOUR = 3600
VIEWPORT = (1600, 900)
CHROMIUM = os.environ.get("NTPD_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("NTPD_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
UPDATE_URL = "/_dash-update-component"
MAP_ID = "ops-map"
#: the operator account the bench creates in its store and signs in as
BENCH_USER = "bench-operator"
CSRF_COOKIE = "_csrf_token"
POLL_MS = 50

#: Targets of issue 3 (KB = 1000 bytes).
TARGET_RENDER_S = 2.0
TARGET_IDLE_BYTES = 5_000
TARGET_NEW_BYTES = 50_000
TARGET_SERVER_P95_MS = 150.0

#: Runs in every page before its own scripts: records each Leaflet map (Leaflet's addInitHook; dash-leaflet
#: keeps the map inside React), and every POLL_MS ms counts what the incidents layers draw on the map
#: (#ops-map): clusters with their point counts and single points (incident features carry `ct`). Each change
#: goes to window.__bench.timeline as [performance.now(), total, clusters, points]. performance.now() counts
#: from the navigation's start. Markers are drawn on a canvas (preferCanvas), so they are not DOM nodes.
INIT_SCRIPT = """
(function () {
  performance.setResourceTimingBufferSize(100000);
  var bench = window.__bench = {timeline: [], longtasks: []};
  try {  // main-thread tasks over 50 ms: where the time between the data's arrival and the drawing goes
    new PerformanceObserver(function (list) {
      list.getEntries().forEach(function (e) {
        bench.longtasks.push([Math.round(e.startTime), Math.round(e.duration)]);
      });
    }).observe({type: "longtask", buffered: true});
  } catch (e) { /* no long-task timing in this browser */ }
__RECORD_MAPS__  function count() {
    var el = document.getElementById("__MAP__");
    if (!el) { return null; }
    var map = window.__ntpdMaps.filter(function (m) { return m.getContainer() === el; })[0];
    if (!map) { return null; }
    var clusters = 0, clustered = 0, points = 0;
    map.eachLayer(function (layer) {
      var p = layer.feature && layer.feature.properties;
      if (!p) { return; }
      if (p.cluster && p.point_count) { clusters += 1; clustered += p.point_count; }
      else if ("ct" in p) { points += 1; }
    });
    return [clustered + points, clusters, points];
  }
  setInterval(function () {
    var c = count();
    if (!c) { return; }
    var last = bench.timeline[bench.timeline.length - 1];
    if (!last || last[1] !== c[0] || last[2] !== c[1] || last[3] !== c[2]) {
      bench.timeline.push([performance.now(), c[0], c[1], c[2]]);
    }
  }, __POLL__);
})();
""".replace("__MAP__", MAP_ID).replace("__POLL__", str(POLL_MS)).replace("__RECORD_MAPS__", RECORD_MAPS_JS)

RESOURCES_JS = """
return performance.getEntriesByType("resource")
  .filter(function (e) { return e.name.indexOf("__URL__") >= 0; })
  .map(function (e) {
    return {start: e.startTime, request_start: e.requestStart, response_start: e.responseStart,
            end: e.responseEnd, transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize};
  });
""".replace("__URL__", UPDATE_URL)

log = logging.getLogger("bench.ui")


# ------------------------------------------------------------------------------------------------ helpers
def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def ms(seconds: list[float], digits: int = 1) -> dict[str, float]:
    millis = [1000 * s for s in seconds]
    return {"p50_ms": round(pct(millis, 50), digits), "p95_ms": round(pct(millis, 95), digits),
            "max_ms": round(max(millis), digits) if millis else float("nan")}


def say(message: str) -> None:
    print(f"[bench ui {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ 1. store
def make_runtime(data_dir: Path, region: str, refresh_s: int) -> Runtime:
    from ntpd_map.config import Settings
    from ntpd_map.runtime import Runtime

    settings = Settings.from_env(
        NTPD_DATA_DIR=str(data_dir),
        NTPD_TILE_URL="",  # no internet: no basemap, no tile request
        NTPD_REFRESH_SECONDS=str(refresh_s),
        NTPD_REGION=region,
        NTPD_DATABASE_URL="",  # the embedded SQLite file in the temporary data dir
        NTPD_SIMULATE="never",  # the bench writes its own (simulated) data
        NTPD_LANG="id",
        NTPD_TZ="",
        NTPD_LOG_LEVEL="WARNING",
    )
    return Runtime(settings)


def fill_store(runtime: Runtime, stored: int, window_n: int, seed: int = 7) -> dict[str, Any]:
    """`stored` simulated incidents over DAYS days ending now, `window_n` of them within the last 23 h, the
    rest older than 25 h; written located, in chunks of 1M, ids rising with time. Plus the region's simulated
    responders (so idle refreshes include the responder check the page makes)."""
    from bench.run import CHUNK, DAYS, incident_chunk
    from ntpd_map.ingest.simulate import simulate
    from ntpd_map.ingest.write import write_incidents

    if not 0 <= window_n <= stored:
        raise SystemExit("--window-n must be between 0 and --stored")
    store, region, locator = runtime.store, runtime.region, runtime.locator
    rng = np.random.default_rng(seed)
    t0 = int(time.time())
    span_s = DAYS * 86400
    old_end = 1 - 25 * HOUR / span_s  # older incidents end 25 h ago ...
    win_start = 1 - 23 * HOUR / span_s  # ... the window's begin 23 h ago
    older = stored - window_n
    plan: list[tuple[int, int, tuple[float, float]]] = []  # (first id, size, span)
    for start in range(0, older, CHUNK):
        size = min(CHUNK, older - start)
        plan.append((start, size, (old_end * start / older, old_end * (start + size) / older)))
    for start in range(0, window_n, CHUNK):
        size = min(CHUNK, window_n - start)
        f0 = win_start + (1 - win_start) * start / window_n
        f1 = win_start + (1 - win_start) * (start + size) / window_n
        plan.append((older + start, size, (f0, f1)))
    t = time.perf_counter()
    inserted = 0
    for first_id, size, span in plan:
        chunk = incident_chunk(region, size, first_id, rng, t0, span)
        inserted += write_incidents(store, locator, chunk).inserted
    write_s = time.perf_counter() - t
    if inserted != stored:
        raise SystemExit(f"the store took {inserted:,} of {stored:,} incidents")
    scenario = simulate(region, days=1, seed=1)
    store.upsert_units(scenario.units)
    store.write_positions(scenario.positions)
    store.set_meta("scenario", "simulated")  # the page shows its SIMULASI banner
    store.set_meta("scenario_region", region.code)
    return {"stored": stored, "window_n": window_n, "t0": t0, "write_s": round(write_s, 1),
            "rows_per_s": round(stored / write_s) if write_s else None, "responders": len(scenario.units)}


def new_incidents(runtime: Runtime, n: int, first_id: int, seed: int = 11) -> Any:
    """n simulated incidents received now (external ids after the stored ones)."""
    from bench.run import incident_chunk

    frame = incident_chunk(runtime.region, n, first_id, np.random.default_rng(seed), int(time.time()))
    frame["received_at"] = int(time.time())
    return frame


@dataclass(frozen=True)
class Account:
    """The operator the bench signs in as (the operations page is for operators and admins)."""

    username: str
    password: str


def make_operator(runtime: Runtime) -> Account:
    """An operator account in the bench's store, as `python -m ntpd_map users add` makes one: the bench signs in
    with it through /login, in process and in the browser, as a dispatcher does."""
    import secrets

    from ntpd_map.access import users

    account = Account(BENCH_USER, secrets.token_urlsafe(18))
    users.add_user(runtime.store, account.username, "operator", account.password, actor="bench")
    return account


def sign_in(client: Any, account: Account) -> str:
    """Sign a Flask test client in through the sign-in form (GET /login for its CSRF token, POST /login);
    returns the CSRF token Dash callbacks must carry (``X-CSRFToken``, from the ``_csrf_token`` cookie the
    operations page sets, as dash-renderer reads it)."""
    import re

    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    if page.status_code != 200 or found is None:
        raise SystemExit(f"the sign-in page did not answer with its form ({page.status_code})")
    answer = client.post("/login", data={"username": account.username, "password": account.password,
                                         "csrf_token": found.group(1)})
    if answer.status_code != 303:
        raise SystemExit(f"signing in as {account.username} failed ({answer.status_code})")
    shell = client.get("/")
    cookie = client.get_cookie(CSRF_COOKIE)
    if shell.status_code != 200 or cookie is None:
        raise SystemExit(f"the operations page did not open after signing in ({shell.status_code})")
    return str(cookie.value)


# ------------------------------------------------------------------------------------- 2. server, in process
def window_query(runtime: Runtime, now: int) -> Any:
    from ntpd_map.pages.ops.callbacks import query_from_filters

    return query_from_filters("24h", None, None, [], [], [], [], [], now, runtime.settings.tz)


#: Where a refresh spends its time: module functions (looked up when called, or bound when the app is built)
#: and store methods, wrapped while the bench times requests. Times are inclusive (a function's time includes
#: the wrapped functions it calls); a name the app no longer has is skipped.
TIMED_FUNCTIONS = (
    ("ntpd_map.pages.live", "geobuf_from_batches"), ("ntpd_map.pages.ops.callbacks", "features_from_incidents"),
    ("ntpd_map.pages.ops.callbacks", "bounds_of"), ("ntpd_map.pages.ops.callbacks", "headline_from_store"),
    ("ntpd_map.pages.ops.callbacks", "counters"), ("ntpd_map.pages.ops.callbacks", "list_rows"),
    ("ntpd_map.pages.ops.callbacks", "list_options"),
    ("dash._callback", "to_json"),  # the response's JSON, as Dash writes it
)
TIMED_STORE_METHODS = ("data_version", "incidents", "incident_batches", "count_by", "count_incidents")


class Timings:
    """Inclusive seconds per wrapped function, for the request being timed (None: not timing)."""

    current: dict[str, float] | None = None

    @classmethod
    def add(cls, name: str, seconds: float) -> None:
        if cls.current is not None:
            cls.current[name] = cls.current.get(name, 0.0) + seconds


def _timed(name: str | Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            Timings.add(name(*args, **kwargs) if callable(name) else name, time.perf_counter() - t)

    return wrapper


def _query_label(query: Any, *_: Any, **__: Any) -> str:
    """store.incidents(columns, limit, ...): the query's non-default fields besides the time window."""
    import dataclasses

    parts = [f.name for f in dataclasses.fields(query)
             if f.name not in ("start", "end") and getattr(query, f.name) not in (None, ())]
    return f"store.incidents({', '.join(parts) or 'every column'})"


@contextmanager
def instrumented(runtime: Runtime) -> Iterator[None]:
    import importlib

    saved = []
    for module_name, attr in TIMED_FUNCTIONS:
        module = importlib.import_module(module_name)
        fn = getattr(module, attr, None)
        if callable(fn):
            saved.append((module, attr, fn))
            setattr(module, attr, _timed(f"dash {attr}" if module_name.startswith("dash") else attr, fn))
    store = runtime.store
    for name in TIMED_STORE_METHODS:
        method = getattr(store, name, None)
        if callable(method):
            setattr(store, name, _timed(_query_label if name == "incidents" else f"store.{name}", method))
    try:
        yield
    finally:
        for module, attr, fn in saved:
            setattr(module, attr, fn)
        for name in TIMED_STORE_METHODS:
            store.__dict__.pop(name, None)


class InProcessPage:
    """The operations page's refresh callback called through Dash's own endpoint (Flask's test client): the
    work, the serialisation and the bytes of a browser's request, without the network. Inputs and states take
    the values of the layout the router serves for "/", as a browser's first request does."""

    def __init__(self, app: Any, account: Account) -> None:
        from ntpd_map import ids

        self.ids = ids
        self.client = app.server.test_client()
        self.csrf = sign_in(self.client, account)  # the access gate answers 401 to an anonymous callback
        self.callbacks = app.callback_map
        self.refresh_key = next(k for k in self.callbacks if f"{ids.SYNC}.data" in k and "layer-incidents.data" in k)
        route_key = next(k for k in self.callbacks if k.strip(".") == f"{ids.PAGE}.children")
        status, _, _, payload = self.post(route_key, {(ids.URL, "pathname"): "/", (ids.URL, "search"): ""},
                                          [f"{ids.URL}.pathname"])
        if status != 200 or payload is None:
            raise SystemExit(f"the router did not serve the operations page ({status})")
        self.layout_values: dict[tuple[str, str], Any] = {}
        self._collect(payload["response"][ids.PAGE]["children"])
        self.tick = 0

    def _collect(self, node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                self._collect(item)
        elif isinstance(node, dict):
            props = node.get("props") if "namespace" in node else None
            if isinstance(props, dict):
                if isinstance(props.get("id"), str):
                    for prop, value in props.items():
                        self.layout_values[(props["id"], prop)] = value
                for value in props.values():
                    self._collect(value)

    def post(self, key: str, values: dict[tuple[str, str], Any],
             changed: list[str]) -> tuple[int, float, int, dict[str, Any] | None]:
        """(status, seconds, response bytes, response JSON) of one callback request."""
        spec = self.callbacks[key]

        def items(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out = []
            for s in specs:
                item = {"id": s["id"], "property": s["property"]}
                if (s["id"], s["property"]) in values:
                    item["value"] = values[(s["id"], s["property"])]
                out.append(item)
            return out

        parts = [p.rsplit(".", 1) for p in key.strip(".").split("...")]
        outputs: Any = [{"id": i, "property": p} for i, p in parts]
        body = {"output": key, "outputs": outputs if key.startswith("..") else outputs[0],
                "inputs": items(spec["inputs"]), "changedPropIds": changed, "state": items(spec.get("state", []))}
        t = time.perf_counter()
        response = self.client.post(UPDATE_URL, json=body, headers={"X-CSRFToken": self.csrf})
        data = response.get_data()
        seconds = time.perf_counter() - t
        return response.status_code, seconds, len(data), (json.loads(data) if response.status_code == 200 else None)

    def refresh(self, sync: dict[str, Any] | None) -> tuple[int, float, int, dict[str, Any] | None]:
        """The refresh as the page's first load calls it (sync None) or as a tick with this sync."""
        values = dict(self.layout_values)
        changed: list[str] = []
        if sync is not None:
            self.tick += 1
            values[(self.ids.TICK, "n_intervals")] = self.tick
            values[(self.ids.SYNC, "data")] = sync
            changed = [f"{self.ids.TICK}.n_intervals"]
        return self.post(self.refresh_key, values, changed)

    def sync_of(self, payload: dict[str, Any] | None) -> dict[str, Any]:
        return dict((payload or {}).get("response", {}).get(self.ids.SYNC, {}).get("data") or {})


def time_requests(page: InProcessPage, runs: int, sync: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    """`runs` refresh requests -> p50/p95 of the whole request and of each wrapped function (inclusive)."""
    totals: list[float] = []
    parts: list[dict[str, float]] = []
    statuses: set[int] = set()
    sizes: list[int] = []
    for _ in range(runs):
        Timings.current = {}
        status, seconds, size, _ = page.refresh(sync())
        parts.append(Timings.current)
        Timings.current = None
        totals.append(seconds)
        statuses.add(status)
        sizes.append(size)
    names = sorted({k for p in parts for k in p}, key=lambda k: -statistics.median(p.get(k, 0.0) for p in parts))
    digits = 3 if max(totals) < 0.01 else 1
    return {"runs": runs, "status": sorted(statuses), "response_bytes": max(sizes), "total": ms(totals, digits),
            "inclusive": {k: ms([p.get(k, 0.0) for p in parts], digits) for k in names}}


def server_times(page: InProcessPage, runs: int, profile: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """First-load and steady full refreshes, and idle ticks; returns (results, the first load's sync)."""
    status, _, _, payload = page.refresh(None)  # warm-up, and the sync a page holds after its first load
    if status != 200:
        raise SystemExit(f"the refresh callback answered {status} on a first load")
    first_sync = page.sync_of(payload)
    out: dict[str, Any] = {
        # a page's first load (or changed filters): the bulk layer, the fit, counters, list
        "first_load": time_requests(page, runs, lambda: None),
        # the window slid for FULL_REFRESH_S: the bulk layer again, no fit
        "steady_full": time_requests(page, runs, lambda: {**first_sync, "full_at": 0}),
        # nothing new: the version check only
        "idle": time_requests(page, max(runs, 100), lambda: {**first_sync, "full_at": int(time.time())}),
    }
    if profile:
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        page.refresh(None)
        prof.disable()
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(25)
        out["profile_first_load"] = text.getvalue()
    return out, first_sync


# ------------------------------------------------------------------------------------------- 3. live app
@contextmanager
def live_app(runtime: Runtime) -> Iterator[str]:
    """The real app (create_app) on 127.0.0.1 and a free port, in a thread (as tests/browser do)."""
    from werkzeug.serving import make_server

    from ntpd_map.factory import create_app

    app = create_app(runtime=runtime)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    before = set(threading.enumerate())
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="ntpd-bench-app", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        # requests still being answered (the browser is gone, the work goes on) would share the CPU with
        # whatever is timed next: wait for them
        deadline = time.monotonic() + 120
        for handler in set(threading.enumerate()) - before:
            handler.join(timeout=max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in set(threading.enumerate()) - before):
            say("warning: requests of the app under test still running after 120 s")


@contextmanager
def chromium() -> Iterator[WebDriver]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (*CHROMIUM_FLAGS, f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": INIT_SCRIPT})
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": VIEWPORT[0], "height": VIEWPORT[1],
                                                                      "deviceScaleFactor": 1, "mobile": False})
        yield driver
    finally:
        driver.quit()


class Network:
    """The DevTools network log of one browser: each POST /_dash-update-component with what it asked for, its
    status and its real bytes both ways."""

    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver
        self.events: list[dict[str, Any]] = []

    def pull(self) -> None:
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"].startswith("Network."):
                self.events.append(message)

    def updates(self) -> list[dict[str, Any]]:
        """Every finished update request, in the order they were sent."""
        self.pull()
        req: dict[str, dict[str, Any]] = {}
        for event in self.events:
            method, p = event["method"], event["params"]
            rid = p.get("requestId")
            if method == "Network.requestWillBeSent" and UPDATE_URL in p["request"]["url"]:
                body = _post_body(p["request"])
                try:
                    output = str(json.loads(body).get("output", ""))
                except ValueError:
                    output = ""
                req[rid] = {"id": rid, "sent": p["timestamp"], "output": output, "up_body": len(body.encode()),
                            "up_headers": 0, "down_headers": 0}
            elif rid not in req:
                continue
            elif method == "Network.requestWillBeSentExtraInfo":
                req[rid]["up_headers"] = _headers_bytes(p.get("headers", {})) + len("POST / HTTP/1.1\r\n\r\n") + len(
                    UPDATE_URL)
            elif method == "Network.responseReceivedExtraInfo":
                req[rid]["down_headers"] = len(p["headersText"]) if p.get("headersText") else _headers_bytes(
                    p.get("headers", {}))
            elif method == "Network.responseReceived":
                req[rid]["status"] = int(p["response"]["status"])
                req[rid]["received"] = int(p["response"].get("encodedDataLength") or 0)  # so far: headers
            elif method == "Network.dataReceived":
                req[rid]["received"] = req[rid].get("received", 0) + int(p.get("encodedDataLength") or 0)
            elif method == "Network.loadingFinished":
                req[rid]["finished"] = int(p["encodedDataLength"])  # status line, headers and body
            elif method == "Network.loadingFailed":
                # the renderer aborts its fetch once it has what it needs (every 204 here): still answered
                req[rid]["failed"] = p.get("errorText", "failed")
        done = [r for r in req.values() if "status" in r and ("finished" in r or "failed" in r)]
        for r in done:
            r["up_bytes"] = r["up_headers"] + r["up_body"]
            r["down_bytes"] = r.get("finished", r.get("received", 0))
        return sorted(done, key=lambda r: r["sent"])

    def body(self, request_id: str) -> str:
        body = self.driver.execute_cdp_cmd("Network.getResponseBody", {"requestId": request_id})
        if body.get("base64Encoded"):
            return base64.b64decode(body["body"]).decode("utf-8", "replace")
        return str(body["body"])


def _post_body(request: dict[str, Any]) -> str:
    raw = request.get("postData")
    if raw is None:  # newer Chrome may send the body only as postDataEntries (base64)
        raw = "".join(base64.b64decode(e.get("bytes", "")).decode("utf-8", "replace")
                      for e in request.get("postDataEntries", []))
    return str(raw)


def _headers_bytes(headers: dict[str, Any]) -> int:
    return sum(len(f"{k}: {v}\r\n") for k, v in headers.items())


def update_entries(driver: WebDriver, network: Network) -> list[dict[str, Any]]:
    """Resource-timing entries of the page's finished update requests (start order), each joined with the
    DevTools record of the same request (also start order: the two lists pair one to one)."""
    timing = sorted(driver.execute_script(RESOURCES_JS), key=lambda e: e["start"])
    cdp = network.updates()
    cdp = cdp[-len(timing):] if timing else []  # the log spans earlier pages of this browser; timing does not
    if len(cdp) != len(timing):
        say(f"warning: {len(timing)} resource-timing entries but {len(cdp)} logged requests; sizes unpaired")
        return [{**e, "paired": False} for e in timing]
    out = []
    for e, r in zip(timing, cdp, strict=True):
        out.append({**e, **{k: r.get(k) for k in ("id", "output", "status", "up_bytes", "down_bytes")},
                    "paired": abs(r["down_bytes"] - e["encoded"]) < 2000})
    return out


def short_output(output: str) -> str:
    """'..layer-incidents.data...ops-counters.children..' -> 'layer-incidents.data+9'."""
    parts = [p for p in output.strip(".").split("...") if p]
    return f"{parts[0]}+{len(parts) - 1}" if len(parts) > 1 else (parts[0] if parts else output)


def response_breakdown(network: Network, request_id: str) -> dict[str, Any]:
    """Bytes of each output in an update response (its JSON, per component.prop)."""
    try:
        payload = json.loads(network.body(request_id))
    except Exception as exc:  # the body may be gone (evicted): the breakdown is optional
        return {"error": str(exc)[:200]}
    sizes = {}
    for component, props in (payload.get("response") or {}).items():
        for prop, value in props.items():
            sizes[f"{component}.{prop}"] = len(json.dumps(value, separators=(",", ":")))
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))


def timeline(driver: WebDriver) -> list[list[float]]:
    return driver.execute_script("return window.__bench ? window.__bench.timeline : [];")


def wait_total(driver: WebDriver, expected: int, timeout: float, after_ms: float = 0.0) -> list[float] | None:
    """Poll the page's timeline (cheap: it is recorded in the page) until the total drawn equals `expected`;
    return that timeline entry [t_ms, total, clusters, points], None on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in timeline(driver):
            if entry[0] >= after_ms and int(entry[1]) == expected:
                return entry
        time.sleep(0.1)
    return None


def wait_at_rest(driver: WebDriver, quiet_ms: float = 1500, timeout: float = 30) -> float:
    """Wait until the drawn counts have not changed for quiet_ms (the first fit flies, then re-clusters);
    return the page time of the last change."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = timeline(driver)
        now = driver.execute_script("return performance.now();")
        if line and now - line[-1][0] >= quiet_ms:
            return float(line[-1][0])
        time.sleep(0.2)
    return float("nan")


def js_profile_summary(profile: dict[str, Any], until_ms: float | None, top: int = 15) -> dict[str, Any]:
    """Self time of a V8 CPU profile (DevTools Profiler), by script and by function, up to `until_ms` after
    the profile's start (roughly the navigation's start: the profiler starts just before it)."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    self_us: dict[int, float] = {}
    elapsed = 0.0
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        elapsed += delta
        if until_ms is not None and elapsed / 1000 > until_ms:
            break
        self_us[node_id] = self_us.get(node_id, 0.0) + delta
    by_script: dict[str, float] = {}
    by_function: dict[str, float] = {}
    for node_id, us in self_us.items():
        frame = nodes[node_id]["callFrame"]
        script = frame.get("url", "").rsplit("/", 1)[-1].split("?")[0] or frame.get("functionName") or "(native)"
        by_script[script] = by_script.get(script, 0.0) + us
        name = f"{frame.get('functionName') or '(anonymous)'} {script}:{frame.get('lineNumber', 0) + 1}"
        by_function[name] = by_function.get(name, 0.0) + us

    def ranked(d: dict[str, float]) -> list[tuple[str, float]]:
        return [(k, round(v / 1000)) for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:top]]

    return {"sampled_ms": round(sum(self_us.values()) / 1000), "by_script_ms": ranked(by_script),
            "by_function_ms": ranked(by_function)}


def page_load(driver: WebDriver, network: Network, url: str, expected: int, timeout: float,
              label: str, js_profile: bool = False) -> dict[str, Any]:
    """Open the page and time the first complete clustered render of the window."""
    network.pull()  # drop what earlier pages logged from the pairing below (update_entries keeps the tail)
    if js_profile:
        driver.execute_cdp_cmd("Profiler.enable", {})
        driver.execute_cdp_cmd("Profiler.setSamplingInterval", {"interval": 500})
        driver.execute_cdp_cmd("Profiler.start", {})
    driver.get(url)
    hit = wait_total(driver, expected, timeout)
    profile = driver.execute_cdp_cmd("Profiler.stop", {})["profile"] if js_profile else None
    line = timeline(driver)
    nav = driver.execute_script(
        "var n = performance.getEntriesByType('navigation')[0];"
        "return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd};")
    updates = update_entries(driver, network)
    result: dict[str, Any] = {"label": label, "expected": expected, "drawn_ms": round(hit[0]) if hit else None,
                              "drawn": hit, "dom_content_loaded_ms": round(nav["dcl"]), "load_ms": round(nav["load"]),
                              "timeline_head": line[:8]}
    if profile is not None:
        result["js_profile"] = js_profile_summary(profile, hit[0] if hit else None)
    if hit is None:  # what the page was doing instead: refreshes piling up behind a slow server
        refreshes = [u for u in updates if "layer-incidents.data" in (u.get("output") or "")]
        result["last_drawn"] = line[-1] if line else None
        result["stuck"] = {
            "incident_refresh_requests": len(refreshes),
            "answered_200": sum(1 for u in refreshes if u.get("status") == 200),
            "ttfb_max_ms": round(max((u["response_start"] - u["request_start"] for u in refreshes), default=0)),
            "bytes_down_total": sum(u["transfer"] for u in refreshes),
            "largest_response": max((u["transfer"] for u in refreshes), default=0),
        }
        result["updates"] = [_brief(u) for u in updates]
        return result
    result["at_rest_ms"] = round(wait_at_rest(driver))
    result["long_tasks_before_draw"] = [t for t in driver.execute_script("return window.__bench.longtasks;")
                                        if t[0] <= hit[0]]
    updates = update_entries(driver, network)
    carriers = [u for u in updates if "layer-incidents.data" in (u.get("output") or "") and u.get("status") == 200]
    bulk = max(carriers or updates, key=lambda u: u["transfer"])
    result["geobuf_response"] = {
        "transfer_size": bulk["transfer"], "encoded_body_size": bulk["encoded"], "decoded_body_size": bulk["decoded"],
        "wire_down_bytes": bulk.get("down_bytes"), "wire_up_bytes": bulk.get("up_bytes"),
        "request_start_ms": round(bulk["request_start"]), "server_ttfb_ms": round(bulk["response_start"]
                                                                               - bulk["request_start"]),
        "response_end_ms": round(bulk["end"]), "output": short_output(bulk.get("output") or ""),
    }
    result["refresh_requests_before_draw"] = sum(
        1 for u in updates if "layer-incidents.data" in (u.get("output") or "") and u["start"] <= hit[0])
    result["updates"] = [_brief(u) for u in updates]
    if bulk.get("id"):
        result["geobuf_response"]["outputs_bytes"] = response_breakdown(network, bulk["id"])
    return result


def _brief(u: dict[str, Any]) -> dict[str, Any]:
    return {"start_ms": round(u["start"]), "ttfb_ms": round(u["response_start"] - u["request_start"]),
            "transfer": u["transfer"], "status": u.get("status"), "up": u.get("up_bytes"),
            "down": u.get("down_bytes"), "output": short_output(u.get("output") or "")}


def idle_phase(driver: WebDriver, network: Network, seconds: float) -> dict[str, Any]:
    start_ms = driver.execute_script("return performance.now();")
    time.sleep(seconds)
    updates = [u for u in update_entries(driver, network) if u["start"] >= start_ms]
    transfer = [u["transfer"] for u in updates]
    wire = [(u.get("up_bytes") or 0) + (u.get("down_bytes") or 0) for u in updates]
    refresh = [u for u in updates if "layer-incidents.data" in (u.get("output") or "")]
    return {
        "seconds": seconds, "requests": len(updates),
        "transfer_max": max(transfer, default=0), "transfer_median": statistics.median(transfer) if transfer else 0,
        "encoded_body_max": max((u["encoded"] for u in updates), default=0),
        "wire_round_trip_max": max(wire, default=0),
        "wire_round_trip_median": statistics.median(wire) if wire else 0,
        "incident_refresh_requests": len(refresh),
        "incident_refresh_transfer_max": max((u["transfer"] for u in refresh), default=0),
        "statuses": sorted({str(u.get("status")) for u in updates}),
        "updates": [_brief(u) for u in updates],
    }


def new_phase(driver: WebDriver, network: Network, runtime: Runtime, n: int, first_id: int, expected_before: int,
              timeout: float) -> dict[str, Any]:
    from ntpd_map.ingest.write import write_incidents

    version_before = runtime.store.data_version()
    frame = new_incidents(runtime, n, first_id)
    mark_ms = driver.execute_script("return performance.now();")
    result = write_incidents(runtime.store, runtime.locator, frame)
    hit = wait_total(driver, expected_before + n, timeout, after_ms=mark_ms)
    time.sleep(2.5)  # one more tick: an update answering after the draw is counted too
    updates = [u for u in update_entries(driver, network) if u["end"] >= mark_ms]
    carriers = [u for u in updates if "layer-incidents-new.data" in (u.get("output") or "") and u.get("status") == 200]
    out: dict[str, Any] = {"written": n, "inserted": result.inserted, "version_before": version_before,
                           "drawn": hit is not None, "write_to_drawn_ms": round(hit[0] - mark_ms) if hit else None,
                           "carrier_requests": len(carriers),
                           "transfer_bytes": sum(u["transfer"] for u in carriers),
                           "encoded_body_bytes": sum(u["encoded"] for u in carriers),
                           "wire_round_trip_bytes": sum((u.get("up_bytes") or 0) + (u.get("down_bytes") or 0)
                                                        for u in carriers),
                           "updates": [_brief(u) for u in updates]}
    if carriers and carriers[0].get("id"):
        out["outputs_bytes"] = response_breakdown(network, carriers[0]["id"])
    return out


def browser_sign_in(driver: WebDriver, base_url: str, account: Account, timeout: float) -> dict[str, Any]:
    """Sign in as a dispatcher does: type the name and password into the sign-in form and submit it. The form
    is opened with ``next=/api/health`` so that the browser lands on a page without the map: nothing of the
    operations page (its scripts, its data) is loaded or cached before the cold load. Only the sign-in page's
    stylesheet is in the browser's cache by then."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    t = time.perf_counter()
    driver.get(f"{base_url}/login?next=/api/health")
    driver.find_element(By.ID, "username").send_keys(account.username)
    driver.find_element(By.ID, "password").send_keys(account.password)
    driver.find_element(By.ID, "login-submit").click()
    try:
        WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: "/login" not in d.current_url)
    except Exception as exc:  # selenium's TimeoutException: say what the page said instead
        message = driver.find_elements(By.ID, "login-msg")
        raise SystemExit(f"signing in as {account.username} in the browser failed: "
                         f"{message[0].text if message else driver.current_url}") from exc
    return {"user": account.username, "landed": driver.current_url.removeprefix(base_url),
            "seconds": round(time.perf_counter() - t, 2)}


def browser_phase(runtime: Runtime, account: Account, expected: int, new_n: int, first_new_id: int,
                  warm_loads: int, idle_s: float, timeout: float, js_profile: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with live_app(runtime) as base_url, chromium() as driver:
        network = Network(driver)
        out["sign_in"] = browser_sign_in(driver, base_url, account, timeout)
        say(f"signed in as {account.username} in the browser")
        loads = [page_load(driver, network, base_url + "/", expected, timeout, "cold")]
        say(f"cold load: drawn at {loads[-1]['drawn_ms']} ms")
        for i in range(warm_loads if loads[0]["drawn_ms"] is not None else 0):
            loads.append(page_load(driver, network, base_url + "/", expected, timeout, f"warm{i + 1}",
                                   js_profile=js_profile and i == warm_loads - 1))
            say(f"warm load {i + 1}: drawn at {loads[-1]['drawn_ms']} ms")
        out["loads"] = loads
        if loads[-1]["drawn_ms"] is None:
            out["error"] = "the map never drew every incident of the window"
            return out
        out["idle"] = idle_phase(driver, network, idle_s)
        say(f"idle: {out['idle']['requests']} updates, max transferSize {out['idle']['transfer_max']} B")
        out["new"] = new_phase(driver, network, runtime, new_n, first_new_id, expected, timeout)
        say(f"{new_n} new: {out['new']['transfer_bytes']} B, drawn after {out['new']['write_to_drawn_ms']} ms")
        severe = [e["message"][:300] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        out["console_errors"] = severe[:10]
    return out


# ----------------------------------------------------------------------------------------------- 6. report
def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("pass" if ok else "FAIL")


def table(result: dict[str, Any]) -> str:
    s = result["server"]
    b = result.get("browser", {})
    rows: list[tuple[str, str, str, bool | None]] = []
    runs = s["first_load"]["runs"]
    for key, label in (("first_load", f"server: full refresh of the 24 h window, first load ({runs} requests, "
                                      f"{result['store']['stored']:,} stored)"),
                       ("steady_full", "server: full refresh, window slid (no fit)"),
                       ("patch", f"server: refresh with {result['new_n']} new incidents (Patch)")):
        if key in s:
            tot = s[key]["total"]
            rows.append((f"{label}: p50 / p95", f"p95 < {TARGET_SERVER_P95_MS:.0f} ms",
                         f"{tot['p50_ms']:,} / {tot['p95_ms']:,} ms", tot["p95_ms"] < TARGET_SERVER_P95_MS))
    idle = s["idle"]["total"]
    rows.append((f"server: idle refresh (version check, {s['idle']['status']}): p95", "-", f"{idle['p95_ms']} ms",
                 None))
    for load in b.get("loads", []):
        drawn = load.get("drawn_ms")
        measured = f"{drawn / 1000:.2f} s" if drawn is not None else f"never (in {result['timeout_s']:.0f} s)"
        rows.append((f"browser: clustered first render of {load['expected']:,} incidents ({load['label']} load)",
                     f"< {TARGET_RENDER_S:.0f} s", measured, drawn is not None and drawn / 1000 < TARGET_RENDER_S))
        if "stuck" in load:
            st = load["stuck"]
            rows.append(("  instead: full refreshes sent / answered, slowest TTFB, bytes received", "-",
                         f"{st['incident_refresh_requests']} / {st['answered_200']}, {st['ttfb_max_ms'] / 1000:.1f} s, "
                         f"{st['bytes_down_total'] / 1e6:,.1f} MB", None))
        g = load.get("geobuf_response")
        if g and load["label"] == "cold":
            rows.append(("  geobuf response: transferSize / server TTFB", "-",
                         f"{g['transfer_size']:,} B / {g['server_ttfb_ms']:,} ms", None))
    if "idle" in b:
        i = b["idle"]
        rows.append((f"idle refresh: max / median transferSize ({i['requests']} updates in {i['seconds']:.0f} s)",
                     f"< {TARGET_IDLE_BYTES:,} B", f"{i['transfer_max']:,} / {i['transfer_median']:,.0f} B",
                     i["transfer_max"] < TARGET_IDLE_BYTES))
        rows.append(("idle refresh: max round trip on the wire (request + response)", f"< {TARGET_IDLE_BYTES:,} B",
                     f"{i['wire_round_trip_max']:,} B", i["wire_round_trip_max"] < TARGET_IDLE_BYTES))
    if "new" in b:
        n = b["new"]
        rows.append((f"{n['written']} new incidents: transferSize of the update(s) carrying them "
                     f"({n['carrier_requests']})", f"< {TARGET_NEW_BYTES:,} B",
                     f"{n['transfer_bytes']:,} B" if n["carrier_requests"] else "none seen",
                     bool(n["carrier_requests"]) and n["transfer_bytes"] < TARGET_NEW_BYTES))
        rows.append((f"{n['written']} new incidents: time from write to drawn", "< 10 s",
                     "never" if n["write_to_drawn_ms"] is None else f"{n['write_to_drawn_ms'] / 1000:.2f} s",
                     n["write_to_drawn_ms"] is not None and n["write_to_drawn_ms"] < 10_000))
    head = "| metric | target | measured | result |\n| --- | --- | ---: | --- |"
    return "\n".join([head, *(f"| {m} | {t} | {v} | {verdict(ok)} |" for m, t, v, ok in rows)])


# ------------------------------------------------------------------------------------------------- driver
def add_parser(sub: Any) -> None:
    from bench.run import add_results_dir

    p = sub.add_parser("ui", help="operations page: server time, first clustered render, idle and new-incident bytes",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--window-n", type=int, default=100_000, help="incidents in the last 24 h")
    p.add_argument("--stored", type=int, default=1_000_000, help="incidents in the store (over 150 days)")
    p.add_argument("--region", default="53.03")
    p.add_argument("--runs", type=int, default=20, help="in-process requests of each kind to the refresh callback")
    p.add_argument("--new-n", type=int, default=100, help="incidents written while the page is open")
    p.add_argument("--warm-loads", type=int, default=2, help="page loads after the cold one")
    p.add_argument("--idle-seconds", type=float, default=12.0)
    p.add_argument("--refresh-seconds", type=int, default=2, help="NTPD_REFRESH_SECONDS of the app under test")
    p.add_argument("--timeout", type=float, default=60.0, help="longest wait for the map to draw (s)")
    p.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "ntpd-bench-ui-cache",
                   help="boundaries and locator built once, copied into each run's temporary data dir")
    p.add_argument("--out", type=Path, default=None, help="the results file (default <--results-dir>/ui.json)")
    add_results_dir(p)
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir (store) afterwards")
    p.add_argument("--profile", action="store_true", help="cProfile of one first-load refresh (printed, in the JSON)")
    p.add_argument("--js-profile", action="store_true",
                   help="V8 CPU profile of the last warm load until drawn (self time by script and function)")


def run(args: argparse.Namespace) -> int:
    from bench.run import copy_boundaries, machine, results_dir

    out = args.out or results_dir(args) / "ui.json"
    data_dir = Path(tempfile.mkdtemp(prefix="ntpd-bench-ui-"))
    cached = args.cache_dir / "boundaries"
    if cached.is_dir():
        shutil.copytree(cached, data_dir / "boundaries")
    else:  # the app's own cache (<NTPD_DATA_DIR>/boundaries), when it has the region
        copy_boundaries(args.region, data_dir)
    try:
        runtime = make_runtime(data_dir, args.region, args.refresh_seconds)
        t = time.perf_counter()
        runtime.region  # noqa: B018 - build (or load) boundaries and the locator before anything is timed
        runtime.locator  # noqa: B018
        say(f"region {args.region} and locator ready in {time.perf_counter() - t:.1f} s (data dir {data_dir})")
        if not cached.is_dir():
            shutil.copytree(data_dir / "boundaries", cached, dirs_exist_ok=True)

        say(f"filling the store: {args.stored:,} incidents, {args.window_n:,} in the last 24 h")
        store_info = fill_store(runtime, args.stored, args.window_n)
        say(f"store filled in {store_info['write_s']} s")
        account = make_operator(runtime)  # before create_app: no bootstrap admin is made beside it
        now = int(time.time())
        expected = runtime.store.count_incidents(window_query(runtime, now))
        if expected != args.window_n:
            raise SystemExit(f"{expected:,} incidents in the 24 h window, expected {args.window_n:,}")

        say(f"server time: {args.runs} requests of each kind to the refresh callback, in process")
        with instrumented(runtime):
            from ntpd_map.factory import create_app

            page = InProcessPage(create_app(runtime=runtime), account)
            server, first_sync = server_times(page, args.runs, args.profile)
        say(f"first-load full refresh p95 {server['first_load']['total']['p95_ms']} ms")
        if args.profile:
            print(server["profile_first_load"], flush=True)

        browser = browser_phase(runtime, account, expected, args.new_n, args.stored, args.warm_loads,
                                args.idle_seconds, args.timeout, js_profile=args.js_profile)
        new = browser.get("new")
        if new and new.get("inserted"):
            version_before = new["version_before"]
        else:  # the page never got that far: write the new incidents here, for the Patch path's server time
            from ntpd_map.ingest.write import write_incidents

            version_before = runtime.store.data_version()
            write_incidents(runtime.store, runtime.locator, new_incidents(runtime, args.new_n, args.stored))
        with instrumented(runtime):  # a page that saw everything up to version_before, ticking
            server["patch"] = time_requests(page, args.runs, lambda: {**first_sync, "version": version_before,
                                                                      "full_at": int(time.time())})

        result = {
            "machine": machine(),
            "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "region": args.region,
            "new_n": args.new_n,
            "refresh_seconds": args.refresh_seconds,
            "timeout_s": args.timeout,
            "viewport": list(VIEWPORT),
            "store": {**store_info, "store_bytes": sum(f.stat().st_size for f in data_dir.glob("ntpd.sqlite*"))},
            "server": server,
            "browser": browser,
        }
        result["table"] = table(result)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=str))
        say(f"wrote {out}")
        print(result["table"], flush=True)
        runtime.store.close()
        return 0
    finally:
        if args.keep:
            say(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
