"""The coverage page (/cakupan, issue 7) in headless Chromium: desa shaded by their signal status with a legend,
towers and weak-signal calls; an operator cannot mark (no form, and a hand-made request is refused); a planner
signs in, marks a desa, sees it in the audit trail and on the map, downloads the
BTS proposal with it, undoes it; the wall shows the same picture read-only; English; a store that is down."""

from __future__ import annotations

import base64
import io
import json
import time
import urllib.request
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from selenium.webdriver.common.by import By

from layers.coverage import STATUS_COLORS, UNMARKED_COLOR
from ntpd_map.access import users
from ntpd_map.access.keys import create_api_key
from ntpd_map.analytics.proposal import HEADERS
from ntpd_map.domain import CoverageMark, SignalStatus
from ntpd_map.geo.signal import PROPOSED_STATUSES, desa_signal
from ntpd_map.store.model import StoreUnavailable
from tests.browser.conftest import geojson_from_layer_data

if TYPE_CHECKING:
    from tests.browser.conftest import Browser, LiveApp

pytestmark = pytest.mark.browser

WITA = ZoneInfo("Asia/Makassar")
MAP = "cov-map"

#: What the coverage layers draw on the map with container id arguments[0]: each desa polygon's fill (coverage
#: features carry kode, nama and kecamatan), the towers' range circles and dots, the weak-signal call marks.
DRAWN_COVERAGE_JS = """
var el = document.getElementById(arguments[0]);
var map = (window.__ntpdMaps || []).filter(function (m) { return m.getContainer() === el; })[0];
if (!map) { return null; }
var out = {desa: {}, interactive: {}, circles: [], dots: 0, calls: 0, callsCounted: 0, dragging: map.dragging.enabled(),
           zoom: map.getZoom()};
map.eachLayer(function (layer) {
  var p = layer.feature && layer.feature.properties;
  if (!p) { return; }
  if ("kecamatan" in p && "kode" in p) {
    out.desa[p.kode] = layer.options.hatch ? "hatch " + layer.options.hatch
                                           : layer.options.fillColor + "/" + layer.options.fillOpacity;
    out.interactive[p.kode] = layer.options.interactive !== false;
  } else if ("range_m" in p) {  // each tower: a group of its range circle and its dot (ntpd.towerPoint)
    if (layer instanceof L.Circle) { out.circles.push([p.range_m, layer.getRadius()]); }
    else if (layer instanceof L.CircleMarker) { out.dots += 1; }
  } else if ("kind" in p && "n" in p) {
    out.calls += 1;
    out.callsCounted += p.n;
  }
});
return out;
"""


def drawn(browser: Browser, map_id: str = MAP) -> dict[str, Any]:
    result = browser.js(DRAWN_COVERAGE_JS, map_id)
    assert result is not None, f"no Leaflet map was created in #{map_id}"
    return result


def hideout(browser: Browser, component: str = "layer-coverage") -> dict[str, Any]:
    return browser.js("var l = window.dash_component_api.getLayout(arguments[0]);"
                      " return l ? l.props.hideout : null;", component) or {}


def statuses(live_app: LiveApp) -> dict[str, str]:
    """Each marked desa's current status, as the store says (the desa-wide mark, else the worst cell mark)."""
    signal = desa_signal(live_app.runtime.store.coverage_marks())
    return dict(zip(signal["kode_desa"].astype(str), signal["status"].astype(str), strict=True))


def polygon_desa(live_app: LiveApp) -> list[str]:
    desa = live_app.runtime.region.desa
    return desa.loc[desa.geometry.geom_type != "Point", "kode"].astype(str).tolist()


def expected_fill(status: str | None, hatched: bool = False) -> str:
    if hatched:  # beneath the incidents (the ops map): grey hatching, no hue (assets/ntpd.js hatchPattern)
        return f"hatch {status or 'unmarked'}"
    return f"{STATUS_COLORS[status]}/0.7" if status else f"{UNMARKED_COLOR}/0.25"


def wait_shaded(browser: Browser, live_app: LiveApp, map_id: str = MAP, hatched: bool = False) -> dict[str, Any]:
    """Wait until every desa polygon is drawn, each with the fill (or the hatching) of its status in the store."""
    codes = polygon_desa(live_app)

    def shaded() -> dict[str, Any] | None:
        seen = browser.js(DRAWN_COVERAGE_JS, map_id)  # None until the page has made its map
        if seen is None:
            return None
        now = statuses(live_app)
        ok = len(seen["desa"]) == len(codes) and all(seen["desa"].get(k) == expected_fill(now.get(k), hatched)
                                                     for k in codes)
        return seen if ok else None

    return browser.wait(shaded, 30, f"#{map_id} never shaded every desa by its status in the store")


def open_page(browser: Browser, live_app: LiveApp, path: str = "/cakupan") -> dict[str, Any]:
    browser.resize(1600, 1100)
    browser.open(path)
    seen = wait_shaded(browser, live_app)
    browser.wait(lambda: len(kecamatan_rows(browser)) == 24, 20, "the kecamatan table never listed 24 kecamatan")
    return seen


def kecamatan_rows(browser: Browser) -> list[str]:
    return browser.js("return Array.from(document.querySelectorAll('#cov-kec-table td[data-dash-column=\"nama\"]'))"
                      ".map(function (e) { return e.textContent.trim(); });")


def pick_desa(browser: Browser, live_app: LiveApp, kode: str) -> str:
    """Pick a desa in the dropdown as a person does: open it, type the name, click the option 'Name (Kecamatan)'."""
    runtime = live_app.runtime
    desa = runtime.region.desa.set_index("kode")
    label = f"{desa.at[kode, 'nama']} ({runtime.names[desa.at[kode, 'kode_kec']]})"
    driver = browser.driver
    driver.find_element(By.ID, "cov-desa").click()
    search = browser.wait(lambda: driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-search"), 5,
                          "the desa dropdown did not open")[0]
    search.send_keys(str(desa.at[kode, "nama"]))

    def option() -> Any:
        return next((o for o in driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option")
                     if o.text.strip() == label), None)

    browser.wait(option, 5, f"no option {label!r} in the desa dropdown").click()
    browser.wait(lambda: (browser.text("cov-panel-name") or "") == str(desa.at[kode, "nama"]), 10,
                 f"the panel never showed {label}")
    return label


def unmarked_desa(live_app: LiveApp, skip: int = 0) -> str:
    marked = statuses(live_app)
    free = [k for k in sorted(polygon_desa(live_app)) if k not in marked]
    return free[skip]


def toggle(browser: Browser, map_id: str, title: str) -> None:
    browser.js("document.querySelector('#' + arguments[0] + ' .leaflet-control-layers')"
               ".classList.add('leaflet-control-layers-expanded');", map_id)
    label = next(lbl for lbl in browser.driver.find_elements(By.CSS_SELECTOR,
                                                              f"#{map_id} .leaflet-control-layers-overlays label")
                 if lbl.text.strip() == title)
    label.find_element(By.TAG_NAME, "input").click()


def test_coverage_layer_shades_desa_by_status_with_a_legend_and_an_operator_cannot_mark(browser: Browser,
                                                                                           live_app: LiveApp) -> None:
    runtime = live_app.runtime
    store = runtime.store
    browser.login("operator-uji")
    seen = open_page(browser, live_app)
    driver = browser.driver
    now = statuses(live_app)
    assert set(now.values()) >= {"none", "weak", "2g_only"}, "the scenario marks blank spots of several kinds"
    # the hideout carries exactly the store's statuses, nothing about who marked or why
    h = hideout(browser)
    assert h["status"] == now
    text = json.dumps(h)
    marks = store.coverage_marks()
    for private in {*marks["author"].dropna(), *marks["evidence"].dropna()}:
        assert str(private) not in text, f"{private!r} travels to the map"
    # every desa polygon is drawn in its status's colour, the unmarked ones faint, all clickable here
    assert sum(1 for k in seen["desa"] if k in now) > 10
    assert all(seen["interactive"].values())

    # the legend names every status, worst first, and counts them as the store does
    legend = browser.text("cov-legend") or ""
    positions = [legend.find(label) for label in ("Tidak ada sinyal", "Lemah", "2G saja", "Baik", "Belum ditandai")]
    assert -1 not in positions and positions == sorted(positions), legend
    counts = {s: sum(1 for v in now.values() if v == s) for s in ("none", "weak", "2g_only", "good")}
    towers = store.towers()
    summary = browser.wait(lambda: browser.text("cov-summary"), 10, "no coverage summary")
    assert summary == (f"{counts['none']} desa tanpa sinyal · {counts['weak']} lemah · {counts['2g_only']} 2G saja "
                       f"· {counts['good']} baik · {len(runtime.region.desa) - len(now)} belum ditandai · "
                       f"{len(towers)} menara diketahui"), summary
    swatches = browser.js("return Array.from(document.querySelectorAll('#legend-coverage .swatch'))"
                          ".map(function (e) { return getComputedStyle(e).backgroundColor; });")
    assert len(swatches) == 5 and len(set(swatches)) == 5

    # towers: a dot and a circle of its range (metres) each; the default range for those without one
    default = float(runtime.settings.get("NTPD_TOWER_DEFAULT_RANGE_M"))
    expected = sorted(round(r if r == r and r > 0 else default) for r in towers["range_m"].astype(float))
    assert len(towers) > 5
    assert sorted(p for p, _r in seen["circles"]) == expected and seen["dots"] == len(towers)
    assert all(abs(p - r) < 1 for p, r in seen["circles"])

    # the calls a weak signal shows in: the period's dropped/silent and imprecise calls, counted per spot
    calls = geojson_from_layer_data(browser.js("return window.dash_component_api.getLayout('layer-weak-calls')"
                                               ".props.data;"))
    note = browser.text("cov-calls-note") or ""
    assert f"{calls['counts']['putus']} panggilan terputus/kosong" in note and calls["counts"]["putus"] > 0
    # drawn from the same answer as the table, once the map has it (the shading may come first)
    expected_calls = calls["counts"]["putus"] + calls["counts"]["approx"]
    browser.wait(lambda: drawn(browser)["callsCounted"] == expected_calls, 10,
                 f"the map does not draw the {expected_calls} weak-signal calls")

    # the BTS proposal's size, and the kecamatan table
    proposed = sum(1 for v in now.values() if v in {str(s) for s in PROPOSED_STATUSES})
    assert (browser.text("cov-proposal-count") or "").startswith(f"{proposed} desa diusulkan")
    assert sorted(kecamatan_rows(browser)) == sorted(runtime.region.kecamatan["nama"])

    # an operator: read-only, no form, told who may mark; the page is in Indonesian, labelled SIMULASI
    assert driver.find_element(By.ID, "sim-banner").text.startswith("SIMULASI")
    assert not driver.find_elements(By.ID, "cov-form") and not driver.find_elements(By.ID, "cov-save")
    readonly = driver.find_element(By.ID, "cov-readonly")
    assert readonly.is_displayed() and "users add NAMA --role planner" in readonly.text
    assert (browser.text("cov-account") or "").startswith("Masuk sebagai operator-uji (operator)")
    assert driver.find_element(By.ID, "cov-ops-link").get_attribute("href").endswith("/?lang=id")
    assert driver.find_element(By.ID, "cov-analytics-link").get_attribute("href").endswith("/analitik?lang=id")
    browser.screenshot(name="coverage")

    # clicking a desa on the map opens its panel (towers and calls switched off, so the desa is what is clicked)
    toggle(browser, MAP, "Menara BTS dan jangkauannya")
    toggle(browser, MAP, "Panggilan 112 terputus/kosong atau tanpa lokasi tepat")
    browser.wait(lambda: drawn(browser)["dots"] == 0 and drawn(browser)["calls"] == 0, 5, "toggles did nothing")
    desa = runtime.region.desa.set_index("kode")

    def uncovered_point(kode: str) -> Any:
        """The desa's inner point, when nothing (legend, layers control) covers it on screen."""
        point = desa.at[kode, "geometry"].representative_point()
        top = browser.js(
            "var el = document.getElementById(arguments[0]);"
            "var map = window.__ntpdMaps.filter(function (m) { return m.getContainer() === el; })[0];"
            "var p = map.latLngToContainerPoint([arguments[1], arguments[2]]), r = el.getBoundingClientRect();"
            "if (p.x < 5 || p.y < 5 || p.x > el.clientWidth - 5 || p.y > el.clientHeight - 5) { return null; }"
            "var top = document.elementFromPoint(r.left + p.x, r.top + p.y); return top ? top.tagName : null;",
            MAP, point.y, point.x)
        return point if top == "CANVAS" else None

    target = next(k for k, v in sorted(now.items()) if v == "none" and k in seen["desa"] and uncovered_point(k))
    point = uncovered_point(target)
    browser.click_map(MAP, point.y, point.x)
    browser.wait(lambda: browser.text("cov-panel-name") == desa.at[target, "nama"], 10,
                 "clicking a desa did not open its panel")
    assert "Tidak ada sinyal" in (browser.text("cov-panel-status") or "")
    assert "simulasi" in (browser.text("cov-trail") or "")  # its audit trail: who marked it
    assert not driver.find_elements(By.ID, "cov-form")

    # a hand-made request to the marking callback, with this operator's session: refused, nothing written;
    # without the session's CSRF token it does not even reach the callback
    before = len(store.coverage_history())
    body = {
        "output": "..cov-msg.children...cov-rev.data..",
        "outputs": [{"id": "cov-msg", "property": "children"}, {"id": "cov-rev", "property": "data"}],
        "inputs": [{"id": "cov-save", "property": "n_clicks", "value": 1}],
        "changedPropIds": ["cov-save.n_clicks"],
        "state": [{"id": "cov-desa", "property": "value", "value": target},
                  {"id": "cov-form-status", "property": "value", "value": "good"},
                  {"id": "cov-form-operators", "property": "value", "value": "XL"},
                  {"id": "cov-form-survey", "property": "date", "value": None},
                  {"id": "cov-form-evidence", "property": "value", "value": "palsu"},
                  {"id": "cov-rev", "property": "data", "value": 0},
                  {"id": "cov-config", "property": "data", "value": {"lang": "id", "wall": False}}],
    }
    post = """
        var done = arguments[arguments.length - 1], headers = {'Content-Type': 'application/json'};
        var csrf = document.cookie.split('; ').filter(function (c) { return c.indexOf('_csrf_token=') === 0; })[0];
        if (arguments[1] && csrf) { headers['X-CSRFToken'] = csrf.slice('_csrf_token='.length); }
        fetch('/_dash-update-component', {method: 'POST', headers: headers, body: JSON.stringify(arguments[0])})
          .then(function (r) { return r.text().then(function (t) { done([r.status, t]); }); });"""
    assert browser.driver.execute_async_script(post, body, False)[0] == 400
    browser.forget_console()  # the console logs that refusal as an error
    answer = browser.driver.execute_async_script(post, body, True)
    assert answer[0] == 200, answer
    assert "Tidak tersimpan: operator-uji berperan operator" in answer[1], answer[1]
    assert len(store.coverage_history()) == before and statuses(live_app)[target] == "none"
    browser.assert_console_clean()


def download(browser: Browser, button: str, target: str) -> dict[str, Any]:
    mark = browser.mark()
    browser.driver.find_element(By.ID, button).click()

    def sent() -> dict[str, Any] | None:
        for update in browser.dash_updates(since=mark):
            if f"{target}.data" in update.output and update.status == 200:
                return json.loads(browser.response_body(update.request_id))["response"][target]["data"]
        return None

    return browser.wait(sent, 30, f"the {button} download never answered")


def test_planner_signs_in_marks_a_desa_downloads_the_proposal_and_undoes(browser: Browser,
                                                                         live_app: LiveApp) -> None:
    runtime = live_app.runtime
    store = runtime.store
    driver = browser.driver
    browser.login("planner-uji")
    open_page(browser, live_app)
    assert (browser.text("cov-account") or "").startswith("Masuk sebagai planner-uji (planner)")
    wait_shaded(browser, live_app)
    kode = unmarked_desa(live_app)
    name = runtime.names[kode]
    pick_desa(browser, live_app, kode)
    assert (browser.text("cov-panel-status") or "").strip() == "Belum ditandai"
    assert browser.text("cov-trail") == "Belum pernah ditandai."
    form = driver.find_element(By.ID, "cov-form")
    browser.wait(form.is_displayed, 5, "the marking form did not show for the picked desa")
    assert driver.find_element(By.ID, "cov-undo").get_attribute("disabled") is not None  # nothing to undo yet

    # mark it "tidak ada sinyal", with the operators seen and the evidence
    proposed_before = sum(1 for v in statuses(live_app).values() if v in {str(s) for s in PROPOSED_STATUSES})
    driver.find_element(By.CSS_SELECTOR, "#cov-form-status input[value='none']").click()
    driver.find_element(By.ID, "cov-form-operators").send_keys("Telkomsel")
    driver.find_element(By.ID, "cov-form-evidence").send_keys("Uji: 0 bar di dusun 2, laporan kepala desa")
    driver.find_element(By.ID, "cov-save").click()
    saved = browser.wait(lambda: browser.text("cov-msg"), 15, "saving said nothing")
    assert saved.startswith(f"Tersimpan: {name}, Belum ditandai → Tidak ada sinyal"), saved
    change = store.coverage_history(kode).iloc[0]
    assert (change["author"], change["status"], change["operators"], change["evidence"]) == (
        "planner-uji", "none", "Telkomsel", "Uji: 0 bar di dusun 2, laporan kepala desa")

    # the audit trail shows who, when (WITA) and old -> new; the map shades the desa at once
    when = datetime.fromtimestamp(int(change["created_at"]), WITA).strftime("%d/%m/%Y %H:%M")
    trail = browser.wait(lambda: (t := browser.text("cov-trail")) and "planner-uji" in t and t, 10,
                         "the audit trail did not show the mark")
    assert f"{when} WITA" in trail and "Belum ditandai → Tidak ada sinyal" in trail, trail
    browser.wait(lambda: hideout(browser)["status"].get(kode) == "none", 10, "the map's hideout missed the mark")
    browser.wait(lambda: drawn(browser)["desa"].get(kode) == expected_fill("none"), 10,
                 "the desa was not shaded 'tidak ada sinyal' on the map")
    browser.wait(lambda: (browser.text("cov-proposal-count") or "").startswith(f"{proposed_before + 1} desa"), 10,
                 "the proposal count did not follow the mark")
    undo_what = browser.wait(lambda: browser.text("cov-undo-what"), 5, "the undo button does not say what it undoes")
    assert undo_what == f"#{int(change['id'])} oleh planner-uji: Belum ditandai → Tidak ada sinyal", undo_what
    time.sleep(0.8)  # the map flew to the picked desa
    browser.screenshot(name="coverage-marked")

    # the BTS proposal downloaded from the page holds the desa with its evidence, the same bytes as the API
    sent = download(browser, "cov-xlsx", "cov-download-xlsx")
    start, end = browser.js("var l = window.dash_component_api.getLayout('cov-range').props;"
                            " return [l.start_date, l.end_date];")
    assert sent["filename"] == f"usulan_bts_53.03_{start[:10]}_{end[:10]}_SIMULASI.xlsx"
    body = base64.b64decode(sent["content"])
    table = pd.read_excel(io.BytesIO(body), sheet_name="Usulan BTS", dtype=str)
    row = table[table[HEADERS["kode"]] == kode]
    assert len(row) == 1, f"{kode} is not in the proposal"
    assert row[HEADERS["status_sinyal"]].iloc[0] == "Tidak ada sinyal"
    assert row[HEADERS["ditandai_oleh"]].iloc[0] == "planner-uji"
    assert row[HEADERS["bukti"]].iloc[0] == "Uji: 0 bar di dusun 2, laporan kepala desa"
    _reader_id, reader = create_api_key(store, "api-uji", "read")
    request = urllib.request.Request(live_app.url(f"/api/bts-proposal.xlsx?from={start[:10]}&to={end[:10]}"),
                                     headers={"Authorization": f"Bearer {reader}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.read() == body
    csv = download(browser, "cov-csv", "cov-download-csv")
    frame = pd.read_csv(io.BytesIO(base64.b64decode(csv["content"])), encoding="utf-8-sig", dtype=str)
    assert kode in set(frame[HEADERS["kode"]])

    # undo: the trail says so, the desa is unmarked again on the map and in the store
    driver.find_element(By.ID, "cov-undo").click()
    undone = browser.wait(lambda: (m := browser.text("cov-msg")) and m.startswith("Dibatalkan") and m, 15,
                          "undo said nothing")
    assert f"perubahan #{int(change['id'])}" in undone
    browser.wait(lambda: "Tidak ada sinyal → Belum ditandai" in (browser.text("cov-trail") or ""), 10,
                 "the undo is not in the audit trail")
    latest = store.coverage_history(kode).iloc[0]
    assert (latest["action"], latest["author"], int(latest["undoes"])) == ("undo", "planner-uji", int(change["id"]))
    assert kode not in statuses(live_app)
    browser.wait(lambda: kode not in hideout(browser)["status"], 10, "the map kept the undone mark")
    browser.wait(lambda: drawn(browser)["desa"].get(kode) == expected_fill(None), 10,
                 "the desa was not drawn unmarked again")

    # signing out ends the session: the sign-in page says so, and the coverage page needs signing in again
    driver.find_element(By.ID, "signout").click()
    browser.wait(lambda: browser.text("login-msg") == "Anda sudah keluar.", 15, "signing out did not say so")
    browser.driver.get(live_app.url("/cakupan"))
    browser.wait(lambda: "/login?next=%2Fcakupan" in driver.current_url, 10, "a signed-out browser saw /cakupan")
    browser.account = None

    # the account is disabled while its page is open: the next click is refused at the gate and the page goes
    # to the sign-in page; nothing is written
    browser.login("planner-uji")
    open_page(browser, live_app)
    pick_desa(browser, live_app, kode)
    browser.wait(driver.find_element(By.ID, "cov-form").is_displayed, 10, "no form for the picked desa")
    users.set_disabled(store, "planner-uji", True, actor="test")
    try:
        driver.find_element(By.CSS_SELECTOR, "#cov-form-status input[value='weak']").click()
        driver.find_element(By.ID, "cov-save").click()
        browser.wait(lambda: "/login" in driver.current_url, 15, "a disabled account's page stayed open")
        assert store.coverage_history(kode).iloc[0]["id"] == latest["id"]
    finally:
        users.set_disabled(store, "planner-uji", False, actor="test")
    refused = [e for e in browser.console() if "401" in e["message"]]
    assert refused, "the refused click left no trace in the console"


def test_ops_map_offers_coverage_and_towers_switched_off(browser: Browser, live_app: LiveApp) -> None:
    browser.open("/")
    driver = browser.driver
    browser.wait(lambda: driver.find_elements(By.CSS_SELECTOR, "#ops-map .leaflet-control-layers-overlays label"),
                 20, "no layers control on the ops map")

    def checked() -> dict[str, bool]:
        return {lbl.text.strip(): lbl.find_element(By.TAG_NAME, "input").is_selected()
                for lbl in driver.find_elements(By.CSS_SELECTOR, "#ops-map .leaflet-control-layers-overlays label")}

    browser.wait(lambda: len(checked()) == 7, 10, "the ops map does not list its seven layers")
    boxes = checked()
    assert boxes["Menara BTS dan jangkauannya"] is False and boxes["Sinyal seluler per desa"] is False
    assert boxes["Kejadian 112"] is True
    assert not driver.find_element(By.ID, "legend-coverage").is_displayed()
    assert driver.find_element(By.ID, "ops-coverage-link").get_attribute("href").endswith("/cakupan?lang=id")
    toggle(browser, "ops-map", "Sinyal seluler per desa")
    toggle(browser, "ops-map", "Menara BTS dan jangkauannya")
    browser.wait(lambda: driver.find_element(By.ID, "legend-coverage").is_displayed(), 5,
                 "switching the coverage on did not show its legend")
    # hatched in grey beneath the incidents (their hues are the categories'), and so in its legend
    wait_shaded(browser, live_app, "ops-map", hatched=True)
    swatches = browser.js("return Array.from(document.querySelectorAll('#legend-coverage .swatch')).map("
                          "function (s) { return [s.className, getComputedStyle(s).backgroundImage]; });")
    assert [cls.split()[-1] for cls, _ in swatches] == [
        "hatch-none", "hatch-weak", "hatch-2g_only", "hatch-good", "hatch-unmarked"], swatches
    assert all("gradient" in image for _, image in swatches[:3]), swatches
    # with every block shown the legend wraps onto a second row: it stays on the map, never over the filters
    inside = browser.js("var m = document.getElementById('ops-map').getBoundingClientRect();"
                        "var l = document.querySelector('.map-wrap .legend').getBoundingClientRect();"
                        "return [l.left >= m.left, l.right <= m.right + 0.5, l.top >= m.top];")
    assert all(inside), inside
    browser.screenshot("hatched")
    browser.wait(lambda: drawn(browser, "ops-map")["dots"] == len(live_app.runtime.store.towers()), 10,
                 "the towers were not drawn on the ops map")
    # beneath the incidents: their own pane, which never takes the incidents' clicks
    pane = browser.js("var c = document.querySelector('#ops-map .leaflet-ntpdunder-pane');"
                      " return c ? [getComputedStyle(c).zIndex, getComputedStyle(c).pointerEvents,"
                      " c.querySelectorAll('canvas').length] : null;")
    assert pane is not None and int(pane[0]) < 400 and pane[1] == "none" and pane[2] >= 1, pane
    browser.assert_console_clean()


def test_wall_shows_the_coverage_read_only_and_nothing_personal(browser: Browser, live_app: LiveApp) -> None:
    store = live_app.runtime.store
    kode = unmarked_desa(live_app, skip=1)
    change = store.mark_coverage(CoverageMark(kode, SignalStatus.WEAK, author="Siti Rahasia",
                                              evidence="RAHASIA-BUKTI nomor 0812"))
    try:
        browser.resize(1920, 1080)
        mark = browser.mark()
        browser.open("/wall")
        driver = browser.driver
        panel = "wall-panel-coverage"
        browser.wait(lambda: "wall-hidden" not in (driver.find_element(By.ID, panel).get_attribute("class") or ""),
                     15, "the coverage view never rotated in")
        seen = wait_shaded(browser, live_app, "wall-coverage-map")
        assert seen["desa"][kode] == expected_fill("weak")
        assert hideout(browser)["wall"] is True
        # read-only: no control, no dragging, nothing clickable, no tooltip
        assert not seen["dragging"] and not any(seen["interactive"].values())
        assert not driver.find_elements(By.CSS_SELECTOR, "#wall-coverage-map .leaflet-control-layers")
        assert not driver.find_elements(By.CSS_SELECTOR, "#wall-coverage-map .leaflet-control-zoom")
        assert seen["dots"] == len(store.towers())
        legend = driver.find_element(By.CSS_SELECTOR, f"#{panel} .wall-cov-legend")
        assert legend.is_displayed() and "Tidak ada sinyal" in legend.text and "Belum ditandai" in legend.text
        assert float(legend.value_of_css_property("font-size").removesuffix("px")) >= 24  # legible from afar
        summary = browser.wait(lambda: browser.text("cov-summary"), 10, "no summary on the wall")
        assert "desa tanpa sinyal" in summary and "menara diketahui" in summary
        time.sleep(0.5)
        browser.screenshot(name="wall-coverage")
        # nothing personal on the page or in any answer the wall received
        assert "Siti Rahasia" not in driver.page_source and "RAHASIA-BUKTI" not in driver.page_source
        bodies = [browser.response_body(u.request_id) for u in browser.dash_updates(since=mark) if u.status == 200]
        assert any("layer-coverage" in b for b in bodies), "no callback answer carried the coverage"
        for b in bodies:
            assert "Siti Rahasia" not in b and "RAHASIA-BUKTI" not in b
        browser.assert_console_clean()
    finally:
        store.undo_coverage_change(change, "test")


def test_english_coverage_page(browser: Browser, live_app: LiveApp) -> None:
    open_page(browser, live_app, "/cakupan?lang=en")
    body = browser.driver.find_element(By.TAG_NAME, "body").text
    for label in ("Signal coverage", "BTS proposal for Komdigi", "Download the BTS proposal (XLSX)",
                  "Signed in as planner-uji (planner)", "Area outside tower range by kecamatan", "No signal",
                  "Not marked yet", "Operations map", "Sign out"):
        assert label in body, f"{label!r} missing from the English page"
    assert "villages without signal" in (browser.text("cov-summary") or "")
    assert "dropped/silent calls" in (browser.text("cov-calls-note") or "")
    assert hideout(browser)["labels"]["none"] == "No signal"
    browser.assert_console_clean()


def test_store_down_shows_the_banner_and_keeps_the_map(browser: Browser, live_app: LiveApp) -> None:
    seen = open_page(browser, live_app)
    store = live_app.runtime.store

    def unavailable(*_args: Any, **_kw: Any) -> Any:
        raise StoreUnavailable("test")

    with pytest.MonkeyPatch.context() as patch:
        for method in ("coverage_marks", "incidents", "towers", "data_version"):
            patch.setattr(store, method, unavailable)
        browser.js("window.dash_clientside.set_props('cov-range', {start_date: arguments[0]});",
                   (datetime.now(WITA).date() - pd.Timedelta(days=6)).isoformat())
        banner = browser.wait(lambda: browser.text("cov-down"), 10, "no banner while the store is down")
        assert banner.startswith("Basis data tidak terjangkau"), banner
        assert browser.driver.find_element(By.ID, "cov-down").is_displayed()
        assert len(drawn(browser)["desa"]) == len(seen["desa"]) and len(kecamatan_rows(browser)) == 24
        # a download says why it did not come
        browser.driver.find_element(By.ID, "cov-xlsx").click()
        browser.wait(lambda: (browser.text("cov-proposal-msg") or "").startswith("Basis data tidak terjangkau"), 10,
                     "the download did not say the store is down")
        assert "Traceback" not in browser.driver.find_element(By.TAG_NAME, "body").text
        browser.screenshot(name="coverage-down")
    browser.js("window.dash_clientside.set_props('cov-range', {start_date: arguments[0]});",
               (datetime.now(WITA).date() - pd.Timedelta(days=29)).isoformat())
    browser.wait(lambda: browser.text("cov-down") == "", 10, "the banner stayed after the store came back")

    # opening the page while the store is down: a banner, never a traceback or a blank page
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "api_keys", unavailable)
        patch.setattr(store, "get_meta", unavailable)
        browser.open("/cakupan")
        banner = browser.wait(lambda: browser.driver.find_elements(By.CSS_SELECTOR, ".down-banner"), 15,
                              "no banner when the page opens with the store down")[0]
        assert banner.text.startswith("Basis data tidak terjangkau"), banner.text
        assert "Traceback" not in browser.driver.find_element(By.TAG_NAME, "body").text
