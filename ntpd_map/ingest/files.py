"""Recap files as tables of raw values (CSV, XLSX), and the CSV of rejected rows written beside a summary."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

DELIMITERS = (",", ";", "\t")
ENCODINGS = ("utf-8-sig", "cp1252")  # utf-8-sig also reads UTF-8 without a BOM
_SNIFF_BYTES = 64 * 1024
# a header cell that looks like a value (a number, a date, a time) means the first row is data
_VALUE_LIKE = re.compile(r"[-+]?\d+([.,]\d+)?|\d{1,4}[-/]\d{1,2}[-/]\d{1,4}.*|\d{1,2}:\d{2}(:\d{2})?")


def table_from_file(path: str | Path) -> pd.DataFrame:
    """The first sheet or the CSV at ``path`` as a frame of raw values, one column per header cell.

    CSV: UTF-8 (with or without BOM) or Windows-1252, delimiter ``,`` ``;`` or tab (sniffed from the header),
    every value a string, empty cells "" (never NaN). XLSX: the first sheet, header in row 1, cells as
    openpyxl reads them (strings, numbers, datetimes). Row i of the frame is spreadsheet row i + 2.
    Raises ValueError, saying what to do, for another extension, an empty file or a file without a header.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = _read_csv(path)
    elif suffix == ".xlsx":
        table = _read_xlsx(path)
    else:
        raise ValueError(f"{path.name}: cannot read {suffix or 'files without an extension'}; "
                         "save the recap as .csv (UTF-8) or .xlsx")
    _check_header(path, [str(c) for c in table.columns])
    return table


_BLANK = "\x00unnamed "  # placeholder for a header cell without a name, until its column is known to be empty


def _check_header(path: Path, header: list[str]) -> None:
    if not header or all(not h.strip() or h.startswith(_BLANK) for h in header):
        raise ValueError(f"{path.name}: the first row is empty; row 1 must hold the column names "
                         "(id, waktu, jenis_panggilan, ...)")
    looks_like_data = [h for h in header if _VALUE_LIKE.fullmatch(h.strip())]
    if looks_like_data:
        raise ValueError(f"{path.name}: row 1 holds values ({looks_like_data[0]!r}), not column names; "
                         "add a header row (id, waktu, jenis_panggilan, ...)")
    seen: set[str] = set()
    for h in header:
        if h.strip() in seen:
            raise ValueError(f"{path.name}: column {h.strip()!r} appears twice in row 1; rename one")
        seen.add(h.strip())


def _named(header: list[str]) -> list[str]:
    """Header cells stripped, empty ones replaced by placeholders (see ``_drop_unnamed``)."""
    return [h.strip() or f"{_BLANK}{j + 1}" for j, h in enumerate(header)]


def _drop_unnamed(path: Path, table: pd.DataFrame) -> pd.DataFrame:
    """Drop columns without a name and without a value (a sheet's formatting, a trailing delimiter);
    a column with values but no name is an error, not a guess."""
    drop = []
    for j, name in enumerate(table.columns):
        if str(name).startswith(_BLANK):
            if table.iloc[:, j].map(lambda v: not _missing(v) and str(v).strip() != "").any():
                raise ValueError(f"{path.name}: column {j + 1} has values but no name in row 1; "
                                 "name it or delete the column")
            drop.append(name)
    return table.drop(columns=drop) if drop else table


def _read_csv(path: Path) -> pd.DataFrame:
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError(f"{path.name}: is UTF-16; save it as 'CSV UTF-8' (or XLSX) and import again")
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise ValueError(f"{path.name}: the file is empty; it needs a header row and one row per call")
    last_error: Exception | None = None
    for encoding in ENCODINGS:
        try:
            # a multi-byte character may be cut at the end of the sample: only the first line matters here
            first = head.decode(encoding, errors="strict" if len(head) < _SNIFF_BYTES else "ignore")
            header_line = next(iter(first.splitlines()), "")
            sep = _sniff(header_line)
            raw_header = next(csv.reader([header_line], delimiter=sep), [])
            header = _named(raw_header)
            _check_header(path, header)
            table = _read_csv_arrow(path, sep, encoding, raw_header)
            if table is None:
                table = pd.read_csv(
                    path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False, na_filter=False,
                    index_col=False, skip_blank_lines=False, header=0,
                )
        except UnicodeDecodeError as exc:
            last_error = exc
            continue
        except pd.errors.ParserError as exc:
            raise ValueError(f"{path.name}: {exc}".replace("C error: ", "").strip()) from exc
        except pd.errors.EmptyDataError as exc:
            raise ValueError(f"{path.name}: the file is empty; it needs a header row") from exc
        if len(header) == len(table.columns):
            table.columns = header
        return _drop_unnamed(path, table)
    raise ValueError(f"{path.name}: is neither UTF-8 nor Windows-1252 text ({last_error}); "
                     "save it as 'CSV UTF-8' and import again")


def _read_csv_arrow(path: Path, sep: str, encoding: str, header: list[str]) -> pd.DataFrame | None:
    """Arrow's CSV reader: ~6x faster than pandas' on 1M rows (issue 4 bench). None when the file needs the
    forgiving pandas reader (short rows, blank lines) or is not valid text in ``encoding``."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        table = pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(encoding="utf8" if encoding == "utf-8-sig" else encoding),
            parse_options=pcsv.ParseOptions(delimiter=sep, newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    if table.column_names != header or any(t != pa.string() for t in table.schema.types):
        return None
    return table.to_pandas()


def _sniff(header_line: str) -> str:
    """The delimiter that splits the header into the most cells (a comma on a tie)."""
    counts = {d: len(next(csv.reader([header_line], delimiter=d), [])) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: (counts[d], d == ","))


def _read_xlsx(path: Path) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise ValueError(f"{path.name}: the file is empty")
    try:
        table = pd.read_excel(path, sheet_name=0, header=None, dtype=object, engine="openpyxl")
    except Exception as exc:  # a corrupt or password-protected workbook: zipfile, openpyxl and lxml errors
        raise ValueError(f"{path.name}: cannot be read as an XLSX workbook ({exc})") from exc
    if table.empty:
        raise ValueError(f"{path.name}: the first sheet is empty; it needs a header row and one row per call")
    body = table.iloc[1:].reset_index(drop=True)
    body.columns = _named(["" if _missing(v) else str(v) for v in table.iloc[0]])
    _check_header(path, list(body.columns))
    return _drop_unnamed(path, body)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NaT


# ------------------------------------------------------------------------------------------- rejects

_FORMULA = re.compile(r"[=@\t\r]|[+-](?![\d\s.,()-]*$)")


def _cell(value: Any) -> str:
    """A reject cell, safe to open in a spreadsheet: text that would start a formula gets a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text and _FORMULA.match(text) else text


def write_rejects_csv(rejects: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    """Write rejected rows as CSV (UTF-8 with BOM, for spreadsheets): row_number, reason, then the original
    columns in the order first seen. Returns the path."""
    rejects = list(rejects)
    columns: dict[str, None] = {}
    for r in rejects:
        for c in r.get("original", {}):
            columns.setdefault(str(c), None)
    original_cols = [c for c in columns if c not in ("row_number", "reason")]
    path = Path(path)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["row_number", "reason", *original_cols])
    for r in rejects:
        original = r.get("original", {})
        writer.writerow([r["row_number"], _cell(r["reason"]), *(_cell(original.get(c)) for c in original_cols)])
    path.write_text(buf.getvalue(), encoding="utf-8-sig")
    return path
