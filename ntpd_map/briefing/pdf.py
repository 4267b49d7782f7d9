"""The briefing printed: an A4 PDF a Bupati reads in a meeting (issue 9), in Bahasa Indonesia unless asked.

Every figure is a field or a table of ``ntpd_map.briefing.Briefing`` (so of the recap behind ``/api/recap``);
the maps and charts are drawn on the server by ``ntpd_map.briefing.maps``. Text is set in DejaVu Sans, taken
from the TTF files matplotlib ships (so no system font is needed and every Indonesian character renders),
embedded as a subset with its Unicode map, so the PDF's text can be searched and copied. Nothing personal is
in the model, so nothing personal can be printed.

Pages: the headline figures and the agencies; every kecamatan and the map of genuine calls per 10,000 people;
the weekly trend; where to socialise 112 first (map and top 10); the desa to propose for a BTS (map and top
10); the Dinas's notes, or ruled lines to write them on. Each page carries the period, "Halaman X dari Y" and,
when the data is simulated, a SIMULASI band.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from ntpd_map.briefing import (
    AGENCY_COLUMNS,
    GOOD_WHEN_UP,
    Briefing,
    Change,
    Period,
    change_text,
    maps,
)
from ntpd_map.fmt import day_text, number
from ntpd_map.i18n import t
from ntpd_map.views import zone_label

if TYPE_CHECKING:
    from ntpd_map.geo.boundaries import Region

FONT, BOLD = "DejaVuSans", "DejaVuSans-Bold"
MARGIN_MM = 18
INK = "#1a1a1a"
MUTED = "#555555"
RULE = "#b8b8b8"
HEAD_BG = "#e8eef5"
SIMULATED_BG = "#b2182b"
#: good news blue, bad news vermillion (Okabe-Ito: told apart with every common colour-vision deficiency)
GOOD, BAD = "#0072B2", "#D55E00"
#: the share of a page's height a map takes above its top-10 table
MAP_SHARE = 0.53
_FONTS_LOCK = threading.Lock()


def fonts() -> tuple[str, str]:
    """Register DejaVu Sans and its bold from matplotlib's own copies (once per process)."""
    import matplotlib
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    with _FONTS_LOCK:  # reportlab's font registry is one per process, shared by a server's threads
        if BOLD not in pdfmetrics.getRegisteredFontNames():
            folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
            pdfmetrics.registerFont(TTFont(FONT, str(folder / "DejaVuSans.ttf")))
            pdfmetrics.registerFont(TTFont(BOLD, str(folder / "DejaVuSans-Bold.ttf")))
            for italic in (0, 1):  # no italic is used; <i> falls back to the upright faces
                addMapping(FONT, 0, italic, FONT)
                addMapping(FONT, 1, italic, BOLD)
    return FONT, BOLD


def _change_colour(key: str, change: Change) -> str:
    good = GOOD_WHEN_UP[key]
    if good is None or change.delta == 0 or change.percent is None:
        return INK
    return GOOD if (change.delta > 0) == good else BAD


def produced_text(briefing: Briefing, lang: str = "id") -> str:
    """When the briefing was made, in the center's zone: ``23 November 2026 14:20 WITA``."""
    local = datetime.fromtimestamp(briefing.produced_at, UTC).astimezone(ZoneInfo(briefing.tz))
    return f"{day_text(local.date(), lang)} {local:%H:%M} {zone_label(briefing.tz)}"


def period_text(period: Period, lang: str = "id") -> str:
    """A month or quarter with its dates (``Triwulan III 2025 (1 Juli 2025 - 30 September 2025)``); a custom
    period is its dates already."""
    if period.kind == "custom":
        return period.label(lang)
    return f"{period.label(lang)} ({day_text(period.first, lang)} - {day_text(period.last, lang)})"


def _minutes(value: float | None, lang: str) -> str:
    return t("none", lang) if value is None else number(value, lang, 1)


def _count(value: Any, lang: str) -> str:
    return number(int(value), lang)


class _Styles:
    def __init__(self) -> None:
        from reportlab.lib import colors
        from reportlab.lib.enums import TA_RIGHT
        from reportlab.lib.styles import ParagraphStyle

        fonts()
        ink = colors.HexColor(INK)
        self.body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, textColor=ink)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=7.5, leading=9.5,
                                    textColor=colors.HexColor(MUTED))
        self.kicker = ParagraphStyle("kicker", parent=self.body, fontName=BOLD, fontSize=10, leading=13,
                                     textColor=colors.HexColor(MUTED), spaceAfter=2)
        self.title = ParagraphStyle("title", parent=self.body, fontName=BOLD, fontSize=17, leading=21,
                                    spaceAfter=6)
        self.h2 = ParagraphStyle("h2", parent=self.body, fontName=BOLD, fontSize=12, leading=15, spaceBefore=10,
                                 spaceAfter=5, keepWithNext=True)
        self.cell = ParagraphStyle("cell", parent=self.body, fontSize=8, leading=10)
        self.cell_bold = ParagraphStyle("cellb", parent=self.cell, fontName=BOLD)
        self.num = ParagraphStyle("num", parent=self.cell, alignment=TA_RIGHT)
        self.head = ParagraphStyle("head", parent=self.cell, fontName=BOLD, fontSize=7.5, leading=9)
        self.head_num = ParagraphStyle("headn", parent=self.head, alignment=TA_RIGHT)
        self.big = ParagraphStyle("big", parent=self.cell, fontName=BOLD, fontSize=11, leading=13,
                                  alignment=TA_RIGHT)


def _p(text: Any, style: Any) -> Any:
    """A paragraph of plain text: user text (agency names, notes) is escaped, never read as markup."""
    from reportlab.platypus import Paragraph

    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def _header(text: str, style: Any, max_width: float) -> Any:
    """A header cell: words wider than ``max_width`` break after a "/" ("Kosong/" "terputus") rather than
    letter by letter."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import Paragraph

    words = []
    for word in text.split(" "):
        if "/" in word and stringWidth(word, style.fontName, style.fontSize) > max_width:
            word = "/<br/>".join(escape(part) for part in word.split("/"))
        else:
            word = escape(word)
        words.append(word)
    return Paragraph(" ".join(words), style)


def _widths(headers: list[str], style: Any, width: float, samples: list[str], first_min: float) -> list[float]:
    """Column widths: each column after the first as wide as its header's longest word (a "/" may break a
    word) or its widest value, the first column the rest, so no header splits a word letter by letter."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    pad = 7.0
    out = []
    for header, sample in zip(headers[1:], samples[1:], strict=True):
        pieces = [p for word in header.split(" ") for p in word.split("/")]
        widest = max(stringWidth(p + "/", style.fontName, style.fontSize) for p in pieces)
        out.append(max(widest, stringWidth(sample, FONT, 8.0), 30.0) + pad)
    rest = width - sum(out)
    if rest < first_min:  # shrink the other columns in proportion; their headers then wrap more
        scale = (width - first_min) / sum(out)
        out, rest = [w * scale for w in out], first_min
    return [rest, *out]


def _table(rows: list[list[Any]], widths: list[float], *, total: bool = False, header_rows: int = 1,
           extra: Sequence[tuple[Any, ...]] = ()) -> Any:
    """A table whose header rows repeat on every page it spans, zebra rows and a ruled total row."""
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, colWidths=widths, repeatRows=header_rows, hAlign="LEFT")
    h = header_rows - 1
    style: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, h), colors.HexColor(HEAD_BG)),
        ("VALIGN", (0, 0), (-1, h), "BOTTOM"),
        ("VALIGN", (0, h + 1), (-1, -1), "TOP"),
        ("LINEBELOW", (0, h), (-1, h), 0.8, colors.HexColor(INK)),
        ("LINEBELOW", (0, h + 1), (-1, -1), 0.25, colors.HexColor(RULE)),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    style += [("ROWBACKGROUNDS", (0, h + 1), (-1, -2 if total else -1), [colors.white, colors.HexColor("#f6f6f6")])]
    if total:
        style += [("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.HexColor(INK)),
                  ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor(HEAD_BG))]
    style += list(extra)
    table.setStyle(TableStyle(style))
    return table


def _image(png: bytes, width: float, max_height: float) -> Any:
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Image

    w, h = ImageReader(io.BytesIO(png)).getSize()
    scale = min(width / w, max_height / h)
    return Image(io.BytesIO(png), width=w * scale, height=h * scale)


def _headline(briefing: Briefing, s: _Styles, lang: str, width: float) -> Any:
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph

    def period(label: str) -> Any:
        return Paragraph(escape(label).replace(" - ", " -<br/>"), s.head_num)

    head = [_p(t("bprint_figure", lang), s.head), period(briefing.period.label(lang)),
            period(briefing.previous.label(lang)), _p(t("bprint_change", lang), s.head_num)]
    rows = [head]
    for key, change in briefing.headline.items():
        colour = ParagraphStyle(f"chg-{key}", parent=s.num, textColor=colors.HexColor(_change_colour(key, change)))
        rows.append([_p(t(f"brief_h_{key}", lang), s.cell_bold), _p(_count(change.value, lang), s.big),
                     _p(_count(change.previous, lang), s.num), _p(change_text(change, lang), colour)])
    return _table(rows, [width * 0.34, width * 0.22, width * 0.22, width * 0.22])


MINUTE_COLUMNS = ("dispatch_median", "dispatch_p90", "arrival_median", "arrival_p90")


def _agencies(briefing: Briefing, s: _Styles, lang: str, width: float) -> Any:
    """Per agency, with the total row. The minute columns share a header over two rows: "Menit ke pengiriman"
    over "median" and "p90" (the ``bcol_*`` header split at its parenthesis), so the table fits the page."""
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle


    headers = [t(f"bcol_{c}", lang) for c in AGENCY_COLUMNS]
    split = [re.fullmatch(r"(.+) \((.+)\)", h) if c in MINUTE_COLUMNS else None
             for c, h in zip(AGENCY_COLUMNS, headers, strict=True)]
    lower = [m[2] if m else h for m, h in zip(split, headers, strict=True)]
    widths = _widths(lower, s.head, width, ["", "9.999", "9.999", "9.999", "9.999"] + ["999,9"] * 4, 100)
    top: list[Any] = ["" for _ in headers]
    spans = []
    for i, m in enumerate(split):
        if m and (i == 0 or not split[i - 1] or split[i - 1][1] != m[1]):  # type: ignore[index]
            top[i] = _p(m[1], ParagraphStyle("grp", parent=s.head, alignment=1))
            spans.append(("SPAN", (i, 0), (i + 1, 0)))
    second = [_header(h, s.head if i == 0 else s.head_num, w - 7) for i, (h, w) in
              enumerate(zip(lower, widths, strict=True))]
    rows = [top, second]

    def row(rec: dict[str, Any], style: Any, num: Any) -> list[Any]:
        out = [_p(rec["agency"], style)]
        for c in AGENCY_COLUMNS[1:]:
            value = None if _isnan(rec[c]) else rec[c]
            out.append(_p(_minutes(value, lang) if c in MINUTE_COLUMNS else _count(value, lang), num))
        return out

    num_bold = ParagraphStyle("numb", parent=s.num, fontName=BOLD)
    for rec in briefing.agencies().to_dict("records"):
        rows.append(row(rec, s.cell, s.num))
    rows.append(row(briefing.agency_total(lang), s.cell_bold, num_bold))
    first_minute = AGENCY_COLUMNS.index(MINUTE_COLUMNS[0])
    return _table(rows, widths, total=True, header_rows=2, extra=[
        *spans, ("LINEBELOW", (first_minute, 0), (-1, 0), 0.4, colors.HexColor(RULE)),
        ("TOPPADDING", (0, 1), (-1, 1), 1)])


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and value != value


KECAMATAN_PRINTED = ["kecamatan", "calls", "genuine", "prank", "ghost_dropped", "resolved", "not_followed_up",
                     "prank_share", "genuine_per_10k"]


def _kecamatan(briefing: Briefing, s: _Styles, lang: str, width: float) -> Any:
    from reportlab.lib.styles import ParagraphStyle

    frame = briefing.kecamatan()
    headers = [t(f"bcol_{c}", lang) for c in KECAMATAN_PRINTED]
    widths = _widths(headers, s.head, width, ["", *["99.999"] * 6, "99,9", "999,99"], 100)
    rows = [[_header(h, s.head if i == 0 else s.head_num, w - 7) for i, (h, w) in
             enumerate(zip(headers, widths, strict=True))]]

    def cells(rec: dict[str, Any], style: Any, num: Any) -> list[Any]:
        out = [_p(rec["kecamatan"], style)]
        for c in KECAMATAN_PRINTED[1:]:
            value = rec[c]
            if value is None or _isnan(value):
                out.append(_p(t("none", lang), num))
            elif c == "prank_share":
                out.append(_p(number(value, lang, 1), num))
            elif c == "genuine_per_10k":
                out.append(_p(number(value, lang, 2), num))
            else:
                out.append(_p(_count(value, lang), num))
        return out

    for rec in frame.to_dict("records"):
        rows.append(cells(rec, s.cell, s.num))
    num_bold = ParagraphStyle("numb", parent=s.num, fontName=BOLD)
    rows.append(cells(briefing.kecamatan_total(lang), s.cell_bold, num_bold))
    return _table(rows, widths, total=True)


def _ranking(frame: Any, columns: list[str], s: _Styles, lang: str, widths: list[float]) -> Any:
    rows = [[_p(t(f"bcol_{c}", lang), s.head_num if c in ("rank", "score") else s.head) for c in columns]]
    for rec in frame.to_dict("records"):
        rows.append([_p(_count(rec[c], lang), s.num) if c == "rank" else
                     _p(number(rec[c], lang, 1), s.num) if c == "score" else _p(rec[c], s.cell) for c in columns])
    return _table(rows, widths)


def _notes(briefing: Briefing, s: _Styles, lang: str, width: float) -> list[Any]:
    from reportlab.platypus import Spacer

    if briefing.notes.strip():
        return [_p(part, s.body) for part in re.split(r"\n\s*\n", briefing.notes.strip())]
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    lines = Table([[""] for _ in range(14)], colWidths=[width], rowHeights=[24] * 14)
    lines.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.5, colors.HexColor(RULE))]))
    return [_p(t("bprint_no_notes", lang), s.small), Spacer(1, 4), lines]


def _story(briefing: Briefing, region: Region, lang: str, s: _Styles, width: float, height: float,
           pictures: dict[str, bytes]) -> list[Any]:
    from reportlab.platypus import CondPageBreak, KeepTogether, PageBreak, Paragraph, Spacer

    mm = 72 / 25.4
    b, out = briefing, []
    out.append(_p(t("briefing_title", lang), s.kicker))
    out.append(_p(t("brief_heading", lang, region=b.region_name), s.title))
    out.append(_p(f"{t('brief_period', lang)}: {period_text(b.period, lang)}, "
                  f"{t('brief_previous', lang, period=period_text(b.previous, lang))}", s.body))
    out.append(_p(t("brief_produced", lang, time=produced_text(b, lang)), s.body))
    out.append(Spacer(1, 4 * mm))
    out.append(_p(t("bprint_headline", lang), s.h2))
    out.append(_headline(b, s, lang, width))
    if any(_change_colour(k, c) != INK for k, c in b.headline.items()):
        out.append(Spacer(1, 1.5 * mm))
        out.append(Paragraph(t("bprint_colours", lang, good=GOOD, bad=BAD), s.small))
    out.append(_p(t("brief_agencies", lang), s.h2))
    out.append(_agencies(b, s, lang, width))
    out.append(Spacer(1, 2 * mm))
    out.append(_p(t("brief_agencies_note", lang), s.small))

    out.append(PageBreak())
    out.append(_p(t("brief_kecamatan", lang), s.h2))
    out.append(_kecamatan(b, s, lang, width))
    calls = b.recap["calls"]["total"]
    unlocated = calls - sum(c["calls"] for c in b.recap["kecamatan"].values())
    missing = b.recap["genuine"]["without_location"]
    if unlocated:
        out.append(Spacer(1, 2 * mm))
        out.append(_p(t("bprint_kecamatan_unlocated", lang, n=number(unlocated, lang), total=number(calls, lang)),
                      s.small))
    if missing:
        out.append(_p(t("brief_kecamatan_note", lang, n=number(missing, lang)), s.small))
    out.append(PageBreak())
    out.append(KeepTogether([_p(t("brief_map_genuine", lang), s.h2),
                             _image(pictures["genuine"], width, height * 0.9)]))

    out.append(PageBreak())
    out.append(_p(t("brief_weekly", lang), s.h2))
    out.append(_image(pictures["weekly"], width, height * 0.7))
    out.append(Spacer(1, 2 * mm))
    out.append(_p(t("bchart_note", lang), s.small))

    out.append(PageBreak())
    out.append(KeepTogether([_p(t("brief_socialisation", lang), s.h2),
                             _image(pictures["socialisation"], width, height * MAP_SHARE)]))
    out.append(Spacer(1, 2 * mm))
    out.append(_ranking(b.top_socialisation(lang), ["rank", "kecamatan", "score", "reason"], s, lang,
                        [width * 0.1, width * 0.2, width * 0.08, width * 0.62]))

    out.append(PageBreak())
    out.append(KeepTogether([_p(t("brief_bts", lang), s.h2), _image(pictures["bts"], width, height * MAP_SHARE)]))
    out.append(Spacer(1, 2 * mm))
    out.append(_ranking(b.top_bts(lang), ["rank", "desa", "kecamatan", "score", "reason"], s, lang,
                        [width * 0.1, width * 0.17, width * 0.16, width * 0.08, width * 0.49]))

    out.append(CondPageBreak(height * 0.3))
    out.append(_p(t("brief_notes", lang), s.h2))
    out.extend(_notes(b, s, lang, width))
    return out


def pictures(briefing: Briefing, region: Region, lang: str = "id", *, width: float = 482.0,
             height: float = 722.0) -> dict[str, bytes]:
    """The maps and the weekly charts of the briefing as PNG bytes, drawn at the size they are printed in a
    frame of ``width`` x ``height`` points, so their text keeps the size it was set in."""
    w, h = width / 72, height / 72
    kec = briefing.kecamatan().set_index("kode")
    half = {"width_in": w, "max_height_in": h * MAP_SHARE}
    return {
        "genuine": maps.genuine_map(region, kec["genuine_per_10k"], lang, width_in=w, max_height_in=h * 0.85),
        "socialisation": maps.socialisation_map(region, briefing.socialisation.set_index("kode")["score"], lang,
                                                **half),
        "bts": maps.bts_map(region, briefing.top_bts(lang).set_index("kode")["rank"], lang, **half),
        "weekly": maps.weekly_png(briefing.weekly(), lang, width_in=w),
    }


def render(briefing: Briefing, region: Region, lang: str = "id") -> bytes:
    """The briefing as an A4 PDF (bytes)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate

    s = _Styles()
    mm = 72 / 25.4
    page_w, page_h = A4
    b = briefing
    band = t("brief_simulated", lang) if b.simulated else ""
    top, bottom = (20 if band else 16) * mm, 18 * mm
    # the frame platypus fills: inside the margins, less its own padding of 6 pt on each side
    width, height = page_w - 2 * MARGIN_MM * mm - 12, page_h - top - bottom - 12
    footer_left = f"{t('brief_heading', lang, region=b.region_name)} · {t('brief_period', lang)} {b.period.label(lang)}"
    pictured = pictures(b, region, lang, width=width, height=height)

    def decorate(canvas: Any, doc: Any, total: int) -> None:
        canvas.saveState()
        if band:
            canvas.setFillColor(colors.HexColor(SIMULATED_BG))
            canvas.rect(0, page_h - 12 * mm, page_w, 12 * mm, stroke=0, fill=1)
            canvas.setFillColor(colors.white)
            canvas.setFont(BOLD, 9.5)
            canvas.drawCentredString(page_w / 2, page_h - 7.4 * mm, band)
        canvas.setStrokeColor(colors.HexColor(RULE))
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN_MM * mm, 13 * mm, page_w - MARGIN_MM * mm, 13 * mm)
        canvas.setFillColor(colors.HexColor(MUTED))
        canvas.setFont(FONT, 7.5)
        canvas.drawString(MARGIN_MM * mm, 9 * mm, footer_left)
        canvas.setFont(BOLD, 7.5)
        canvas.drawRightString(page_w - MARGIN_MM * mm, 9 * mm, t("brief_page", lang, n=doc.page, total=total))
        canvas.restoreState()

    def build(total: int) -> tuple[bytes, int]:
        buf = io.BytesIO()
        doc = SimpleDocTemplate(
            buf, pagesize=A4, leftMargin=MARGIN_MM * mm, rightMargin=MARGIN_MM * mm,
            topMargin=top, bottomMargin=bottom,
            title=f"{t('brief_heading', lang, region=b.region_name)} - {b.period.label(lang)}",
            author=t("bprint_author", lang, region=b.region_name),
            subject=t("bprint_subject", lang, period=b.period.label(lang)),
            creator="ntpd-map", keywords=["NTPD 112", b.region_name, b.period.key], lang="id-ID" if lang == "id"
            else "en",
        )
        pages = [0]

        def on_page(canvas: Any, doc: Any) -> None:
            pages[0] = doc.page
            decorate(canvas, doc, total)

        doc.build(_story(b, region, lang, s, width, height, pictured), onFirstPage=on_page, onLaterPages=on_page)
        return buf.getvalue(), pages[0]

    # "Halaman X dari Y" needs Y: lay the document out once to count its pages, then for good
    _, total = build(0)
    pdf, again = build(total)
    if again != total:  # cannot happen: the footer's width does not move the body's frames
        raise RuntimeError(f"the briefing laid out to {total} then {again} pages")
    return pdf


def page_count(pdf: bytes) -> int:
    """Pages of a PDF this module wrote (its page tree is a single /Pages object with a /Count)."""
    found = re.search(rb"/Type /Pages\b[^>]*?/Count (\d+)|/Count (\d+)[^>]*?/Type /Pages\b", pdf)
    if not found:
        raise ValueError("no page tree found")
    return int(found.group(1) or found.group(2))
