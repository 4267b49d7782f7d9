"""Numbers, dates and calendar names as the language writes them, from Babel's CLDR data (issue 18): 1.234,5 and
"1 Mei 2025" in Bahasa Indonesia, 1,234.5 and "1 May 2025" in English. The pages, the PDF, the XLSX and the date
pickers (``calendar``) all format through here. Pure functions: no Dash, no store."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

#: the CLDR locale of each language the UI speaks
LOCALES = {"id": "id_ID", "en": "en_GB"}


def locale(lang: str) -> str:
    return LOCALES.get(lang, LOCALES["id"])


def number(value: float | None, lang: str, digits: int = 0) -> str:
    """A number with the locale's grouping and decimal marks and exactly ``digits`` decimals (1.234,5 / 1,234.5);
    a missing value is "-"."""
    if value is None or value != value:  # None or NaN
        return "-"
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    text = format_decimal(value, format=pattern, locale=locale(lang))
    return text[1:] if text.startswith("-") and not any(c in text for c in "123456789") else text  # no "-0"


def decimal(value: float, lang: str) -> str:
    """A number with as many decimals as it has, up to three (0,5 / 2,5 / 10): weights, scale-bar lengths."""
    from babel.numbers import format_decimal

    return str(format_decimal(value, locale=locale(lang)))


def month_name(month: int, lang: str) -> str:
    """The month's full name (1 = Januari / January)."""
    return str(_names(lang)["months"][month - 1])


def month_short(month: int, lang: str) -> str:
    """The month's abbreviated name (1 = Jan; 8 = Agu / Aug)."""
    return str(_names(lang)["monthsShort"][month - 1])


def day_text(day: date, lang: str) -> str:
    """1 Mei 2025 / 1 May 2025."""
    from babel.dates import format_date

    return str(format_date(day, "d MMMM y", locale=locale(lang)))


def calendar(lang: str) -> dict[str, Any]:
    """The calendar names a date picker shows, for assets/ntpd.js to hand to Dash's pickers as a date-fns locale:
    months (wide and abbreviated, January first) and days (wide, abbreviated and short, Sunday first, as date-fns
    counts them). The week starts on Monday on every page (``first_day_of_week=1``), whatever CLDR's id_ID says
    (Sunday): the ISO week of Indonesian office calendars."""
    return {"code": lang, **_names(lang)}


@cache
def _names(lang: str) -> dict[str, Any]:
    from babel import Locale

    loc = Locale.parse(locale(lang))
    months = loc.months["format"]
    days = loc.days["format"]
    sunday_first = [6, 0, 1, 2, 3, 4, 5]  # CLDR numbers days from Monday (0); date-fns from Sunday

    def week(width: str) -> list[str]:
        return [str(days[width][i]) for i in sunday_first]

    return {"eras": [str(loc.eras["abbreviated"][i]) for i in (0, 1)],
            "quarters": [str(loc.quarters["format"]["abbreviated"][q]) for q in range(1, 5)],
            "months": [str(months["wide"][m]) for m in range(1, 13)],
            "monthsShort": [str(months["abbreviated"][m]) for m in range(1, 13)],
            "days": week("wide"), "daysShort": week("abbreviated"), "daysMin": week("short")}
