"""Population figures from a Dinas's file (Dukcapil counts per kecamatan or desa), checked against the region.

The denominator of calls per person (issue 5: where 112 needs socialising). A file holds one row per kecamatan
or desa: a Kemendagri code and a number of people, in any column order, with any of the usual column names.

- codes are read dotted (``53.03.06.2001``) or undotted (``5303062001``); a code of the center's region that
  names one of its kecamatan or desa is kept;
- a well-formed code outside the region is skipped and counted (a Dinas often holds the whole provinsi's sheet);
- anything else is rejected with its row number (the spreadsheet row, as ``import incidents`` numbers them:
  the header is row 1) and a reason naming the column and the value: a code that is not one, a kab/kota or
  provinsi total, a code inside the region that names no kecamatan or desa of it, a code given twice, a count
  that is not a whole number of people, a year that is not one;
- counts may carry thousands separators: ``12.345`` (Indonesian) and ``12,345`` both mean 12345, since a
  number of people is never fractional; ``12345.0`` (a spreadsheet's export of a whole number) is 12345.
"""

from __future__ import annotations

import math
import numbers
import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd

from ntpd_map.domain import PopulationFigure
from ntpd_map.geo.codes import normalise_code

if TYPE_CHECKING:
    from ntpd_map.geo.boundaries import Region

#: Accepted column names, case, spaces, dots, dashes and underscores ignored. Where a file has several, the
#: first in this order is read: a desa sheet lists each desa's kecamatan code too, and its own code is the one.
CODE_COLUMNS = ("kode", "kode_wilayah", "kode_kemendagri", "kode_desa", "kode_kecamatan")
POPULATION_COLUMNS = ("jumlah_penduduk", "penduduk", "population", "jumlah", "total")
YEAR_COLUMNS = ("tahun", "year")
NAME_COLUMNS = ("nama", "nama_wilayah", "nama_desa", "nama_kecamatan", "name")  # only to name a row in messages
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100
POPULATION_HINT = "write a whole number of people, e.g. 12345 or 12.345"

_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
_PLAIN = re.compile(r"[0-9]+")
_THOUSANDS = (re.compile(r"[0-9]{1,3}(\.[0-9]{3})+"), re.compile(r"[0-9]{1,3}(,[0-9]{3})+"))
_WHOLE_DECIMAL = re.compile(r"([0-9]+)\.0")


class ParsedPopulation(NamedTuple):
    figures: list[PopulationFigure]
    rejects: list[dict[str, Any]]  # row_number, code, reason, original (the row's non-empty cells)
    skipped_other_region: int


def _fold(header: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(header)).casefold()


def _column(headers: Sequence[str], aliases: Sequence[str]) -> int | None:
    """Position of the first alias the headers hold; two columns spelling one alias is an error."""
    for alias in aliases:
        found = [j for j, h in enumerate(headers) if _fold(h) == _fold(alias)]
        if len(found) > 1:
            raise ValueError(f"columns {', '.join(repr(headers[j]) for j in found)} both mean {alias}; remove one")
        if found:
            return found[0]
    return None


def _blank(value: Any) -> bool:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return True
    return isinstance(value, str) and not value.strip()


def _text(value: Any) -> str:
    """A cell as text; a whole float from a spreadsheet (5303062001.0) without its ".0"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())


def _quote(value: Any) -> str:
    text = _text(value)
    return '"' + (text if len(text) <= 60 else text[:59] + "…") + '"'


def whole_number(value: Any) -> int | None:
    """A count of people from a cell: ints, whole floats, and texts like 12345, 12.345, 12,345, 12 345 or
    12345.0. None for anything else (a fraction, a negative number, a word)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):  # numpy integers too
        return int(value) if int(value) >= 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    text = _SPACES.sub("", str(value))
    if _PLAIN.fullmatch(text):
        return int(text)
    for pattern in _THOUSANDS:
        if pattern.fullmatch(text):
            return int(re.sub(r"[.,]", "", text))
    match = _WHOLE_DECIMAL.fullmatch(text)
    return int(match.group(1)) if match else None


def _year(value: Any) -> int | None:
    year = whole_number(value)
    return year if year is not None and EARLIEST_YEAR <= year <= LATEST_YEAR else None


def population_from_table(
    table: pd.DataFrame,
    region: Region,
    *,
    year: int | None = None,
    source: str = "import",
    first_row_number: int = 2,
) -> ParsedPopulation:
    """Figures of the region's kecamatan and desa from a table of raw values (as ``table_from_file`` reads it).

    ``year`` is the year of rows without a year column or value; ``source`` is kept with every figure. Row
    numbers start at ``first_row_number`` (2: the spreadsheet row under the header). Entirely empty rows are
    ignored. Raises ValueError when the code or population column is missing, naming the columns found and
    the names accepted.
    """
    if year is not None and not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise ValueError(f"--year {year}: give the year of the count, {EARLIEST_YEAR}..{LATEST_YEAR}")
    headers = [str(c).strip() for c in table.columns]
    code_j = _column(headers, CODE_COLUMNS)
    pop_j = _column(headers, POPULATION_COLUMNS)
    missing = [f"no column for {what} (name it {' or '.join(names)})"
               for what, j, names in (("the Kemendagri code", code_j, CODE_COLUMNS),
                                      ("the number of people", pop_j, POPULATION_COLUMNS)) if j is None]
    if code_j is None or pop_j is None:
        raise ValueError("; ".join(missing) + "; the file has columns " + ", ".join(repr(h) for h in headers))
    year_j = _column(headers, YEAR_COLUMNS)
    name_j = _column(headers, NAME_COLUMNS)
    code_col, pop_col = headers[code_j], headers[pop_j]
    year_col = headers[year_j] if year_j is not None else ""

    known = set(region.kecamatan["kode"].astype(str)) | set(region.desa["kode"].astype(str))
    inside = region.code + "."
    place = f"{region.name} ({region.code})"

    figures: list[PopulationFigure] = []
    rejects: list[dict[str, Any]] = []
    skipped = 0
    first_row: dict[str, int] = {}
    for i, row in enumerate(table.itertuples(index=False, name=None)):
        if all(_blank(v) for v in row):
            continue
        rn = first_row_number + i
        problems: list[tuple[str, str]] = []
        raw_code = row[code_j]
        code: str | None = None
        if _blank(raw_code):
            problems.append(("kode_missing", f"{code_col} is missing"))
        else:
            try:
                code = normalise_code(_text(raw_code))
            except ValueError:
                problems.append(("kode_invalid", f"{code_col} {_quote(raw_code)} is not a Kemendagri code of a "
                                                 "kecamatan or desa (53.03.06 or 53.03.06.2001, dots optional)"))
        if code is not None:
            ours = code == region.code or code.startswith(inside) or region.code.startswith(code + ".")
            if not ours:
                skipped += 1  # another kab/kota's row in a provinsi-wide sheet
                continue
            if code.count(".") < 2:
                level = "provinsi" if "." not in code else "kab/kota"
                problems.append(("kode_total", f"{code_col} {_quote(raw_code)} is a {level} total; only kecamatan "
                                               "and desa figures are kept (their sum is the total)"))
            elif code not in known:
                problems.append(("kode_not_in_region", f"{code_col} {_quote(raw_code)} is no kecamatan or desa of "
                                                       f"{place} (a BPS code? use the Kemendagri code)"))
            elif code in first_row:
                problems.append(("kode_repeated", f"{code_col} {_quote(raw_code)} was already given in row "
                                                  f"{first_row[code]}; keep one row per code"))
        raw_pop = row[pop_j]
        people = None
        if _blank(raw_pop):
            problems.append(("population_missing", f"{pop_col} is missing ({POPULATION_HINT})"))
        else:
            people = whole_number(raw_pop)
            if people is None:
                problems.append(("population_invalid", f"{pop_col} {_quote(raw_pop)} is not a whole number of "
                                                       f"people ({POPULATION_HINT})"))
        row_year = year
        if year_j is not None and not _blank(row[year_j]):
            row_year = _year(row[year_j])
            if row_year is None:
                problems.append(("year_invalid", f"{year_col} {_quote(row[year_j])} is not a year "
                                                 f"({EARLIEST_YEAR}..{LATEST_YEAR})"))
        if problems:
            name = f" ({_text(row[name_j])})" if name_j is not None and not _blank(row[name_j]) else ""
            rejects.append({
                "row_number": rn,
                "code": problems[0][0],
                "reason": f"row {rn}{name}: " + "; ".join(m for _, m in problems),
                "original": {h: v for h, v in zip(headers, row, strict=True) if not _blank(v)},
            })
            continue
        assert code is not None and people is not None
        first_row[code] = rn
        figures.append(PopulationFigure(code, people, year=row_year, source=source))
    return ParsedPopulation(figures, rejects, skipped)


def reason_counts(rejects: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many rejects of each reason code, for the import summary."""
    return dict(sorted(Counter(r["code"] for r in rejects).items()))
