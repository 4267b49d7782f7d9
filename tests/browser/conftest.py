"""The real app in a background thread, headless Chromium driving it, and helpers to read what a person sees.

One app per session: building TTU's boundaries, the locator and the SIMULATED scenario takes ~20 s, so every
test shares it (and its store). Each test gets its own browser, so logs, timings and screenshots are its own.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import pytest

from tests.browser.leaflet_hook import RECORD_MAPS_JS
from tests.conftest import ROOT, missing

if TYPE_CHECKING:
    import pandas as pd
    from selenium.webdriver.chrome.webdriver import WebDriver

    from ntpd_map.runtime import Runtime
    from ntpd_map.store.model import IncidentQuery

T = TypeVar("T")

ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path(os.environ.get("NTPD_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("NTPD_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"))
VIEWPORT = (1600, 900)
LOCAL_HOST = "127.0.0.1"

#: Runs in every page before its own scripts. It records each Leaflet map when it is created (Leaflet's public
#: ``addInitHook``; dash-leaflet publishes Leaflet as ``window.L`` but keeps the map instance inside React),
#: so tests can count what the map draws: markers on a canvas (``preferCanvas``) are not DOM elements.
#: The resource-timing buffer is raised from its default 250 entries: pages poll every 2 s.
INIT_SCRIPT = """
(function () {
  performance.setResourceTimingBufferSize(10000);
__RECORD_MAPS__})();
""".replace("__RECORD_MAPS__", RECORD_MAPS_JS)

#: What the incidents layer draws on the map with container id arguments[0]: clusters with their counts, single
#: points, and the cluster icons in the DOM. Incident features carry `ct` (call type); responders and boundaries
#: do not.
DRAWN_INCIDENTS_JS = """
var el = document.getElementById(arguments[0]);
var map = (window.__ntpdMaps || []).filter(function (m) { return m.getContainer() === el; })[0];
if (!map) { return null; }
var out = {clusters: 0, clustered: 0, points: [], popups: 0};
map.eachLayer(function (layer) {
  var p = layer.feature && layer.feature.properties;
  if (!p) { return; }
  if (p.cluster && p.point_count) {
    out.clusters += 1;
    out.clustered += p.point_count;
  } else if ("ct" in p) {
    var ll = layer.getLatLng();
    out.points.push({id: p.id, lat: ll.lat, lon: ll.lng, ct: p.ct, fillOpacity: layer.options.fillOpacity});
    if (layer.getPopup && layer.getPopup()) { out.popups += 1; }
  }
});
out.total = out.clustered + out.points.length;
out.zoom = map.getZoom();
out.center = map.getCenter();
out.icons = Array.prototype.map.call(el.querySelectorAll(".ntpd-cluster"), function (e) { return e.textContent; });
out.genuine = Array.prototype.map.call(el.querySelectorAll(".ntpd-cluster"), function (e) {
  return [parseInt(e.firstChild.getAttribute("data-genuine"), 10), e.classList.contains("ntpd-cluster-genuine")];
});
return out;
"""

#: What a person sees of the map with container id arguments[0]: the container's real size, the size Leaflet
#: believes it has (they differ when the container changed size and Leaflet was not told), and the corners of
#: the visible area, computed from the container's real size.
MAP_VIEW_JS = """
var el = document.getElementById(arguments[0]);
var map = (window.__ntpdMaps || []).filter(function (m) { return m.getContainer() === el; })[0];
if (!map) { return null; }
var nw = map.containerPointToLatLng([0, 0]), se = map.containerPointToLatLng([el.clientWidth, el.clientHeight]);
return {element: [el.clientWidth, el.clientHeight], leaflet: [map.getSize().x, map.getSize().y],
        north: nw.lat, west: nw.lng, south: se.lat, east: se.lng, zoom: map.getZoom()};
"""

_CALL_FAILED = pytest.StashKey[bool]()


#: accounts the live app has, one per role (name -> role); all share PASSWORD
ACCOUNTS = {"operator-uji": "operator", "planner-uji": "planner", "admin-uji": "admin", "dinding-uji": "wall"}
PASSWORD = "kata-sandi-uji-112"
#: which account a test's browser signs in as for a page, unless it signs in itself (``Browser.login``)
DEFAULT_ACCOUNT = {"/": "operator-uji", "/analitik": "planner-uji", "/cakupan": "planner-uji"}


@dataclass(frozen=True)
class LiveApp:
    """The app under test: where it answers, the Runtime it serves (its store, region and locator), and the
    wall display token walls open it with."""

    base_url: str
    runtime: Runtime
    display_token: str = ""

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def count(self, window_s: int, t_from: int, t_to: int, **filters: Any) -> tuple[int, int]:
        """Bounds of what a page may show for a window ending 'now' somewhere in [t_from, t_to].

        The window's start moves with time, so an incident can slide out while a test runs: the count at
        t_to is the least, at t_from the most. Both include everything received up to t_to.
        """
        from ntpd_map.store.model import IncidentQuery

        store = self.runtime.store
        least = store.count_incidents(IncidentQuery(start=t_to - window_s, end=t_to + 1, **filters))
        most = store.count_incidents(IncidentQuery(start=t_from - window_s, end=t_to + 1, **filters))
        return least, most

    def located(self, query: IncidentQuery) -> int:
        """Incidents of a query that have coordinates (the ones the map can draw)."""
        frame = self.runtime.store.incidents(query)
        return int((frame["lat"].notna() & frame["lon"].notna()).sum())

    def write_incident(self, **overrides: Any) -> pd.Series:
        """Write one incident the way ingest does (located by the app's own locator); return the stored row.

        Defaults: a genuine, open fire call at a point in Kota Kefamenanu (TTU), received now.
        """
        import pandas as pd

        from ntpd_map.domain import INCIDENT_COLUMNS
        from ntpd_map.ingest.write import write_incidents
        from ntpd_map.store.model import IncidentQuery

        row: dict[str, Any] = dict.fromkeys(INCIDENT_COLUMNS)
        row.update(source="test-browser", external_id=uuid.uuid4().hex, received_at=int(time.time()),
                   call_type="genuine", category="fire", outcome="open", lat=-9.45, lon=124.48,
                   location_source="gps", flags=0, simulated=False, attrs={})
        row.update(overrides)
        result = write_incidents(self.runtime.store, self.runtime.locator,
                                 pd.DataFrame([row], columns=list(INCIDENT_COLUMNS)))
        assert result.inserted == 1, f"the test incident was not inserted: {result}"
        at = int(row["received_at"])
        stored = self.runtime.store.incidents(IncidentQuery(start=at, end=at + 1))
        match = stored[(stored["source"] == row["source"]) & (stored["external_id"] == row["external_id"])]
        assert len(match) == 1, f"the test incident {row['external_id']} cannot be read back"
        return match.iloc[0]


@dataclass(frozen=True)
class DashUpdate:
    """One POST /_dash-update-component, from the browser's network log."""

    request_id: str
    output: str  # e.g. "..layer-incidents.data...ops-counters.children..."
    status: int | None  # None while no response has arrived


class Browser:
    """A Chromium page on the app, with helpers that read what a person sees and what crossed the network."""

    def __init__(self, driver: WebDriver, app: LiveApp, test_name: str) -> None:
        self.driver = driver
        self.app = app
        self.test_name = test_name
        self.account: str | None = None  # who this browser signed in as
        self._console: list[dict[str, Any]] = []
        self._network: list[dict[str, Any]] = []

    # navigation and waiting ------------------------------------------------------------------------------
    def open(self, path: str = "/") -> None:
        """Open a page as a person would: a wall with its display token in the URL; any other page signed in
        (through the sign-in form) as the page's usual role, unless this browser signed in already."""
        route = urlsplit(path).path.rstrip("/") or "/"
        if route == "/wall" and self.account is None and "token=" not in path:
            path += ("&" if "?" in path else "?") + f"token={self.app.display_token}"
        elif route != "/wall" and self.account is None:
            self.login(DEFAULT_ACCOUNT.get(route, "admin-uji"))
        self.driver.get(self.app.url(path))

    def login(self, account: str, password: str = PASSWORD) -> None:
        """Sign in through the real sign-in page (typing into its form) and land on the account's page."""
        from selenium.webdriver.common.by import By

        self.driver.get(self.app.url("/login"))
        self.driver.find_element(By.ID, "username").send_keys(account)
        self.driver.find_element(By.ID, "password").send_keys(password)
        self.driver.find_element(By.ID, "login-submit").click()
        self.wait(lambda: "/login" not in self.driver.current_url, 15, f"signing in as {account} failed")
        self.account = account

    def resize(self, width: int, height: int) -> None:
        """Set the viewport (what a screenshot shows) to exactly width x height CSS pixels."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def wait(self, condition: Callable[[], T | None], timeout: float = 10, message: str = "") -> T:
        """Poll `condition` until it returns something truthy; fail with `message` after `timeout` s."""
        from selenium.common.exceptions import (
            JavascriptException,
            NoSuchElementException,
            StaleElementReferenceException,
        )
        from selenium.webdriver.support.wait import WebDriverWait

        ignored = (NoSuchElementException, StaleElementReferenceException, JavascriptException)
        result = WebDriverWait(self.driver, timeout, poll_frequency=0.2, ignored_exceptions=ignored).until(
            lambda _driver: condition(), message)
        assert result is not None  # until() returns only a truthy result
        return result

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    # what the page shows ---------------------------------------------------------------------------------
    def text(self, element_id: str) -> str | None:
        """textContent of an element by id, None when absent (read in one step: Dash re-renders often)."""
        return self.js("var e = document.getElementById(arguments[0]); return e ? e.textContent : null;",
                       element_id)

    def counters(self) -> list[str | None]:
        """The five headline counters of the operations page (ids counter-0..counter-4)."""
        return self.js("return [0, 1, 2, 3, 4].map(function (i) {"
                       " var e = document.getElementById('counter-' + i); return e ? e.textContent : null; });")

    def drawn_incidents(self, map_id: str) -> dict[str, Any]:
        drawn = self.js(DRAWN_INCIDENTS_JS, map_id)
        assert drawn is not None, f"no Leaflet map was created in #{map_id} (INIT_SCRIPT's hook saw none)"
        return drawn

    def wait_drawn(self, map_id: str, window_s: int, t_from: int, timeout: float = 15,
                   **filters: Any) -> dict[str, Any]:
        """Wait until the map draws every located incident of a window that ended 'now' at some moment since
        t_from (clusters count their points), and has come to rest: the first fit flies to the incidents and
        re-clusters where it lands. Returns what is drawn."""
        from ntpd_map.store.model import IncidentQuery

        def complete() -> dict[str, Any] | None:
            now = int(time.time())
            drawn = self.drawn_incidents(map_id)
            least = self.app.located(IncidentQuery(start=now - window_s, end=now + 1, **filters))
            most = self.app.located(IncidentQuery(start=t_from - window_s, end=now + 1, **filters))
            return drawn if least <= drawn["total"] <= most and drawn["total"] > 0 else None

        seen: list[dict[str, Any]] = []

        def at_rest() -> dict[str, Any] | None:
            drawn = complete()
            same = drawn is not None and bool(seen) and drawn == seen[-1]
            seen.append(drawn or {})
            return drawn if same and drawn and len(drawn["icons"]) == drawn["clusters"] else None

        self.wait(complete, timeout, f"#{map_id} never drew the located incidents of the window ({filters})")
        return self.wait(at_rest, 10, f"#{map_id} never came to rest with every incident drawn")

    def click_map(self, map_id: str, lat: float, lon: float, top: str = "CANVAS") -> None:
        """A real mouse click on the map at a coordinate (what a dispatcher does to pick a marker); ``top``: what
        must lie on top there (the canvas of the incident layers; an open emergency's mark covers it)."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By

        x, y, width, height, target = self.js(
            "var el = document.getElementById(arguments[0]);"
            "var map = window.__ntpdMaps.filter(function (m) { return m.getContainer() === el; })[0];"
            "var p = map.latLngToContainerPoint([arguments[1], arguments[2]]), r = el.getBoundingClientRect();"
            "var top = document.elementFromPoint(r.left + p.x, r.top + p.y);"
            "return [p.x, p.y, el.clientWidth, el.clientHeight, top ? top.tagName + '.' + top.className : null];",
            map_id, lat, lon)
        assert target and target.startswith(top), f"not {top} but {target} lies on top at ({lat}, {lon})"
        element = self.driver.find_element(By.ID, map_id)
        ActionChains(self.driver).move_to_element_with_offset(
            element, int(x - width / 2), int(y - height / 2)).click().perform()

    def map_view(self, map_id: str) -> dict[str, Any]:
        view = self.js(MAP_VIEW_JS, map_id)
        assert view is not None, f"no Leaflet map was created in #{map_id} (INIT_SCRIPT's hook saw none)"
        return view

    def list_rows(self, limit: int = 5) -> list[dict[str, Any]]:
        """The first rows of the incident list (#ops-list), as shown: time, what, outcome, where, and whether
        the row is marked genuine / active."""
        return self.js("""
            var rows = [], bodies = document.querySelectorAll('#ops-list .row-body');
            function text(el, cls) { var e = el.querySelector('.' + cls); return e ? e.textContent.trim() : null; }
            for (var i = 0; i < bodies.length && rows.length < arguments[0]; i++) {
              var b = bodies[i];
              rows.push({time: text(b, 'when'), what: text(b, 'what'), outcome: text(b, 'out'),
                         where: text(b, 'where'), genuine: b.classList.contains('genuine'),
                         active: b.classList.contains('active')});
            }
            return rows;""", limit)

    def list_length(self) -> int:
        return int(self.js("return document.querySelectorAll('#ops-list .row-body').length;"))

    def layer_data(self, layer_key: str) -> dict[str, Any] | None:
        """The GeoJSON the browser holds for a layer, as Dash's renderer has it (after any Patch); geobuf
        (base64, format="geobuf") is decoded."""
        data = self.js("var api = window.dash_component_api; var l = api && api.getLayout(arguments[0]);"
                       " return l ? l.props.data : null;", f"layer-{layer_key}")
        return geojson_from_layer_data(data)

    def resource_urls(self) -> list[str]:
        return self.js("return performance.getEntriesByType('resource').map(function (e) { return e.name; });")

    # logs ------------------------------------------------------------------------------------------------
    def console(self) -> list[dict[str, Any]]:
        """Every browser console entry of this test so far (Chrome hands each one out once: kept here)."""
        self._console.extend(self.driver.get_log("browser"))
        return list(self._console)

    def forget_console(self) -> None:
        """Drop the console entries so far (after a request a test made fail on purpose)."""
        self.console()
        self._console.clear()

    def assert_console_clean(self) -> None:
        """No SEVERE console entry, except failed loads from other hosts (there is no internet here)."""
        errors = []
        for entry in self.console():
            if entry["level"] != "SEVERE":
                continue
            if entry.get("source") == "network":
                host = urlsplit(entry["message"].split(" ", 1)[0]).hostname
                if host and host != LOCAL_HOST:
                    continue
            errors.append(entry["message"])
        assert not errors, "browser console errors:\n" + "\n".join(errors)

    def network(self) -> list[dict[str, Any]]:
        """DevTools network events of this test so far ({'method': ..., 'params': ...}), oldest first."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"].startswith("Network."):
                self._network.append(message)
        return list(self._network)

    def mark(self) -> int:
        """A point in the network log: dash_updates(since=mark) sees only requests sent after it."""
        return len(self.network())

    def dash_updates(self, since: int = 0) -> list[DashUpdate]:
        events = self.network()
        sent: dict[str, str] = {}
        for event in events[since:]:
            params = event["params"]
            if (event["method"] == "Network.requestWillBeSent"
                    and "/_dash-update-component" in params["request"]["url"]):
                sent[params["requestId"]] = _post_output(params["request"])
        status: dict[str, int] = {}
        for event in events:
            if event["method"] == "Network.responseReceived" and event["params"]["requestId"] in sent:
                status[event["params"]["requestId"]] = int(event["params"]["response"]["status"])
        return [DashUpdate(rid, output, status.get(rid)) for rid, output in sent.items()]

    def response_body(self, request_id: str) -> str:
        import base64

        body = self.driver.execute_cdp_cmd("Network.getResponseBody", {"requestId": request_id})
        if body.get("base64Encoded"):
            return base64.b64decode(body["body"]).decode("utf-8", "replace")
        return str(body["body"])

    # artifacts -------------------------------------------------------------------------------------------
    def screenshot(self, suffix: str = "", name: str | None = None) -> Path:
        """Save the viewport to artifacts/<test name>[-suffix].png (or artifacts/<name>.png)."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name or self.test_name + (f'-{suffix}' if suffix else '')}.png"
        self.driver.save_screenshot(str(path))
        return path


def geojson_from_layer_data(data: Any) -> Any:
    """A layer's `data` as GeoJSON: dash-leaflet takes a FeatureCollection, or base64 geobuf as a string."""
    if isinstance(data, str):
        import base64

        import geobuf

        return geobuf.decode(base64.b64decode(data))
    return data


def _post_output(request: dict[str, Any]) -> str:
    raw = request.get("postData")
    if raw is None:  # newer Chrome may send the body only as postDataEntries (base64)
        import base64

        raw = "".join(base64.b64decode(e.get("bytes", "")).decode("utf-8", "replace")
                      for e in request.get("postDataEntries", []))
    try:
        return str(json.loads(raw).get("output", ""))
    except ValueError:
        return ""


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory, mirror_dirs: list[Path]) -> Iterator[LiveApp]:
    """The real app (create_app) on 127.0.0.1 and a free port, with an empty store in a temporary folder:
    create_app loads the SIMULATED scenario for TTU (53.03)."""
    from werkzeug.serving import make_server

    from ntpd_map.config import Settings
    from ntpd_map.factory import create_app
    from ntpd_map.runtime import Runtime

    mirror = next(d for d in mirror_dirs if (d / "wilayah_boundaries").is_dir())
    settings = Settings.from_env(
        NTPD_DATA_DIR=str(tmp_path_factory.mktemp("ntpd-data")),
        NTPD_TILE_URL="",  # no internet here: no basemap, so no tile request is ever made
        NTPD_REFRESH_SECONDS="2",
        NTPD_WALL_ROTATE_SECONDS="4",
        NTPD_REGION="53.03",
        # pinned so a developer's environment cannot change what the tests see or where they write
        NTPD_DATABASE_URL="",
        NTPD_MIRROR_DIR=str(mirror),
        NTPD_ALLOW_DOWNLOAD="0",
        NTPD_SIMULATE="auto",
        NTPD_LANG="id",
        NTPD_TZ="",
    )
    runtime = Runtime(settings)
    app = create_app(runtime=runtime)
    from ntpd_map.access import displays, users

    for name, role in ACCOUNTS.items():
        users.add_user(runtime.store, name, role, PASSWORD, actor="test")
    _token_id, display_token = displays.create_display_token(runtime.store, "layar-uji", actor="test")
    server = make_server(LOCAL_HOST, 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="ntpd-live-app", daemon=True)
    thread.start()
    try:
        yield LiveApp(base_url=f"http://{LOCAL_HOST}:{server.server_port}", runtime=runtime,
                      display_token=display_token)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        runtime.store.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":  # type: ignore[attr-defined]
        item.stash[_CALL_FAILED] = report.failed  # type: ignore[attr-defined]
    return report


@pytest.fixture(scope="session")
def chromium() -> tuple[Path, Path]:
    """Chromium and its driver, checked before the app is built (no point building it without them)."""
    if not CHROMIUM.is_file():
        missing(f"Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)")
    if not CHROMEDRIVER.is_file():
        missing(f"chromedriver not found at {CHROMEDRIVER} (Debian: apt-get install chromium-driver)")
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture
def browser(request: pytest.FixtureRequest, chromium: tuple[Path, Path], live_app: LiveApp) -> Iterator[Browser]:
    """Headless Chromium with a 1600x900 viewport, console and network logs captured. A failing test leaves
    artifacts/<test name>-failure.png."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium[0])
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1920,1200",
                # as a wall kiosk is started (README): the new-emergency sound plays without a first click
                "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(chromium[1])))
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": INIT_SCRIPT})
        page = Browser(driver, live_app, request.node.name)
        for stale in ARTIFACTS.glob(f"{page.test_name}*.png"):  # left by an earlier run
            stale.unlink()
        page.resize(*VIEWPORT)
        yield page
        if request.node.stash.get(_CALL_FAILED, False):
            page.screenshot("failure")
    finally:
        driver.quit()
