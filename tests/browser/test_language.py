"""Bahasa Indonesia everywhere in id mode (issue 18): the date pickers' calendar in Indonesian from CLDR, Monday
first, no future day; the language chosen kept across pages and visits."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By

from ntpd_map import fmt

if TYPE_CHECKING:
    from tests.browser.conftest import Browser, LiveApp

pytestmark = pytest.mark.browser

#: the open calendar of a date picker: its month caption, the weekday headers, the day cells (number, disabled)
#: and whether "next month" can be pressed
CALENDAR_JS = """
var d = document.querySelector('[role=dialog] .dash-datepicker-calendar');
if (!d) { return null; }
var next = document.querySelector('[role=dialog] .dash-datepicker-month-nav[aria-label="Next month"]');
return {caption: d.querySelector('.dash-datepicker-calendar-month-header').textContent,
        weekdays: Array.from(d.querySelectorAll('thead tr:nth-child(2) th')).map(function (th) {
          return th.textContent; }),
        days: Array.from(d.querySelectorAll('tbody td')).filter(function (td) { return td.textContent.trim(); })
          .map(function (td) { var b = td.querySelector('button') || td;
            return [parseInt(td.textContent, 10), b.disabled || b.getAttribute('aria-disabled') === 'true' ||
                    td.className.indexOf('disabled') >= 0]; }),
        nextDisabled: next ? next.disabled : null};
"""


def open_calendar(browser: Browser, picker_id: str) -> dict[str, Any]:
    wrapper = browser.wait(lambda: browser.driver.find_element(By.ID, f"{picker_id}-wrapper"), 20,
                           f"no date picker #{picker_id}")
    wrapper.click()
    return browser.wait(lambda: browser.js(CALENDAR_JS), 10, f"the calendar of #{picker_id} never opened")


def local_today(app: LiveApp) -> date:
    return datetime.now(ZoneInfo(app.runtime.settings.tz)).date()


@pytest.mark.parametrize(("path", "picker"), [("/", "f-custom"), ("/analitik", "an-range")])
def test_date_pickers_speak_indonesian_monday_first_with_no_future_day(browser: Browser, live_app: LiveApp,
                                                                       path: str, picker: str) -> None:
    browser.open(path)
    shown = open_calendar(browser, picker)
    today = local_today(live_app)
    names = fmt.calendar("id")
    caption_month = next(m for m in range(1, 13) if shown["caption"].startswith(fmt.month_name(m, "id")))
    assert shown["caption"].endswith(str(today.year)) or caption_month != today.month, shown["caption"]
    assert shown["weekdays"] == [*names["daysMin"][1:], names["daysMin"][0]] == [
        "Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min"], shown["weekdays"]
    if caption_month == today.month:  # the month of today: no day after it can be picked, nor the next month
        future = [day for day, disabled in shown["days"] if day > today.day and not disabled]
        assert not future, f"days after today can be picked: {future}"
        assert shown["nextDisabled"] is True, shown
    browser.screenshot()
    browser.assert_console_clean()


def test_the_language_chosen_is_kept_across_pages_and_visits(browser: Browser, live_app: LiveApp) -> None:
    browser.open("/?lang=en")
    shown = open_calendar(browser, "f-custom")
    english = fmt.calendar("en")
    assert shown["weekdays"][0] == english["daysMin"][1] and shown["caption"].split()[0] in english["months"], shown
    cookie = browser.driver.get_cookie("ntpd_lang")
    assert cookie and cookie["value"] == "en" and cookie["httpOnly"], cookie
    # another page, opened without ?lang= (typed, or from a bookmark): still English
    browser.driver.get(live_app.url("/analitik"))
    browser.wait(lambda: browser.js("var r = document.querySelector('.page-root'); return r && r.lang;") == "en", 20,
                 "the next page forgot the language chosen")
    assert "Kejadian" not in (browser.js("return document.body.innerText;") or "")[:400]
    # and back: Indonesian is remembered the same way
    browser.driver.get(live_app.url("/?lang=id"))
    browser.wait(lambda: browser.js("var r = document.querySelector('.page-root'); return r && r.lang;") == "id", 20)
    browser.driver.get(live_app.url("/analitik"))
    browser.wait(lambda: browser.js("var r = document.querySelector('.page-root'); return r && r.lang;") == "id", 20)
    assert open_calendar(browser, "an-range")["weekdays"][0] == "Sen"
