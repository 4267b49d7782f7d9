"""Responders on the map (issue 6) in headless Chromium: units drawn by kind, stale ones greyed with their age,
offline ones faint; a click shows a unit's panel and its last 30 minutes; the status buttons change the store
and the map; a selected incident lists its nearest available units; a report sent exactly as Traccar Client
sends it moves the unit within one refresh, on the ops page and on the wall.

The app is shared by the whole session, and its simulated units reported when it started: their ages grow
while the tests run. So each test registers its own units with positions at known ages, and what the page shows
of the simulated ones is checked against the store at the moment it is read.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By

from layers.responders import (
    KIND_GLYPHS,
    LABEL_ZOOM,
    WALL_NAMED_STATUSES,
    WALL_PROPERTIES,
)
from ntpd_map.domain import AgencyKind, ResponderPosition, Unit, UnitStatus
from ntpd_map.geo.responders import Staleness, nearest_available, responder_features
from ntpd_map.store.model import StoreUnavailable
from ntpd_map.views import nearest_rows

if TYPE_CHECKING:
    from tests.browser.conftest import Browser, LiveApp

pytestmark = pytest.mark.browser

WITA = ZoneInfo("Asia/Makassar")
REFRESH_S = 2  # NTPD_REFRESH_SECONDS of the live app (tests/browser/conftest.py)
#: "Within one refresh": the next tick, plus the callback, the round trip and the redraw.
ONE_REFRESH_S = REFRESH_S + 2.5

#: Every responder marker on the map with container id arguments[0], as a person sees it: where it is, its
#: classes (ntpd-unit-live|stale|offline, -selected), glyph, fill, badge, name label, status dot, heading arrow.
#: Responder features are the ones with a `kind`; incidents carry `ct`, tracks and lines neither.
DRAWN_UNITS_JS = """
var el = document.getElementById(arguments[0]);
var map = (window.__ntpdMaps || []).filter(function (m) { return m.getContainer() === el; })[0];
if (!map) { return null; }
var units = [];
map.eachLayer(function (layer) {
  var p = layer.feature && layer.feature.properties;
  if (!p || !("kind" in p) || !layer.getElement || !layer.getElement()) { return; }
  var icon = layer.getElement(), ll = layer.getLatLng();
  function find(sel) { return icon.querySelector(sel); }
  var b = find("b"), em = find("em"), name = find(".ntpd-unit-name"), arrow = find(".ntpd-heading");
  var style = b ? getComputedStyle(b) : null;
  units.push({unit: p.unit, device: p.device || null, state: p.state, status: p.status, kind: p.kind,
              lat: ll.lat, lon: ll.lng, classes: icon.className, title: icon.getAttribute("title"),
              glyph: b ? b.textContent : null, fill: style ? style.backgroundColor : null,
              ink: style ? style.color : null, border: style ? style.borderTopStyle : null,
              shape: style ? style.clipPath : null,
              opacity: parseFloat(getComputedStyle(icon).opacity),
              badge: em ? em.textContent : null, name: name ? name.textContent : null,
              arrow: arrow ? arrow.style.transform : null});
});
return {units: units, zoom: map.getZoom()};
"""

#: The vector layers of the track and the nearest-unit lines, as drawn: their features' properties and the
#: number of points of each line.
DRAWN_LINES_JS = """
var el = document.getElementById(arguments[0]);
var map = (window.__ntpdMaps || []).filter(function (m) { return m.getContainer() === el; })[0];
var out = [];
map.eachLayer(function (layer) {
  var f = layer.feature;
  if (f && f.geometry && f.geometry.type === "LineString" && layer.getLatLngs) {
    out.push({props: f.properties, points: layer.getLatLngs().map(function (ll) { return [ll.lat, ll.lng]; })});
  }
});
return out;
"""


#: what a unit's legend key looks like (its <b>), by the key's classes: the same styles as the map's markers
LEGEND_MARKS_JS = """
return Array.from(document.querySelectorAll('.legend .unit-key')).map(function (k) {
  var s = getComputedStyle(k.querySelector('b'));
  return {classes: k.className, fill: s.backgroundColor, ink: s.color, border: s.borderTopStyle, shape: s.clipPath,
          label: k.parentElement.textContent.trim()};
});
"""


def achromatic(css_color: str) -> bool:
    """No hue: the red, green and blue of an rgb()/rgba() colour differ by at most 4 of 255."""
    channels = [int(c) for c in re.findall(r"\d+", css_color)[:3]]
    return max(channels) - min(channels) <= 4


def lightness(css_color: str) -> float:
    return sum(int(c) for c in re.findall(r"\d+", css_color)[:3]) / 3


def add_unit(app: LiveApp, device: str, name: str, kind: str, fixes: list[tuple[int, float, float]], *,
             agency: str = "Instansi Uji", status: str = "available", source: str = "osmand",
             speed_kmh: float | None = None, bearing: float | None = None, battery: float | None = None) -> None:
    """Register a unit and store its fixes (recorded_at, lat, lon), as the positions endpoint would."""
    store = app.runtime.store
    store.upsert_units([Unit(device, name, agency, AgencyKind(kind), UnitStatus(status))])
    store.write_positions([ResponderPosition(device, datetime.fromtimestamp(at, UTC), lat, lon, source=source,
                                             speed_kmh=speed_kmh, bearing=bearing, battery=battery)
                           for at, lat, lon in fixes])


def expected_features(app: LiveApp) -> dict[str, dict[str, Any]]:
    """The responder features the store holds now, by device."""
    store, now = app.runtime.store, int(time.time())
    features = responder_features(store.latest_positions(), store.units(), now,
                                  Staleness.from_settings(app.runtime.settings))
    return {f["properties"]["device"]: f for f in features}


def drawn_units(browser: Browser, map_id: str = "ops-map") -> dict[str, Any]:
    drawn = browser.js(DRAWN_UNITS_JS, map_id)
    assert drawn is not None, f"no Leaflet map was created in #{map_id}"
    return drawn


def unit_on_map(browser: Browser, name: str, map_id: str = "ops-map") -> dict[str, Any] | None:
    return next((u for u in drawn_units(browser, map_id)["units"] if u["unit"] == name), None)


def open_ops(browser: Browser, app: LiveApp) -> None:
    """Open the ops page, wait until its first fit has come to rest with the incidents drawn, and until it draws
    every unit the store places."""
    t_load = int(time.time())
    browser.open("/")
    browser.wait(lambda: all(browser.counters()), 20, "the ops page never loaded its counters")
    browser.wait_drawn("ops-map", 86400, t_load)

    def all_units() -> bool:
        drawn = {u["device"] for u in drawn_units(browser)["units"]}
        return drawn == set(expected_features(app))

    browser.wait(all_units, 15, "the map never drew every registered unit that has a position")


def focus(browser: Browser, lat: float, lon: float, zoom: int = 14) -> None:
    """Pan and zoom the ops map to a place, as a dispatcher does before clicking a unit, and lock the view so
    a refresh does not fit it elsewhere."""
    browser.driver.find_element(By.XPATH, "//*[@id='f-lock']//label").click()
    browser.js("var el = document.getElementById('ops-map');"
               "window.__ntpdMaps.filter(function (m) { return m.getContainer() === el; })[0]"
               ".setView([arguments[0], arguments[1]], arguments[2], {animate: false});", lat, lon, zoom)


def click_unit(browser: Browser, name: str) -> None:
    """A real click on a unit's marker (a DOM icon; selenium fails if anything covers it)."""
    browser.wait(lambda: unit_on_map(browser, name), 10, f"{name} is not on the map")
    icon = browser.wait(lambda: browser.driver.find_element(By.CSS_SELECTOR, f"#ops-map .ntpd-unit[title='{name}']"),
                        5, f"no marker titled {name}")
    icon.click()


def panel_rows(browser: Browser) -> dict[str, str] | None:
    """The unit panel's name and rows, None while it is hidden."""
    return browser.js("""
        var panel = document.getElementById('ops-unit');
        if (!panel || panel.classList.contains('hidden') || !panel.offsetParent) { return null; }
        var out = {}, name = panel.querySelector('.unit-name');
        out.name = name ? name.textContent : null;
        panel.querySelectorAll('tr').forEach(function (tr) {
          out[tr.querySelector('th').textContent] = tr.querySelector('td').textContent; });
        return out;""")


def layer_features(browser: Browser, component_id: str) -> list[dict[str, Any]]:
    data = browser.js("var l = window.dash_component_api.getLayout(arguments[0]);"
                      " return l ? l.props.data : null;", component_id)
    return (data or {}).get("features", [])


def send_osmand_query(app: LiveApp, **fields: Any) -> int:
    """GET /api/positions/osmand?... exactly as Traccar Client sends it (query string, no key)."""
    url = app.url("/api/positions/osmand?" + urlencode(fields))
    with urllib.request.urlopen(url, timeout=10) as response:
        return int(response.status)


def send_osmand_json(app: LiveApp, body: dict[str, Any]) -> int:
    """POST /api/positions/osmand with the JSON body newer Traccar Client versions send."""
    request = urllib.request.Request(app.url("/api/positions/osmand"), data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def test_units_drawn_by_kind_stale_greyed_with_age_offline_faint(browser: Browser, live_app: LiveApp) -> None:
    now = int(time.time())
    add_unit(live_app, "test-moving-1", "Ambulans Uji Jalan", "medical", [(now, -9.52, 124.40)],
             speed_kmh=42.0, bearing=90.0)
    add_unit(live_app, "test-stale-1", "Damkar Uji Lama", "fire", [(now - 600, -9.33, 124.62)])
    add_unit(live_app, "test-offline-1", "Patroli Uji Luring", "police", [(now - 2700, -9.60, 124.33)],
             status="returning")
    add_unit(live_app, "test-tracker-1", "Rescue Uji Traccar", "disaster", [(now - 300, -9.38, 124.35)],
             source="traccar")
    open_ops(browser, live_app)
    drawn = drawn_units(browser)
    expected = expected_features(live_app)
    staleness = Staleness.from_settings(live_app.runtime.settings)

    for unit in drawn["units"]:
        props = expected[unit["device"]]["properties"]
        assert unit["kind"] == props["kind"] and unit["glyph"] == KIND_GLYPHS[props["kind"]], unit
        assert unit["title"] == props["unit"]
        # the state drawn is the state the server computed; the state class and fill follow it
        assert f"ntpd-unit-{unit['state']}" in unit["classes"].split(), unit
        # no hue of its own (every hue is an incident category's); the class says the status
        assert achromatic(unit["fill"]) and achromatic(unit["ink"]), unit
        assert f"unit-st-{unit['status']}" in unit["classes"].split(), unit
        if unit["state"] == "live":
            assert unit["badge"] is None and unit["border"] == "solid", unit

    by_name = {u["unit"]: u for u in drawn["units"]}
    moving = by_name["Ambulans Uji Jalan"]
    assert moving["state"] == "live" and moving["status"] == "available"
    assert moving["fill"] == "rgb(255, 255, 255)" and lightness(moving["ink"]) < 60, "available is not white"
    assert moving["arrow"] == "rotate(90deg)", "a live unit moving east has no heading arrow pointing east"

    stale = by_name["Damkar Uji Lama"]
    age_min = (int(time.time()) - (now - 600)) // 60
    assert stale["state"] == "stale" and "ntpd-unit-stale" in stale["classes"]
    assert stale["border"] == "dashed", "a stale unit is not dashed"
    assert stale["glyph"] == "D" and stale["arrow"] is None
    badge = re.fullmatch(r"(\d+) mnt", stale["badge"] or "")
    assert badge and 10 <= int(badge.group(1)) <= age_min, f"stale badge {stale['badge']!r}, age {age_min} min"

    offline = by_name["Patroli Uji Luring"]
    assert offline["state"] == "offline" and "ntpd-unit-offline" in offline["classes"]
    assert re.fullmatch(r"luring (\d+) mnt", offline["badge"] or ""), offline["badge"]
    assert offline["opacity"] < 0.8, "an offline unit is not drawn faint"
    assert offline["fill"].startswith("rgba(") and offline["border"] == "dashed", "an offline unit is not hollow"
    assert "unit-st-returning" in offline["classes"]

    # a Traccar-forwarded unit 5 minutes old is still live (10 minutes for trackers), a phone's is not
    assert staleness.stale_after("traccar") > 300 > staleness.stale_after("osmand")
    assert by_name["Rescue Uji Traccar"]["state"] == "live"

    # names: from zoom LABEL_ZOOM on the ops map
    browser.js("var el = document.getElementById('ops-map');"
               "var m = window.__ntpdMaps.filter(function (m) { return m.getContainer() === el; })[0];"
               "m.setZoom(arguments[0] - 1, {animate: false});", LABEL_ZOOM)
    browser.wait(lambda: all(u["name"] is None for u in drawn_units(browser)["units"]), 5,
                 f"unit names stay below zoom {LABEL_ZOOM}")
    browser.js("var el = document.getElementById('ops-map');"
               "var m = window.__ntpdMaps.filter(function (m) { return m.getContainer() === el; })[0];"
               "m.setZoom(arguments[0], {animate: false});", LABEL_ZOOM)
    browser.wait(lambda: all(u["name"] == u["unit"] for u in drawn_units(browser)["units"]), 5,
                 f"unit names never showed at zoom {LABEL_ZOOM}")

    legend = browser.driver.find_element(By.CSS_SELECTOR, ".legend").text
    for entry in ("Petugas/unit", "A\nMedis/ambulans", "D\nPemadam kebakaran", "garis putus + umur: posisi lama",
                  "pucat berongga: luring", "Dikirim", "Di lokasi", "Tidak bertugas"):
        assert entry in legend, f"{entry!r} missing from the legend: {legend}"
    # the legend draws what the map draws: each unit's look is its status key's look
    keys = browser.js(LEGEND_MARKS_JS)
    def key(*classes: str) -> dict[str, Any]:
        return next(k for k in keys if set(k["classes"].split()) == {"unit-key", *classes})

    for unit in drawn_units(browser)["units"]:
        look = (unit["fill"], unit["ink"], unit["border"], unit["shape"])
        status = key(f"unit-st-{unit['status']}")
        if unit["state"] == "live":
            assert look == (status["fill"], status["ink"], status["border"], status["shape"]), (unit, status)
        elif unit["state"] == "stale":  # its status's fill, the stale key's dashes
            assert look == (status["fill"], status["ink"], key("unit-st-available", "ntpd-unit-stale")["border"],
                            status["shape"]), (unit, status)
        else:
            offline = key("unit-st-available", "ntpd-unit-offline")
            assert look[:3] == (offline["fill"], offline["ink"], offline["border"]), (unit, offline)
    # five statuses, five looks (told apart by fill, ink, border or shape, not by hue)
    statuses = [k for k in keys if not {"ntpd-unit-stale", "ntpd-unit-offline"} & set(k["classes"].split())
                and k["label"] in [UnitStatus(s).label("id") for s in UnitStatus]]
    assert len({(k["fill"], k["ink"], k["border"], k["shape"]) for k in statuses}) == len(UnitStatus), statuses
    browser.screenshot()
    browser.assert_console_clean()


def test_click_on_a_unit_shows_its_panel_and_30_minutes_of_track(browser: Browser, live_app: LiveApp) -> None:
    now = int(time.time())
    path = [(now - 60 * m, round(-9.480 + 0.002 * i, 6), round(124.560 + 0.003 * i, 6))
            for i, m in enumerate((25, 20, 15, 10, 5, 0))]
    old = (now - 40 * 60, -9.470, 124.540)  # older than 30 minutes: not on the track
    add_unit(live_app, "test-track-1", "Ambulans Uji Jejak", "medical", [old, *path], agency="RSUD Uji",
             speed_kmh=30.0, bearing=45.0, battery=64.0)
    open_ops(browser, live_app)
    last_at, last_lat, last_lon = path[-1]
    focus(browser, last_lat, last_lon, 14)
    click_unit(browser, "Ambulans Uji Jejak")

    rows = browser.wait(lambda: panel_rows(browser), 5, "clicking the unit showed no unit panel")
    when = datetime.fromtimestamp(last_at, WITA).strftime("%d/%m %H:%M:%S")
    assert rows["name"] == "Ambulans Uji Jejak"
    assert (rows["Instansi"], rows["Jenis"], rows["Status unit"]) == ("RSUD Uji", "Medis/ambulans", "Siaga")
    assert rows["Sumber posisi"] == "Telepon (Traccar Client)"
    assert re.fullmatch(rf"{when} WITA \((baru saja|1 mnt lalu)\)", rows["Laporan terakhir"]), rows
    assert (rows["Kecepatan"], rows["Baterai"]) == ("30 km/jam", "64%")
    assert rows["Jejak 30 menit"] == "6 titik (garis ungu)"

    # the track: the six fixes of the last 30 minutes, oldest first, drawn as one line
    track = layer_features(browser, "ops-track")
    assert len(track) == 1, track
    assert track[0]["geometry"]["coordinates"] == [[lon, lat] for _, lat, lon in path]
    def drawn_track() -> list[dict[str, Any]]:  # track features carry `fixes`; lines to nearest units do not
        return [x for x in browser.js(DRAWN_LINES_JS, "ops-map") if "fixes" in (x["props"] or {})]

    lines = browser.wait(drawn_track, 5, "no track drawn")
    assert len(lines) == 1 and lines[0]["props"]["device"] == "test-track-1"
    assert [[round(a, 6), round(b, 6)] for a, b in lines[0]["points"]] == [[lat, lon] for _, lat, lon in path]
    selected = unit_on_map(browser, "Ambulans Uji Jejak")
    assert selected and "ntpd-unit-selected" in selected["classes"] and selected["name"] == "Ambulans Uji Jejak"
    browser.screenshot("unit")

    # picking an incident instead clears the unit: no panel, no track, the incident's details
    browser.driver.find_elements(By.CSS_SELECTOR, "#ops-list .row-body")[0].click()
    browser.wait(lambda: panel_rows(browser) is None, 5, "the unit panel stayed after picking an incident")
    browser.wait(lambda: not layer_features(browser, "ops-track"), 5, "the track stayed after picking an incident")
    assert not drawn_track(), "the track is still drawn"
    browser.wait(lambda: "Jenis panggilan" in (browser.text("ops-details") or ""), 5, "no incident details")
    assert "ntpd-unit-selected" not in (unit_on_map(browser, "Ambulans Uji Jejak") or {}).get("classes", "")
    browser.assert_console_clean()


def test_status_buttons_change_the_store_and_the_map(browser: Browser, live_app: LiveApp) -> None:
    now = int(time.time())
    add_unit(live_app, "test-status-1", "Patroli Uji Status", "police", [(now, -9.56, 124.62)])
    store = live_app.runtime.store

    def status_in_store() -> str:
        units = store.units()
        return str(units.loc[units["device_id"] == "test-status-1", "status"].iloc[0])

    open_ops(browser, live_app)
    focus(browser, -9.56, 124.62, 14)
    click_unit(browser, "Patroli Uji Status")
    browser.wait(lambda: (panel_rows(browser) or {}).get("Status unit") == "Siaga", 5, "no panel")

    def current_button() -> str:
        return browser.driver.find_element(By.CSS_SELECTOR, "#ops-unit .unit-status.current").text

    assert current_button() == "Siaga"
    mark = browser.mark()
    browser.driver.find_element(By.ID, "ops-unit-status-dispatched").click()
    browser.wait(lambda: status_in_store() == "dispatched", 5, "the status never reached the store")
    browser.wait(lambda: "unit-st-dispatched" in (unit_on_map(browser, "Patroli Uji Status") or {}).get(
                 "classes", "").split(), 5, "the map does not show the unit as dispatched")
    assert lightness(unit_on_map(browser, "Patroli Uji Status")["fill"]) < 40, "a dispatched unit is not black"
    browser.wait(lambda: (panel_rows(browser) or {}).get("Status unit") == "Dikirim", 5, "the panel kept Siaga")
    assert current_button() == "Dikirim"
    assert (browser.text("ops-unit-msg") or "").startswith("Status disimpan: Dikirim")
    # at once: the response to the click itself carries the layer with the new status (not the next tick)
    answers = [json.loads(browser.response_body(u.request_id)) for u in browser.dash_updates(since=mark)
               if "ops-unit-rev.data" in u.output and u.status == 200]  # the status callback's answers
    assert answers, "no answer to the status click"
    assert "layer-responders" in answers[0]["response"], "the status click did not redraw the units at once"
    sent = {f["properties"]["device"]: f["properties"]["status"]
            for f in answers[0]["response"]["layer-responders"]["data"]["features"]}
    assert sent["test-status-1"] == "dispatched"

    # the store down: a clear message, the status unchanged, no traceback
    def unavailable(*_args: Any) -> Any:
        raise StoreUnavailable("test")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "set_unit_status", unavailable)
        browser.driver.find_element(By.ID, "ops-unit-status-on_scene").click()
        browser.wait(lambda: "BELUM tersimpan" in (browser.text("ops-unit-msg") or ""), 5,
                     "no message when the status could not be saved")
        assert browser.text("ops-unit-msg") == "Basis data tidak terjangkau - status BELUM tersimpan. Coba lagi."
        assert current_button() == "Dikirim"
        patch.setattr(store, "units", unavailable)
        browser.wait(lambda: "tidak dapat dibaca" in (browser.text("ops-unit-info") or ""), 5,
                     "the panel does not say the store is down")
        assert "Traceback" not in browser.driver.page_source
        browser.screenshot("down")
    assert status_in_store() == "dispatched"
    browser.wait(lambda: (panel_rows(browser) or {}).get("Status unit") == "Dikirim", 10,
                 "the panel did not come back with the store")

    browser.driver.find_element(By.ID, "ops-unit-status-available").click()
    browser.wait(lambda: status_in_store() == "available", 5, "setting it back to available failed")
    browser.wait(lambda: (unit_on_map(browser, "Patroli Uji Status") or {}).get("fill") == "rgb(255, 255, 255)", 5,
                 "the unit stayed black after it became available")
    browser.driver.find_element(By.ID, "ops-unit-close").click()
    browser.wait(lambda: panel_rows(browser) is None, 5, "the close button left the panel open")
    browser.assert_console_clean()


def test_selected_incident_lists_the_nearest_available_units(browser: Browser, live_app: LiveApp) -> None:
    now = int(time.time())
    # two units near the incident: one available, one busy (never proposed)
    add_unit(live_app, "test-near-1", "Ambulans Uji Dekat", "medical", [(now, -9.455, 124.485)])
    add_unit(live_app, "test-near-busy", "Damkar Uji Sibuk", "fire", [(now, -9.451, 124.481)], status="on_scene")
    # a medical call: ambulances are proposed first (NTPD_DISPATCH_KINDS), then the others, nearest first
    incident = live_app.write_incident(source="test-nearest", category="medical", lat=-9.45, lon=124.48)
    when = datetime.fromtimestamp(int(incident["received_at"]), WITA).strftime("%d/%m %H:%M")
    open_ops(browser, live_app)
    browser.wait(lambda: (browser.list_rows(1) or [{}])[0].get("time") == when, 10, "the incident is not on top")

    def expected() -> list[dict[str, str]]:
        features = list(expected_features(live_app).values())
        needs = live_app.runtime.settings.dispatch_kinds["medical"]
        return nearest_rows(nearest_available(features, -9.45, 124.48, kinds=needs), "id")

    before = expected()
    browser.driver.find_elements(By.CSS_SELECTOR, "#ops-list .row-body")[0].click()

    def listed() -> list[dict[str, str]] | None:
        return browser.js("""
            var items = document.querySelectorAll('#ops-nearest li');
            if (!items.length) { return null; }
            return Array.prototype.map.call(items, function (li) {
              function text(cls) { var e = li.querySelector('.' + cls); return e ? e.textContent : ''; }
              return {device: li.getAttribute('data-device'), unit: text('n-unit'), distance: text('n-dist'),
                      eta: text('n-eta'), stale: text('n-stale')};
            });""")

    shown = browser.wait(listed, 5, "no nearest units listed for the selected incident")
    after = expected()
    trimmed = [{k: r[k] for k in ("device", "unit", "distance", "eta", "stale")} for r in before], \
              [{k: r[k] for k in ("device", "unit", "distance", "eta", "stale")} for r in after]
    assert shown in trimmed, f"shown {shown}\nexpected {trimmed[0]}\nor {trimmed[1]}"
    assert 1 <= len(shown) <= 5
    assert shown[0]["unit"] == "Ambulans Uji Dekat" and shown[0]["distance"] == "0,8 km", shown[0]
    assert shown[0]["eta"] == "± 2 mnt"
    assert "Damkar Uji Sibuk" not in [r["unit"] for r in shown], "a unit on scene was proposed"
    assert all(re.fullmatch(r"\d+,\d km", r["distance"]) for r in shown), shown
    text = browser.text("ops-nearest") or ""
    assert text.startswith("Unit terdekat yang siagaLebih dulu yang dibutuhkan: Medis/ambulans"), text
    assert "Jarak garis lurus; perkiraan waktu tiba = jarak x 1,5 pada 40 km/jam." in text

    # thin lines from the incident to each of them
    lines = browser.wait(lambda: layer_features(browser, "ops-nearest-lines"), 5, "no lines to the nearest units")
    assert [f["properties"]["device"] for f in lines] == [r["device"] for r in shown]
    assert all(f["geometry"]["coordinates"][0] == [124.48, -9.45] for f in lines)
    browser.screenshot()
    browser.assert_console_clean()


def test_traccar_client_report_moves_the_unit_within_one_refresh(browser: Browser, live_app: LiveApp) -> None:
    open_ops(browser, live_app)
    start = browser.wait(lambda: unit_on_map(browser, "Ambulans RSUD TTU 1"), 5, "sim-medical-1 is not drawn")
    assert start["device"] == "sim-medical-1"
    lat, lon = round(start["lat"] + 0.01, 5), round(start["lon"] + 0.012, 5)
    sent_at = time.monotonic()
    status = send_osmand_query(live_app, id="sim-medical-1", lat=lat, lon=lon, timestamp=int(time.time()),
                               speed=20, bearing=135, altitude=310, accuracy=8, batt=80)
    assert status == 200

    def moved() -> dict[str, Any] | None:
        unit = unit_on_map(browser, "Ambulans RSUD TTU 1")
        return unit if unit and (round(unit["lat"], 5), round(unit["lon"], 5)) == (lat, lon) else None

    unit = browser.wait(moved, ONE_REFRESH_S, f"the unit did not move within one refresh ({REFRESH_S} s)")
    elapsed = time.monotonic() - sent_at
    assert unit["state"] == "live" and "ntpd-unit-live" in unit["classes"]
    assert unit["arrow"] == "rotate(135deg)" and unit["badge"] is None  # moving at 20 knots, heading SE
    feature = next(f for f in layer_features(browser, "layer-responders")
                   if f["properties"]["device"] == "sim-medical-1")
    assert feature["properties"]["speed_kmh"] == 37  # 20 kn = 37 km/h
    latest = live_app.runtime.store.latest_positions().set_index("device_id").loc["sim-medical-1"]
    assert latest["battery"] == 80 and latest["source"] == "osmand"
    browser.assert_console_clean()
    print(f"moved on the map {elapsed:.1f} s after the report")


def test_wall_shows_moves_within_one_refresh_and_nothing_personal(browser: Browser, live_app: LiveApp) -> None:
    browser.resize(1920, 1080)
    browser.open("/wall")
    browser.wait(lambda: len(browser.js("return document.querySelectorAll('.wall-counter b');")) == 5, 20,
                 "the wall never loaded")
    names = {f["properties"]["unit"] for f in expected_features(live_app).values()}
    browser.wait(lambda: {u["unit"] for u in drawn_units(browser, "wall-map")["units"]} == names, 15,
                 "the wall never drew every unit")
    drawn = drawn_units(browser, "wall-map")
    # the units at work named (the rest would pile up across the room), never a device id, nothing to click
    status = {f["properties"]["unit"]: f["properties"]["status"] for f in expected_features(live_app).values()}
    at_work = {u["unit"] for u in drawn["units"] if status[u["unit"]] in WALL_NAMED_STATUSES}
    assert at_work and len(at_work) < len(drawn["units"])
    assert all(u["name"] == (u["unit"] if u["unit"] in at_work else None) for u in drawn["units"]), drawn["units"]
    assert all(u["device"] is None for u in drawn["units"])
    assert all("ntpd-unit-wall" in u["classes"] for u in drawn["units"])
    assert not browser.driver.find_elements(By.CSS_SELECTOR, "#ops-unit, #ops-track, .unit-status")

    start = next(u for u in drawn["units"] if u["unit"] == "Patroli Polres TTU 1")
    mark = browser.mark()
    for step in (1, 2):  # two moves: at most one can coincide with the wall's periodic full refresh
        lat, lon = round(start["lat"] - 0.01 * step, 5), round(start["lon"] + 0.01 * step, 5)
        stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        status = send_osmand_json(live_app, {
            "device_id": "sim-police-1",
            "location": {"timestamp": stamp, "is_moving": True, "odometer": 1200 * step,
                         "coords": {"latitude": lat, "longitude": lon, "accuracy": 6, "speed": 10.0,
                                    "heading": 180, "altitude": 300},
                         "battery": {"level": 0.7, "is_charging": False}, "activity": {"type": "in_vehicle"}},
        })
        assert status == 200

        def moved(lat: float = lat, lon: float = lon) -> bool:
            unit = unit_on_map(browser, "Patroli Polres TTU 1", "wall-map")
            return unit is not None and (round(unit["lat"], 5), round(unit["lon"], 5)) == (lat, lon)

        browser.wait(moved, ONE_REFRESH_S, f"the wall did not show move {step} within one refresh")
        # the next move only after another refresh has been answered, so the two land in different refreshes
        since = browser.mark()

        def refreshed(since: int = since) -> bool:
            return any(u.status for u in browser.dash_updates(since=since) if "wall-counters.children" in u.output)

        browser.wait(refreshed, 10, "the wall stopped polling")

    # a refresh where only units moved sends only the units
    bodies = [json.loads(browser.response_body(u.request_id)) for u in browser.dash_updates(since=mark)
              if "wall-counters.children" in u.output and u.status == 200]
    alone = [b for b in bodies if set(b["response"]) == {"layer-responders", "wall-sync"}]
    assert alone, f"no refresh sent the units alone: {[sorted(b['response']) for b in bodies]}"
    # what the server sent the wall: no device id (a tracker's IMEI), battery, source or report time
    for body in bodies:
        for feature in body["response"].get("layer-responders", {}).get("data", {}).get("features", []):
            assert set(feature["properties"]) == set(WALL_PROPERTIES), feature["properties"]
    browser.screenshot()
    browser.assert_console_clean()


#: the marks of the units titled arguments[1..] on a map: where each is drawn, where its leg (if shown) ends, and
#: the unit's own point on the screen
SPREAD_JS = """
var el = document.getElementById(arguments[0]), names = arguments[1], out = {};
var map = window.__ntpdMaps.filter(function (m) { return m.getContainer() === el; })[0];
map.eachLayer(function (layer) {
  var icon = layer instanceof L.Marker && layer._icon;
  if (!icon || names.indexOf(icon.getAttribute('title')) < 0) { return; }
  var b = icon.querySelector('b').getBoundingClientRect(), box = el.getBoundingClientRect();
  var p = map.latLngToContainerPoint(layer.getLatLng()), leg = icon.querySelector('.ntpd-leg'), end = null;
  if (leg && getComputedStyle(leg).display !== 'none') {
    var angle = parseFloat((leg.style.transform.match(/rotate\\(([-0-9.e]+)rad\\)/) || [0, 0])[1]);
    var len = parseFloat(leg.style.width), cx = (b.left + b.right) / 2, cy = (b.top + b.bottom) / 2;
    end = [cx + len * Math.cos(angle) - box.left, cy + len * Math.sin(angle) - box.top];
  }
  out[icon.getAttribute('title')] = {mark: [b.left, b.top, b.right, b.bottom], leg: end, point: [p.x, p.y]};
});
return out;
"""


def test_units_at_one_spot_are_fanned_out_each_with_a_leg_to_it(browser: Browser, live_app: LiveApp) -> None:
    """Issue 18: two units reporting from one spot (a station) are both seen and clickable: fanned out around it,
    no two marks overlapping, each with a leg that ends at the spot."""
    lat, lon, now = -9.4571, 124.4819, int(time.time())
    names = ["Patroli Uji 1", "Patroli Uji 2", "Ambulans Uji 3"]
    for i, name in enumerate(names):
        add_unit(live_app, f"test-spread-{i}", name, "medical" if "Ambulans" in name else "police",
                 [(now - 5, lat, lon)])
    try:
        check_fanned_out(browser, live_app, lat, lon, names)
    finally:  # the fleet as it was (they would go stale and change what later tests see)
        for i in range(len(names)):
            live_app.runtime.store.remove_unit(f"test-spread-{i}")


def check_fanned_out(browser: Browser, live_app: LiveApp, lat: float, lon: float, names: list[str]) -> None:
    open_ops(browser, live_app)
    focus(browser, lat, lon)

    def spread() -> dict[str, Any] | None:
        drawn = browser.js(SPREAD_JS, "ops-map", names)
        return drawn if len(drawn) == len(names) and all(u["leg"] for u in drawn.values()) else None

    drawn = browser.wait(spread, 10, "the units at one spot were not fanned out")
    marks = [u["mark"] for u in drawn.values()]
    for i, a in enumerate(marks):
        for b in marks[i + 1:]:
            assert min(a[2], b[2]) - max(a[0], b[0]) <= 0 or min(a[3], b[3]) - max(a[1], b[1]) <= 0, drawn
    for unit in drawn.values():
        assert abs(unit["leg"][0] - unit["point"][0]) < 2 and abs(unit["leg"][1] - unit["point"][1]) < 2, drawn
    def clicked() -> bool:  # each one can be clicked: nothing covers it (again if a refresh redrew the marks)
        if (panel_rows(browser) or {}).get("name") != names[0]:
            click_unit(browser, names[0])
            time.sleep(0.5)
        return (panel_rows(browser) or {}).get("name") == names[0]

    browser.wait(clicked, 15, "clicking a fanned-out unit did not select it")
    browser.screenshot()
