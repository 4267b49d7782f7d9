"""A list of blank-spot desa (issue 7): the Dinas's own list, a BAKTI/Komdigi list, a kecamatan's letter.

A CSV or XLSX with a header row, one desa a row, named by its Kemendagri code (``kode``, ``kode_desa``,
``kode_wilayah``, ``kode_kemendagri``; dots optional) or by name (``desa``, ``nama_desa``, ``nama``,
``desa_kelurahan``), with ``kecamatan`` to tell apart desa of one name. Optional columns: ``status``/
``status_sinyal``/``sinyal`` (tidak ada sinyal, lemah, 2G saja, baik; default: the import's status, "tidak ada
sinyal"), ``keterangan``/``bukti``/``evidence``/``catatan``, ``operator``, ``tanggal_survei``/``tanggal``
(YYYY-MM-DD or DD/MM/YYYY).

Each accepted row becomes a coverage mark by author ``import:<file name>``; a desa whose current mark already
says the same is left alone, so importing the list again changes nothing. A code of another kab/kota is skipped
and counted (a provinsi-wide list is fine). Rejected, with the spreadsheet row number (the header is row 1): an
unknown code or name (with the closest names), a name of several desa (naming each with its code and
kecamatan), a code and name that disagree, a desa listed twice, an unknown status, a bad date.
"""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from ntpd_map.domain import CoverageMark, SignalStatus
from ntpd_map.geo.codes import normalise_code
from ntpd_map.geo.signal import STATUS_HINT, status_from_text
from ntpd_map.ingest.places import _DESA_PREFIXES, _KEC_PREFIXES, _fold_name
from ntpd_map.ingest.population import _blank, _column, _quote, _text

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.geo.boundaries import Region

CODE_COLUMNS = ("kode", "kode_desa", "kode_wilayah", "kode_kemendagri")
NAME_COLUMNS = ("desa", "nama_desa", "nama", "desa_kelurahan", "desa/kelurahan", "kelurahan", "village")
KEC_COLUMNS = ("kecamatan", "nama_kecamatan", "kec")
STATUS_COLUMNS = ("status", "status_sinyal", "sinyal", "kondisi_sinyal", "signal")
EVIDENCE_COLUMNS = ("keterangan", "bukti", "evidence", "catatan", "notes")
OPERATOR_COLUMNS = ("operator", "operators", "operator_seluler", "provider")
DATE_COLUMNS = ("tanggal_survei", "tanggal", "survey_date", "surveyed_on", "tgl_survei")


class ParsedBlankSpots(NamedTuple):
    marks: list[CoverageMark]
    rejects: list[dict[str, Any]]
    skipped_other_region: int
    blank_rows: int


def _survey_date(value: Any) -> str | None:
    if isinstance(value, datetime | date):
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    text = _text(value)
    m = re.fullmatch(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})", text)
    try:
        if m:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1))).isoformat()
        return date.fromisoformat(text[:10]).isoformat() if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
                                                                         r"([ T].*)?", text) else None
    except ValueError:
        return None


class _Names:
    """Desa of the region by code and by folded name."""

    def __init__(self, region: Region) -> None:
        self.fold_desa = lambda t: _fold_name(t, _DESA_PREFIXES)
        self.fold_kec = lambda t: _fold_name(t, _KEC_PREFIXES)
        desa = region.desa
        self.codes = desa["kode"].astype(str).tolist()
        self.names = desa["nama"].astype(str).tolist()
        self.kec_of = desa["kode_kec"].astype(str).tolist()
        self.kec_name = dict(zip(region.kecamatan["kode"].astype(str), region.kecamatan["nama"].astype(str),
                                 strict=True))
        self.by_code = {c: i for i, c in enumerate(self.codes)}
        self.by_name: dict[str, list[int]] = {}
        for i, name in enumerate(self.names):
            self.by_name.setdefault(self.fold_desa(name), []).append(i)

    def label(self, i: int) -> str:
        return f"{self.codes[i]} {self.names[i]} (Kec. {self.kec_name.get(self.kec_of[i], self.kec_of[i])})"

    def closest(self, name: str) -> str:
        close = difflib.get_close_matches(self.fold_desa(name), list(self.by_name), n=3, cutoff=0.75)
        found = [self.label(i) for c in close for i in self.by_name[c]]
        return f"; closest: {', '.join(found)}" if found else ""


def marks_from_table(table: pd.DataFrame, region: Region, *, author: str,
                     default_status: SignalStatus = SignalStatus.NONE,
                     first_row_number: int = 2) -> ParsedBlankSpots:
    """Coverage marks of the region's desa from a table of raw values (as ``table_from_file`` reads it); see
    the module docstring. Raises ValueError when the file has neither a code nor a name column."""
    headers = [str(c).strip() for c in table.columns]
    code_j, name_j = _column(headers, CODE_COLUMNS), _column(headers, NAME_COLUMNS)
    if code_j is None and name_j is None:
        raise ValueError(f"no column naming the desa: give its Kemendagri code ({' or '.join(CODE_COLUMNS)}) or its "
                         f"name ({' or '.join(NAME_COLUMNS)}); the file has columns "
                         + ", ".join(repr(h) for h in headers))
    kec_j, status_j = _column(headers, KEC_COLUMNS), _column(headers, STATUS_COLUMNS)
    ev_j, op_j, date_j = _column(headers, EVIDENCE_COLUMNS), _column(headers, OPERATOR_COLUMNS), \
        _column(headers, DATE_COLUMNS)
    names = _Names(region)
    place = f"{region.name} ({region.code})"
    inside = region.code + "."

    marks: list[CoverageMark] = []
    rejects: list[dict[str, Any]] = []
    skipped = blank = 0
    first_row: dict[str, int] = {}
    for i, row in enumerate(table.itertuples(index=False, name=None)):
        if all(_blank(v) for v in row):
            blank += 1
            continue
        rn = first_row_number + i
        problems: list[tuple[str, str]] = []
        raw_code = None if code_j is None or _blank(row[code_j]) else row[code_j]
        raw_name = None if name_j is None or _blank(row[name_j]) else _text(row[name_j])
        raw_kec = None if kec_j is None or _blank(row[kec_j]) else _text(row[kec_j])
        found: int | None = None
        if raw_code is not None:
            try:
                code = normalise_code(_text(raw_code))
            except ValueError:
                code = None
                problems.append(("kode_invalid", f"{headers[code_j or 0]} {_quote(raw_code)} is not a Kemendagri "
                                                 "desa code (53.03.06.2001, dots optional)"))
            if code is not None:
                if not (code.startswith(inside) or region.code.startswith(code + ".") or code == region.code):
                    skipped += 1
                    continue
                if code.count(".") != 3:
                    problems.append(("kode_not_desa", f"{headers[code_j or 0]} {_quote(raw_code)} is not a desa "
                                                      "code (53.03.06.2001)"))
                elif code not in names.by_code:
                    problems.append(("kode_not_in_region", f"{headers[code_j or 0]} {_quote(raw_code)} is no desa of "
                                                           f"{place}"))
                else:
                    found = names.by_code[code]
                    if raw_name and names.fold_desa(raw_name) != names.fold_desa(names.names[found]):
                        problems.append(("kode_name_mismatch", f"{headers[code_j or 0]} {_quote(raw_code)} is desa "
                                         f"{names.names[found]}, not {_quote(raw_name)}; correct one of them"))
                        found = None
        elif raw_name is not None:
            candidates = names.by_name.get(names.fold_desa(raw_name), [])
            label = f"{headers[name_j or 0]} {_quote(raw_name)}"
            if raw_kec is not None and candidates:
                in_kec = [c for c in candidates if names.fold_kec(names.kec_name.get(names.kec_of[c], ""))
                          == names.fold_kec(raw_kec)]
                if not in_kec:
                    problems.append(("name_not_in_kecamatan", f"{label} is not in kecamatan {_quote(raw_kec)}; it "
                                     f"is {', '.join(names.label(c) for c in candidates)}"))
                candidates = in_kec
            if len(candidates) == 1:
                found = candidates[0]
            elif len(candidates) > 1:
                problems.append(("name_ambiguous", f"{label} names {len(candidates)} desa: "
                                 f"{', '.join(names.label(c) for c in candidates)}; give the kode or the kecamatan"))
            elif not problems:
                problems.append(("name_unknown", f"{label} is no desa of {place}{names.closest(raw_name)}"))
        else:
            problems.append(("desa_missing", "the desa is missing (give its kode or name)"))
        status = default_status
        if status_j is not None and not _blank(row[status_j]):
            parsed = status_from_text(_text(row[status_j]))
            if parsed is None:
                problems.append(("status_invalid", f"{headers[status_j]} {_quote(row[status_j])} is not one of "
                                                   f"{STATUS_HINT}"))
            else:
                status = parsed
        surveyed = None
        if date_j is not None and not _blank(row[date_j]):
            surveyed = _survey_date(row[date_j])
            if surveyed is None:
                problems.append(("date_invalid", f"{headers[date_j]} {_quote(row[date_j])} is not a date "
                                                 "(YYYY-MM-DD or DD/MM/YYYY)"))
        if found is not None and names.codes[found] in first_row:
            problems.append(("desa_repeated", f"desa {names.label(found)} was already given in row "
                                              f"{first_row[names.codes[found]]}; keep one row per desa"))
        if problems:
            rejects.append({"row_number": rn, "code": problems[0][0],
                            "reason": f"row {rn}: " + "; ".join(m for _, m in problems),
                            "original": {h: v for h, v in zip(headers, row, strict=True) if not _blank(v)}})
            continue
        assert found is not None
        first_row[names.codes[found]] = rn
        evidence = None if ev_j is None or _blank(row[ev_j]) else str(row[ev_j]).strip()[:2000]
        operators = None if op_j is None or _blank(row[op_j]) else _text(row[op_j])[:200]
        marks.append(CoverageMark(names.codes[found], status, surveyed_on=surveyed, operators=operators,
                                  evidence=evidence, author=author))
    return ParsedBlankSpots(marks, rejects, skipped, blank)
