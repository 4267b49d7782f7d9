"""The briefing page (/briefing, issue 9) in headless Chromium, as a planner uses it: pick a quarter, read its
headline numbers, see the kecamatan map drawn and recoloured, save the Dinas's notes, click "Unduh PDF (A4)"
and get the PDF; no console error on the way (the app's CSP included)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from selenium.webdriver.common.by import By

from layers.choropleth import EMPTY_COLOR, RAMPS
from ntpd_map.briefing import HEADLINE, Period, build, default_period
from ntpd_map.views import local_today

if TYPE_CHECKING:
    from tests.browser.conftest import Browser, LiveApp

pytestmark = pytest.mark.browser

#: the kecamatan the map draws: SVG paths (the briefing map is not a canvas) with their fill colours; the kab/kota
#: outline above them is the one path without a fill
DRAWN_KECAMATAN_JS = """
return Array.from(document.querySelectorAll('#br-map path.leaflet-interactive'))
  .map(function (p) { return (p.getAttribute('fill') || 'none').toLowerCase(); })
  .filter(function (fill) { return fill !== 'none'; });
"""


def number_id(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def pick(browser: Browser, dropdown_id: str, label: str) -> None:
    """Pick an option of a dropdown as a person does: open it, type, click the option."""
    driver = browser.driver
    driver.find_element(By.ID, dropdown_id).click()
    search = browser.wait(lambda: driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-search"), 5,
                          f"the dropdown #{dropdown_id} did not open")[0]
    search.send_keys(label)

    def option() -> Any:
        return next((o for o in driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option")
                     if o.text.strip() == label), None)

    browser.wait(option, 5, f"no option {label!r} in #{dropdown_id}").click()


def test_briefing_page_picks_a_quarter_draws_the_map_saves_notes_and_downloads_the_pdf(
        browser: Browser, live_app: LiveApp, tmp_path: Path) -> None:
    runtime = live_app.runtime
    today = local_today(runtime.settings.tz)
    quarter = Period.quarter(today.year, (today.month - 1) // 3 + 1).previous()  # inside the simulated 150 days
    driver = browser.driver
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.resize(1600, 1000)
    browser.login("planner-uji")
    browser.open("/briefing")

    # it opens on the last complete month, in Bahasa Indonesia, labelled SIMULASI
    month = default_period(today)
    browser.wait(lambda: browser.text("br-label") == month.label("id") and browser.text("br-h-calls"), 20,
                 "the page never showed the last complete month's numbers")
    assert "SIMULASI" in (browser.text("sim-banner") or "")

    # a quarter, picked with the controls
    driver.find_element(By.CSS_SELECTOR, "#br-kind input[value='quarter']").click()
    pick(browser, "br-quarter", quarter.label("id"))
    headline = build(runtime, quarter).headline

    def shown() -> dict[str, str | None] | None:
        if browser.text("br-label") != quarter.label("id"):
            return None
        values = {key: browser.text(f"br-h-{key}") for key in HEADLINE}
        return values if values == {key: number_id(headline[key].value) for key in HEADLINE} else None

    browser.wait(shown, 20, f"the headline never showed {quarter.label('id')}'s numbers: {headline}")
    assert headline["calls"].value > 0 and headline["genuine"].value > 0
    assert browser.text("br-previous") == f"dibanding {quarter.previous().label('id')}"

    # the map: every kecamatan drawn, filled from the metric's colours; another metric recolours it
    n_kecamatan = len(runtime.region.kecamatan)

    def filled(metric: str) -> list[str] | None:
        fills = browser.js(DRAWN_KECAMATAN_JS)
        allowed = {c.lower() for c in RAMPS[metric]} | {EMPTY_COLOR}
        return fills if len(fills) == n_kecamatan and set(fills) <= allowed and set(fills) - {EMPTY_COLOR} else None

    browser.wait(lambda: filled("genuine_per_10k"), 20, "the kecamatan were never all drawn and coloured")
    driver.find_element(By.CSS_SELECTOR, "#br-map-metric input[value='prank_share']").click()
    browser.wait(lambda: filled("prank_share"), 10, "the map was not recoloured by the prank share")
    assert (browser.text("br-legend") or "").startswith("Porsi panggilan iseng (%)")
    assert browser.js("return document.querySelectorAll('#br-agency-table tfoot td').length") == 9
    assert browser.js("return document.querySelectorAll('#br-kecamatan-table tbody tr').length") == n_kecamatan
    assert browser.js("return document.querySelectorAll('#br-weekly-calls .bars .point').length") > 0
    browser.screenshot(name="briefing-page")

    # the Dinas's notes, saved by the planner
    notes = driver.find_element(By.ID, "br-notes")
    notes.clear()
    notes.send_keys("Uji: sosialisasi 112 di kecamatan prioritas bulan depan.")
    driver.find_element(By.ID, "br-notes-save").click()
    browser.wait(lambda: (browser.text("br-notes-msg") or "").startswith("Catatan disimpan"), 10,
                 "the notes were never saved")

    # Unduh PDF (A4): a click, and the PDF arrives
    link = driver.find_element(By.ID, "br-pdf")
    assert link.text == "Unduh PDF (A4)"
    assert link.get_attribute("href").endswith(f"/briefing/pdf?period={quarter.key}&lang=id")
    link.click()
    pdf = tmp_path / f"briefing_{runtime.region.code}_{quarter.key}_SIMULASI.pdf"

    def arrived() -> bool:
        return pdf.is_file() and not list(tmp_path.glob("*.crdownload")) and pdf.stat().st_size > 1000

    deadline = time.monotonic() + 90
    while not arrived() and time.monotonic() < deadline:
        time.sleep(0.25)
    assert arrived(), f"no PDF downloaded into {tmp_path}: {list(tmp_path.iterdir())}"
    assert pdf.read_bytes().startswith(b"%PDF")
    browser.assert_console_clean()
