"""The briefing's tables as a workbook (issue 9): the same tables as the PDF, numbers as numbers.

Sheets: Ringkasan (the headline figures with the previous period and the change, the period, when it was
produced, the SIMULASI note, the Dinas's notes), Instansi (with the total row), Kecamatan (every kecamatan and
the total row), Mingguan, Sosialisasi, BTS. Headers are the ``bcol_*`` strings of ``ntpd_map.i18n``. Agency
names and notes are text people typed: no cell is ever a formula (``ntpd_map.analytics.export.xlsx_as_text``).
"""

from __future__ import annotations

import io
from datetime import date
from typing import TYPE_CHECKING, Any

from ntpd_map.analytics.export import xlsx_as_text
from ntpd_map.briefing import AGENCY_COLUMNS, KECAMATAN_TABLE, Briefing
from ntpd_map.briefing.pdf import produced_text
from ntpd_map.i18n import t
from ntpd_map.views import zone_label

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

SHEETS = ("summary", "agencies", "kecamatan", "weekly", "socialisation", "bts")
WEEKLY_COLUMNS = ["week", "from", "to", "calls", "genuine", "prank", "ghost_dropped", "resolved",
                  "not_followed_up"]
SOCIALISATION_COLUMNS = ["rank", "kode", "kecamatan", "score", "reason"]
BTS_COLUMNS = ["rank", "kode", "desa", "kecamatan", "score", "reason"]
#: number formats: counts with a thousands separator, minutes and shares with one decimal
FORMATS = {"count": "#,##0", "one": "0.0", "two": "0.00", "date": "yyyy-mm-dd"}


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, NaN as an empty cell."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _table(ws: Worksheet, columns: list[str], rows: list[dict[str, Any]], lang: str, *, first_row: int = 1,
           total: dict[str, Any] | None = None, formats: dict[str, str] | None = None) -> None:
    """``rows`` under a bold header of ``bcol_<column>`` from ``first_row``, frozen below the header."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    formats = formats or {}
    head = Font(bold=True)
    fill = PatternFill("solid", fgColor="E8EEF5")
    for j, c in enumerate(columns, start=1):
        cell = ws.cell(first_row, j, t(f"bcol_{c}", lang))
        cell.font, cell.fill = head, fill
        cell.alignment = Alignment(wrap_text=True, vertical="bottom")
    body = [*rows, total] if total is not None else rows
    for i, rec in enumerate(body, start=first_row + 1):
        for j, c in enumerate(columns, start=1):
            cell = ws.cell(i, j, _plain(rec.get(c)))
            if c in formats:
                cell.number_format = FORMATS[formats[c]]
            if c == "reason":
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    if total is not None:
        last = first_row + len(body)
        for j in range(1, len(columns) + 1):
            cell = ws.cell(last, j)
            cell.font, cell.fill = head, fill
            cell.border = Border(top=Side(style="thin"))
    ws.freeze_panes = ws.cell(first_row + 1, 1)
    for j, c in enumerate(columns, start=1):
        longest = max([len(t(f"bcol_{c}", lang)) // 2, *(len(str(_plain(r.get(c)) or "")) for r in body), 6])
        ws.column_dimensions[ws.cell(first_row, j).column_letter].width = min(longest + 2, 70)


def _summary(ws: Worksheet, b: Briefing, lang: str) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill


    bold = Font(bold=True)
    ws.cell(1, 1, t("brief_heading", lang, region=b.region_name)).font = Font(bold=True, size=14)
    facts = [
        (t("bprint_region", lang), f"{b.region_name} ({b.region_code})"),
        (t("brief_period", lang), b.period.label(lang)),
        (t("bcol_from", lang), b.period.first),
        (t("bcol_to", lang), b.period.last),
        (t("bprint_before", lang), f"{b.previous.label(lang)} ({b.previous.first.isoformat()} .. "
                                   f"{b.previous.last.isoformat()})"),
        (t("bprint_produced_at", lang), produced_text(b, lang)),
        (t("bprint_timezone", lang), f"{zone_label(b.tz)} ({b.tz})"),
    ]
    row = 3
    if b.simulated:
        cell = ws.cell(2, 1, t("brief_simulated", lang))
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="B2182B")
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=5)
        row = 4
    for label, value in facts:
        ws.cell(row, 1, label).font = bold
        cell = ws.cell(row, 2, value)
        if isinstance(value, date):
            cell.number_format = FORMATS["date"]
            cell.alignment = Alignment(horizontal="left")
        row += 1
    row += 1
    ws.cell(row, 1, t("bprint_headline", lang)).font = Font(bold=True, size=12)
    row += 1
    header = [t("bprint_figure", lang), t("bprint_now", lang), t("bprint_before", lang), t("bprint_change", lang),
              t("bprint_change_pct", lang)]
    for j, text in enumerate(header, start=1):
        cell = ws.cell(row, j, text)
        cell.font, cell.fill = bold, PatternFill("solid", fgColor="E8EEF5")
    for key, change in b.headline.items():
        row += 1
        ws.cell(row, 1, t(f"brief_h_{key}", lang))
        for j, value in enumerate((change.value, change.previous, change.delta), start=2):
            ws.cell(row, j, value).number_format = FORMATS["count"]
        if change.percent is not None:
            ws.cell(row, 5, change.percent).number_format = FORMATS["one"]
        else:
            ws.cell(row, 5, t("brief_no_change" if change.delta == 0 else "brief_new", lang))
    row += 2
    ws.cell(row, 1, t("brief_notes", lang)).font = Font(bold=True, size=12)
    for line in (b.notes.splitlines() or [""]):
        row += 1
        ws.cell(row, 1, line).alignment = Alignment(wrap_text=False)
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 34
    for letter in "CDE":
        ws.column_dimensions[letter].width = 20


def render(briefing: Briefing, lang: str = "id") -> bytes:
    """The workbook's bytes."""
    from openpyxl import Workbook


    b = briefing
    book = Workbook()
    sheets = {key: (book.active if i == 0 else book.create_sheet()) for i, key in enumerate(SHEETS)}
    for key, ws in sheets.items():
        ws.title = t(f"bsheet_{key}", lang)
        if b.simulated:  # on every printed page of every sheet
            ws.oddHeader.center.text = t("brief_simulated", lang)
        ws.oddFooter.left.text = f"{t('brief_heading', lang, region=b.region_name)} - {b.period.label(lang)}"
        ws.oddFooter.right.text = "&P / &N"
    _summary(sheets["summary"], b, lang)

    minutes = {c: "one" for c in AGENCY_COLUMNS[5:]}
    counts = {c: "count" for c in ("received", "resolved", "not_followed_up", "open", "calls", "genuine", "prank",
                                   "ghost_dropped")}
    _table(sheets["agencies"], AGENCY_COLUMNS, b.agencies().to_dict("records"), lang,
           total=b.agency_total(lang), formats={**counts, **minutes})
    _table(sheets["kecamatan"], KECAMATAN_TABLE, b.kecamatan().to_dict("records"), lang,
           total=b.kecamatan_total(lang),
           formats={**counts, "prank_share": "one", "genuine_per_10k": "two"})
    weekly = [{**r, **{k: date.fromisoformat(r[k]) for k in ("week", "from", "to")}}
              for r in b.weekly().to_dict("records")]
    _table(sheets["weekly"], WEEKLY_COLUMNS, weekly, lang,
           formats={**counts, "week": "date", "from": "date", "to": "date"})
    _table(sheets["socialisation"], SOCIALISATION_COLUMNS, b.top_socialisation(lang).to_dict("records"), lang,
           formats={"score": "one"})
    _table(sheets["bts"], BTS_COLUMNS, b.top_bts(lang).to_dict("records"), lang, formats={"score": "one"})

    book.properties.title = f"{t('brief_heading', lang, region=b.region_name)} - {b.period.label(lang)}"
    book.properties.creator = t("bprint_author", lang, region=b.region_name)
    book.properties.subject = t("bprint_subject", lang, period=b.period.label(lang))
    if b.simulated:
        book.properties.keywords = t("bprint_simulated", lang)
    xlsx_as_text(book)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
