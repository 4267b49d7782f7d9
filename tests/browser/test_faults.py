"""A wall display rebooted while the store is down (issue 8): it shows the last good data with the banner saying
when that data was read, not an empty page, and returns to live data by itself once the store answers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from selenium.webdriver.common.by import By

from tests.test_faults import DownStore

if TYPE_CHECKING:
    from tests.browser.conftest import Browser, LiveApp

pytestmark = pytest.mark.browser


def wall_counters(browser: Browser) -> list[str] | None:
    values = browser.js("return Array.from(document.querySelectorAll('.wall-counters .wall-counter b'))"
                        ".map(function (e) { return e.textContent; });")
    return values if len(values) == 5 and all(values) else None


def test_a_wall_rebooted_while_the_store_is_down_shows_its_last_good_data(browser: Browser,
                                                                          live_app: LiveApp) -> None:
    browser.resize(1920, 1080)
    browser.open("/wall")
    browser.wait(lambda: wall_counters(browser), 20, "the wall counters never appeared")
    browser.wait(lambda: browser.drawn_incidents("wall-map")["total"] > 0, 15, "the wall drew no incident")
    browser.wait(lambda: browser.text("wall-down") == "", 5, "a banner while the store is up")

    with pytest.MonkeyPatch.context() as patch:
        # the whole store gone (the access gate too trusts the display's signed session meanwhile)
        counters, drawn = wall_counters(browser), browser.drawn_incidents("wall-map")["total"]
        patch.setattr(live_app.runtime, "store", DownStore())
        browser.driver.refresh()  # the wall reboots: nothing in the browser any more

        banner = browser.wait(lambda: browser.text("wall-down"), 20, "no banner on a wall opened while down")
        assert re.match(r"Basis data tidak terjangkau - data terakhir \d\d:\d\d\. ", banner), banner
        assert browser.driver.find_element(By.ID, "wall-down").is_displayed()
        shown = browser.wait(lambda: wall_counters(browser), 10, "the wall shows no counters while the store is down")
        assert shown == counters
        browser.wait(lambda: browser.drawn_incidents("wall-map")["total"] == drawn, 10,
                     f"the wall did not draw its last {drawn} incidents while the store is down")
        # still labelled as a simulation: the banner came from the last good data, not the store
        sim = browser.driver.find_element(By.ID, "sim-banner")
        assert sim.is_displayed() and sim.text.startswith("SIMULASI"), sim.text
        browser.screenshot("down")

    # the store is back: live data again and the banner goes away within a refresh or two (2 s each)
    browser.wait(lambda: browser.text("wall-down") == "", 10, "the banner stayed after the store came back")
    assert not browser.driver.find_element(By.ID, "wall-down").is_displayed()
    assert wall_counters(browser)
    assert browser.drawn_incidents("wall-map")["total"] > 0
    browser.assert_console_clean()
