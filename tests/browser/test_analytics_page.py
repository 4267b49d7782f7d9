"""The analytics page (/analitik) in headless Chromium: hexagons drawn and coloured for the last 30 days, the
ranking table with every kecamatan, switching the metric and the index, hover details, a row that highlights
its kecamatan, the export, and a banner (never a stack trace) when the store is down."""

from __future__ import annotations

import base64
import io
import json
import time
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from layers.hexes import YLGNBU, YLORRD
from ntpd_map.analytics.export import COMPONENTS, HEADERS
from ntpd_map.store.model import StoreUnavailable

if TYPE_CHECKING:
    from tests.browser.conftest import Browser, LiveApp

pytestmark = pytest.mark.browser

MAP = "an-map"

#: What the hexagon layer draws on the analytics map: how many pieces, and how many of each fill colour.
DRAWN_HEXES_JS = """
var el = document.getElementById(arguments[0]);
var map = (window.__ntpdMaps || []).filter(function (m) { return m.getContainer() === el; })[0];
if (!map) { return null; }
var out = {n: 0, colors: {}};
map.eachLayer(function (layer) {
  var p = layer.feature && layer.feature.properties;
  if (!p || !("h3" in p)) { return; }
  out.n += 1;
  var c = layer.options.fillColor + "/" + layer.options.fillOpacity;
  out.colors[c] = (out.colors[c] || 0) + 1;
});
return out;
"""

#: Pieces with calls (per the layer's current hideout), busiest first, with where their centre is on screen and
#: what element a mouse there would reach: a person can hover only what nothing else covers.
HOVER_TARGETS_JS = """
var el = document.getElementById(arguments[0]);
var map = window.__ntpdMaps.filter(function (m) { return m.getContainer() === el; })[0];
var h = window.dash_component_api.getLayout("layer-hexes").props.hideout;
var rect = el.getBoundingClientRect(), out = [];
map.eachLayer(function (layer) {
  var p = layer.feature && layer.feature.properties;
  if (!p || !("h3" in p) || !h.total || !h.total[p.i] || p.area_km2 < 0.4) { return; }
  var c = map.latLngToContainerPoint(layer.getCenter());
  if (c.x < 40 || c.y < 40 || c.x > el.clientWidth - 40 || c.y > el.clientHeight - 40) { return; }
  var top = document.elementFromPoint(rect.left + c.x, rect.top + c.y);
  out.push({i: p.i, kecamatan: p.kecamatan, h3: p.h3, total: h.total[p.i], x: c.x, y: c.y,
            w: el.clientWidth, hgt: el.clientHeight,
            top: top ? top.tagName + "." + (top.parentNode && top.parentNode.className) : null});
});
out.sort(function (a, b) { return b.total - a.total; });
return out.slice(0, 40);
"""


def drawn_hexes(browser: Browser) -> dict[str, Any]:
    drawn = browser.js(DRAWN_HEXES_JS, MAP)
    assert drawn is not None, "no Leaflet map was created in #an-map"
    return drawn


def hideout(browser: Browser, component: str = "layer-hexes") -> dict[str, Any]:
    return browser.js("var l = window.dash_component_api.getLayout(arguments[0]);"
                      " return l ? l.props.hideout : null;", component) or {}


def table_rows(browser: Browser) -> list[str]:
    """The names in the ranking table, top to bottom, as shown."""
    return browser.js("return Array.from(document.querySelectorAll('#an-table td[data-dash-column=\"nama\"]'))"
                      ".map(function (e) { return e.textContent.trim(); });")


def table_headers(browser: Browser) -> list[str]:
    return browser.js("return Array.from(document.querySelectorAll('#an-table th'))"
                      ".map(function (e) { return e.textContent.trim(); });")


def coloured(drawn: dict[str, Any], ramp: tuple[str, ...]) -> int:
    return sum(n for key, n in drawn["colors"].items() if key.split("/")[0] in ramp)


def open_settled(browser: Browser, live_app: LiveApp, path: str = "/analitik") -> dict[str, Any]:
    """Open the page; wait until every hexagon piece is drawn and coloured and the table lists 24 kecamatan."""
    pieces = len(live_app.runtime.analytics.pieces(live_app.runtime.analytics.default_res))
    browser.open(path)

    def ready() -> dict[str, Any] | None:
        drawn = browser.js(DRAWN_HEXES_JS, MAP)  # None until the page has made its map
        return drawn if drawn and drawn["n"] == pieces and coloured(drawn, YLORRD) > 0 else None

    drawn = browser.wait(ready, 40, f"the {pieces} hexagon pieces were never drawn and coloured")
    browser.wait(lambda: len(table_rows(browser)) == 24, 20, "the ranking table never listed 24 kecamatan")
    return drawn


def pick(browser: Browser, selector: str) -> None:
    browser.driver.find_element(By.CSS_SELECTOR, selector).click()


def test_analytics_page_map_table_and_hover(browser: Browser, live_app: LiveApp) -> None:
    runtime = live_app.runtime
    driver = browser.driver
    browser.resize(1600, 1400)  # the map and the table on one screen
    drawn = open_settled(browser, live_app)

    # labelled as a simulation, in Bahasa Indonesia, times in the center's zone, linked to the ops page
    banner = driver.find_element(By.ID, "sim-banner")
    assert banner.is_displayed() and banner.text.startswith("SIMULASI")
    body = driver.find_element(By.TAG_NAME, "body").text
    for label in ("Analitik H3", "Warna heksagon", "Resolusi H3", "Tabel peringkat", "Unduh CSV", "Unduh XLSX"):
        assert label in body, f"{label!r} missing from the page"
    assert driver.find_element(By.ID, "an-ops-link").get_attribute("href").endswith("/?lang=id")
    status = browser.wait(lambda: browser.text("an-status"), 5, "no status line")
    assert "(waktu WITA)" in status and status.endswith("WITA"), status

    # the hexagons: pieces with calls in the YlOrRd classes, the others faint; the counts add up
    h = hideout(browser)
    assert h["metric"] == "total" and len(h["total"]) == drawn["n"]
    with_calls = sum(1 for v in h["total"] if v)
    assert coloured(drawn, YLORRD) == with_calls > 0
    assert drawn["n"] - with_calls == sum(n for k, n in drawn["colors"].items() if k.startswith(h["empty"]))
    legend = browser.text("an-legend") or ""
    assert legend.startswith("Jumlah panggilan") and "tanpa panggilan" in legend
    assert all(label in legend for label in h["classLabels"])
    browser.wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, f"#{MAP} .kec-label")) == 24, 10,
                 "the kecamatan names were not drawn over the hexagons")
    browser.screenshot(name="analytics-total")

    # the table: every kecamatan of TTU, ranked, every component of the socialisation score beside it
    names = table_rows(browser)
    assert sorted(names) == sorted(runtime.region.kecamatan["nama"])
    headers = table_headers(browser)
    for column in ("rank", "score", *COMPONENTS["socialisation"], "penduduk_perkiraan", "darurat_harapan"):
        assert any(head.startswith(HEADERS[column]) for head in headers), f"no column {HEADERS[column]!r}"
    footnote = browser.text("an-footnote") or ""
    assert "skor = 100 x" in footnote and "import population FILE" in footnote

    # metric: the BTS priority colours each piece by its kecamatan's score, with its own legend and ramp
    pick(browser, "#an-metric input[value='bts']")
    browser.wait(lambda: (browser.text("an-legend") or "").startswith("Prioritas usulan BTS"), 10,
                 "the legend did not switch to the BTS priority")
    bts = browser.wait(lambda: (d := drawn_hexes(browser)) and coloured(d, YLGNBU) == d["n"] and d, 15,
                       "the pieces were not recoloured by the kecamatan BTS score")
    assert coloured(bts, YLORRD) == 0
    assert "skor kecamatan" in (browser.text("an-legend") or "")

    # index: the table switches to the BTS ranking, still 24 kecamatan, its components shown
    pick(browser, "#an-index input[value='bts']")
    browser.wait(lambda: any(head.startswith(HEADERS["blank_spot"]) for head in table_headers(browser)), 10,
                 "the table did not switch to the BTS index")
    assert len(table_rows(browser)) == 24
    headers = table_headers(browser)
    for column in COMPONENTS["bts"]:
        label = "Komponen: penduduk (0-1)" if column == "penduduk" else HEADERS[column]
        assert any(head.startswith(label) for head in headers), f"no BTS column {label!r}"
    bts_rows = runtime.analytics.priorities("bts", *_period(browser, runtime)).rows
    assert table_rows(browser)[0] == bts_rows["nama"].iloc[0]

    # hover: a real mouse over a busy piece opens its details, read from the current hideout
    targets = browser.js(HOVER_TARGETS_JS, MAP)
    target = next((t for t in targets if t["top"] and t["top"].startswith("CANVAS")
                   and "overlay" in t["top"]), None)
    assert target, f"no uncovered hexagon with calls to hover: {targets[:3]}"
    element = driver.find_element(By.ID, MAP)
    ActionChains(driver).move_to_element_with_offset(
        element, int(target["x"] - target["w"] / 2), int(target["y"] - target["hgt"] / 2)).perform()
    tip = browser.wait(lambda: (e := driver.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip.hex-tooltip"))
                       and e[0].text, 10, "hovering a hexagon opened no tooltip")
    kec_rank = int(bts_rows.loc[bts_rows["nama"] == target["kecamatan"], "rank"].iloc[0])
    assert target["kecamatan"] in tip and target["h3"] in tip, tip
    assert "Prioritas usulan BTS" in tip and f"peringkat {kec_rank} dari 24" in tip, tip
    assert f"Semua panggilan {target['total']}" in tip and "Darurat" in tip and "Iseng/palsu" in tip, tip
    time.sleep(0.3)
    shot = browser.screenshot(name="analytics")
    assert shot.stat().st_size > 50_000

    # a row click highlights its kecamatan on the map
    top_kode = bts_rows["kode"].iloc[0]
    driver.find_element(By.CSS_SELECTOR, "#an-table td[data-dash-column='nama']").click()
    browser.wait(lambda: hideout(browser, "layer-kecamatan").get("selected") == top_kode, 10,
                 "clicking a row did not highlight its kecamatan")
    time.sleep(1.0)  # the map flies to it
    browser.screenshot(name="analytics-selected")
    browser.assert_console_clean()


def _period(browser: Browser, runtime: Any) -> tuple[int, int]:
    from ntpd_map.pages.analytics.callbacks import period_from_dates

    start, end = browser.js("var l = window.dash_component_api.getLayout('an-range').props;"
                            " return [l.start_date, l.end_date];")
    p = period_from_dates(start, end, runtime.settings.tz)
    return p.start, p.end


def test_resolution_period_and_export(browser: Browser, live_app: LiveApp) -> None:
    runtime = live_app.runtime
    open_settled(browser, live_app)

    # resolution 7: the layer's url swaps, fewer and larger pieces are drawn, from the static layer
    pick(browser, "#an-res input[value='7']")
    n7 = len(runtime.analytics.pieces(7))
    browser.wait(lambda: drawn_hexes(browser)["n"] == n7 and hideout(browser).get("res") == 7, 20,
                 "switching to resolution 7 did not redraw the pieces")
    assert "/layers/hexes-7.geojson" in " ".join(browser.resource_urls())

    # quick choice: 7 days, fewer calls than 30
    before = sum(hideout(browser)["total"])
    pick(browser, "#an-quick-7")
    browser.wait(lambda: sum(hideout(browser)["total"]) < before, 10, "the 7-day period changed nothing")
    start, end = browser.js("var l = window.dash_component_api.getLayout('an-range').props;"
                            " return [l.start_date, l.end_date];")
    assert (pd.Timestamp(end) - pd.Timestamp(start)).days == 6

    # export: the CSV button answers with the ranking as a file named for the index, period and SIMULASI
    mark = browser.mark()
    pick(browser, "#an-csv")

    def download() -> dict[str, Any] | None:
        for update in browser.dash_updates(since=mark):
            if "an-download-csv.data" in update.output and update.status == 200:
                return json.loads(browser.response_body(update.request_id))["response"]["an-download-csv"]["data"]
        return None

    sent = browser.wait(download, 15, "the CSV export never answered")
    assert sent["filename"] == f"prioritas_socialisation_kecamatan_53.03_{start[:10]}_{end[:10]}_SIMULASI.csv"
    table = pd.read_csv(io.BytesIO(base64.b64decode(sent["content"])), encoding="utf-8-sig")
    assert len(table) == 24 and HEADERS["score"] in table.columns
    browser.assert_console_clean()


def test_english_page(browser: Browser, live_app: LiveApp) -> None:
    open_settled(browser, live_app, "/analitik?lang=en")
    body = browser.driver.find_element(By.TAG_NAME, "body").text
    for label in ("H3 analytics", "Hexagon colour", "Ranking table", "Download CSV", "Operations map"):
        assert label in body, f"{label!r} missing from the English page"
    assert (browser.text("an-legend") or "").startswith("Number of calls")
    assert any(head.startswith("Score (0-100)") for head in table_headers(browser))
    browser.assert_console_clean()


def test_store_down_says_so_and_keeps_the_last_view(browser: Browser, live_app: LiveApp) -> None:
    drawn = open_settled(browser, live_app)
    store = live_app.runtime.store

    def unavailable() -> int:
        raise StoreUnavailable("test")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "data_version", unavailable)
        pick(browser, "#an-metric input[value='genuine']")
        banner = browser.wait(lambda: browser.text("an-down"), 10, "no banner while the store is down")
        assert banner.startswith("Basis data tidak terjangkau - data terakhir"), banner
        assert drawn_hexes(browser)["n"] == drawn["n"] and len(table_rows(browser)) == 24
        assert "Traceback" not in browser.driver.find_element(By.TAG_NAME, "body").text
        browser.screenshot(name="analytics-down")
    pick(browser, "#an-metric input[value='total']")
    browser.wait(lambda: browser.text("an-down") == "", 10, "the banner stayed after the store came back")
