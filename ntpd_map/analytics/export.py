"""The ranking table as JSON rows (API), CSV and XLSX (planners, the Bupati's briefing), Indonesian headers."""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any

from ntpd_map.analytics.priority import BTS_WEIGHTS, FAR_KM, PRIOR_CALLS, SIGNAL_WEIGHT, SOCIALISATION_WEIGHTS
from ntpd_map.fmt import decimal

if TYPE_CHECKING:
    import pandas as pd
    from openpyxl.workbook.workbook import Workbook

    from ntpd_map.analytics import Priorities

COMPONENTS = {"socialisation": tuple(SOCIALISATION_WEIGHTS), "bts": tuple(BTS_WEIGHTS)}
WEIGHTS = {"socialisation": SOCIALISATION_WEIGHTS, "bts": BTS_WEIGHTS}

#: column headers in the exports (Bahasa Indonesia, as the Dinas files them)
HEADERS = {
    "rank": "Peringkat", "kode": "Kode Kemendagri", "nama": "Nama", "score": "Skor (0-100)",
    "kode_kecamatan": "Kode kecamatan",
    "kurang_guna": "Komponen: kurang memakai 112 untuk darurat (0-1)",
    "salah_guna": "Komponen: panggilan iseng + kosong (0-1)",
    "tren_memburuk": "Komponen: tren memburuk (0-1)",
    "blank_spot": "Komponen: tanda blank spot (0-1)",
    "lokasi_tidak_tepat": "Komponen: panggilan tanpa lokasi tepat (0-1)",
    "putus_kosong": "Komponen: panggilan terputus + kosong (0-1)",
    "jarak_menara": "Komponen: jarak ke menara (0-1)",
    "penduduk": "Penduduk", "jumlah_penduduk": "Jumlah penduduk",
    "penduduk_perkiraan": "Penduduk perkiraan?",
    "darurat": "Panggilan darurat",
    "darurat_harapan": "Darurat yang diharapkan (menurut rata-rata wilayah)",
    "darurat_per_10rb_30hari": "Darurat per 10.000 penduduk per 30 hari",
    "darurat_per_10rb_30hari_wilayah": "Rata-rata wilayah (per 10.000 per 30 hari)",
    "iseng_kosong": "Panggilan iseng + kosong", "semua_panggilan": "Semua panggilan",
    "darurat_sebelumnya": "Darurat periode sebelumnya", "salah_guna_sebelumnya": "Porsi iseng + kosong sebelumnya",
    "jarak_menara_km": "Jarak ke menara terdekat (km)", "tanpa_lokasi_tepat": "Panggilan tanpa lokasi tepat",
    "terputus_kosong": "Panggilan terputus + kosong", "desa_ditandai": "Desa bertanda sinyal",
    "status_sinyal": "Status sinyal",
}


#: what makes a spreadsheet read a cell as a formula (OWASP "CSV injection"): a desa name, an operator or an
#: evidence note typed as ``=HYPERLINK(...)`` must reach the planner's Excel as text, never as a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: Any) -> Any:
    """A CSV cell that is safe to open in a spreadsheet: text starting like a formula gets a leading ``'``
    (Excel and LibreOffice then show it as text); numbers (``-9.47``) and anything not text stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``csv_text`` applied to every text column (object or string dtype), header names too."""
    import pandas as pd

    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if column.dtype == object or isinstance(column.dtype, pd.StringDtype):
            out[name] = column.map(csv_text)
    return out.rename(columns=csv_text)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as CSV for spreadsheets: UTF-8 with a BOM (Excel then opens Indonesian names right), text made
    safe by ``csv_safe``, lines ended by CRLF (RFC 4180), so a text holding a CR or LF is quoted instead of
    splitting its row."""
    return csv_safe(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def xlsx_as_text(book: Workbook) -> None:
    """No cell of ``book`` is a formula: openpyxl stores any text starting with ``=`` as one, so such cells are
    turned back into strings (data type ``s``), and every text cell starting like a formula gets Excel's quote
    prefix (it stays text when a planner edits the cell). The exports write values only, never formulas."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
                    cell.quotePrefix = True


def formula(metric: str, lang: str = "id") -> str:
    """The index in one line, as the README and the exports state it (weights written as the language writes
    decimals: 0,5 in Bahasa Indonesia)."""
    weights = WEIGHTS[metric]
    terms = " + ".join(f"{decimal(w, lang)} x {name}" for name, w in weights.items())
    return f"skor = 100 x ({terms})"


def _bts_penduduk_header(metric: str) -> dict[str, str]:
    return {"penduduk": "Komponen: penduduk (0-1)"} if metric == "bts" else {}


def rows_json(prio: Priorities) -> list[dict[str, Any]]:
    """API rows: kode, nama, rank, score, components {name: 0-1}, and the figures behind them."""
    names = COMPONENTS[prio.metric]
    out = []
    for rec in prio.rows.to_dict("records"):
        row: dict[str, Any] = {"kode": rec["kode"], "nama": rec["nama"], "rank": int(rec["rank"]),
                               "score": float(rec["score"]),
                               "components": {n: float(rec[n]) for n in names}}
        for key, value in rec.items():
            if key in row or key in names:
                continue
            if isinstance(value, float) and math.isnan(value):
                value = None
            elif hasattr(value, "item"):
                value = value.item()
            row[key] = value
        out.append(row)
    return out


def notes(prio: Priorities, simulated: bool, window_text: str) -> list[tuple[str, str]]:
    """(label, text) lines that travel with every export: what it is, how the score is made, caveats."""
    title = "Prioritas sosialisasi 112" if prio.metric == "socialisation" else "Prioritas usulan BTS"
    lines = [
        ("Judul", f"{title} per {prio.level}"),
        ("Periode", window_text),
        ("Rumus", formula(prio.metric)),
        ("Porsi dihaluskan", f"porsi panggilan ditarik ke porsi wilayah sebesar {PRIOR_CALLS:g} panggilan"),
    ]
    if prio.metric == "bts":
        lines.append(("Blank spot", ", ".join(f"{k}={v:g}" for k, v in SIGNAL_WEIGHT.items()) + ", belum ditandai=0"))
        lines.append(("Jarak", f"jarak_menara = min(jarak km / {FAR_KM:g}, 1); {prio.towers_known} menara diketahui"
                      + ("" if prio.towers_known else " (belum ada data menara: komponen 0)")))
    if prio.population_estimated:
        lines.append(("Penduduk", "sebagian PERKIRAAN dari penduduk kab/kota (lihat kolom 'Penduduk perkiraan?'); "
                      "impor data Dukcapil: .venv/bin/python -m ntpd_map import population FILE"))
    if simulated:
        lines.append(("SIMULASI", "DATA SIMULASI - bukan data panggilan nyata"))
    return lines


def _table(prio: Priorities, simulated: bool) -> pd.DataFrame:
    frame = prio.rows.copy()
    headers = {**HEADERS, **_bts_penduduk_header(prio.metric)}
    frame["penduduk_perkiraan"] = frame["penduduk_perkiraan"].map({True: "ya", False: "tidak"})
    if simulated:
        frame.insert(0, "data", "SIMULASI")
    return frame.rename(columns=headers)


def to_csv(prio: Priorities, simulated: bool) -> bytes:
    """UTF-8 with a BOM, so Excel opens Indonesian names right; a SIMULASI column when the data is simulated;
    text that would start a formula with a leading ``'`` (``csv_bytes``)."""
    return csv_bytes(_table(prio, simulated))


def to_xlsx(prio: Priorities, simulated: bool, window_text: str) -> bytes:
    """Two sheets: 'Peringkat' (the table) and 'Keterangan' (period, formula, caveats)."""
    import pandas as pd

    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        table = _table(prio, simulated)
        table.to_excel(writer, sheet_name="Peringkat", index=False)
        pd.DataFrame(notes(prio, simulated, window_text), columns=["Keterangan", "Isi"]).to_excel(
            writer, sheet_name="Keterangan", index=False)
        sheet = writer.sheets["Peringkat"]
        sheet.freeze_panes = "A2"
        for i, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[sheet.cell(row=1, column=i).column_letter].width = min(
                max(12, len(str(column)) * 0.9), 40)
        xlsx_as_text(writer.book)
    return buf.getvalue()
