"""Numbers, dates and calendar names from Babel's CLDR data (ntpd_map/fmt.py, issue 18)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from ntpd_map import fmt
from ntpd_map.analytics.export import formula

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("value", "digits", "lang", "text"), [
    (4428, 0, "id", "4.428"), (4428, 0, "en", "4,428"), (1234567.891, 2, "id", "1.234.567,89"),
    (1234567.891, 2, "en", "1,234,567.89"), (20.8, 1, "id", "20,8"), (0.5, 1, "id", "0,5"), (-3.25, 1, "id", "-3,2"),
    (-0.01, 0, "id", "0"), (None, 0, "id", "-"), (float("nan"), 1, "en", "-"),
])
def test_numbers_are_written_as_the_language_writes_them(value: float | None, digits: int, lang: str,
                                                          text: str) -> None:
    assert fmt.number(value, lang, digits) == text


def test_decimals_as_many_as_the_number_has() -> None:
    assert [fmt.decimal(v, "id") for v in (0.5, 2.5, 10, 0.125)] == ["0,5", "2,5", "10", "0,125"]
    assert fmt.decimal(2.5, "en") == "2.5"
    assert formula("socialisation", "id").startswith("skor = 100 x (0,5 x kurang_guna + 0,3 x salah_guna")
    assert "0.5 x kurang_guna" in formula("socialisation", "en")


def test_dates_and_calendar_names_in_indonesian() -> None:
    assert fmt.day_text(date(2025, 5, 1), "id") == "1 Mei 2025"
    assert fmt.day_text(date(2025, 5, 1), "en") == "1 May 2025"
    assert [fmt.month_name(m, "id") for m in (1, 8, 12)] == ["Januari", "Agustus", "Desember"]
    assert [fmt.month_short(m, "id") for m in (5, 8, 12)] == ["Mei", "Agu", "Des"]
    names = fmt.calendar("id")
    assert names["days"][:2] == ["Minggu", "Senin"]  # Sunday first, as date-fns counts days
    assert names["daysShort"][1] == "Sen" and names["months"][11] == "Desember"
    assert fmt.calendar("en")["months"][11] == "December"


def test_no_module_formats_numbers_by_hand() -> None:
    """Separators are the locale's (fmt), never swapped by hand: `.replace(",", ".")` and the like (ingest, which
    reads what people typed, is not formatting)."""
    swap = re.compile(r"""\.replace\(\s*["'][.,]["']\s*,\s*["'][.,]["']|maketrans\(\s*["'][.,]{2}["']""")
    sources = [p for p in [*ROOT.glob("ntpd_map/**/*.py"), *ROOT.glob("layers/*.py")] if "ingest" not in p.parts]
    found = [f"{path.relative_to(ROOT)}:{n}" for path in sources
             for n, line in enumerate(path.read_text().splitlines(), 1) if swap.search(line)]
    assert not found, found


def test_every_string_speaks_both_languages_with_the_same_placeholders() -> None:
    """The strings table (ntpd_map/i18n.py): each key in Bahasa Indonesia and English, neither empty, with the
    same {placeholders}, so no page falls back to the other language or fails to format."""
    import string

    from ntpd_map.i18n import STRINGS

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    incomplete = [key for key, entry in STRINGS.items() if not (entry.get("id") and entry.get("en"))]
    assert not incomplete, incomplete
    mismatched = [key for key, entry in STRINGS.items() if fields(entry["id"]) != fields(entry["en"])]
    assert not mismatched, mismatched
