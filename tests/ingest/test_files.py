"""Recap files as tables (CSV, XLSX), rejects written beside them, and a spreadsheet of thousands of calls."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from ntpd_map.domain import LocationFlag
from ntpd_map.ingest import caller_fields, incidents_from_table, table_from_file, write_rejects_csv
from tests.ingest import recap_table

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest"
NOW = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)
KEY = b"test-key-0123456789abcdef"
TZ = "Asia/Makassar"


def parse(table: pd.DataFrame, region=None, **kw):
    return incidents_from_table(table, source="ttu", tz=TZ, region=region, caller_key=KEY, now=NOW, **kw)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# ------------------------------------------------------------------------------------------- fixtures


def test_excel_indonesian_export_cp1252_semicolons_decimal_commas(ttu) -> None:
    table = table_from_file(FIXTURES / "recap_excel_cp1252.csv")
    assert table.columns[0] == "No Tiket" and len(table) == 7
    assert table.loc[0, "Keterangan"] == "Rumah warga terbakar – 2 korban"  # cp1252 0x96, an en dash
    assert table.loc[1, "Lat"] == "" and table.loc[0, "Lat"] == "-9,4521"
    batch = parse(table, region=ttu, column_map={"No Tiket": "id"})
    assert batch.summary() == {"rows": 7, "valid": 4, "rejected": 2, "in_batch_duplicates": 1, "blank_rows": 0,
                               "reasons": {"coordinates_incomplete": 1, "received_at_invalid": 1}}
    assert [r["row_number"] for r in batch.rejects] == [5, 8]
    frame = batch.frame.set_index("external_id")
    assert list(frame.index) == ["TTU-0001", "TTU-0003", "TTU-0005", "TTU-0002"]
    fire = frame.loc["TTU-0001"]
    assert (fire["lat"], fire["lon"], fire["category"], fire["agency_kind"], fire["outcome"]) == (
        -9.4521, 124.4805, "fire", "fire", "resolved")
    assert (fire["caller_hash"], fire["caller_last3"]) == caller_fields("+6281234567890", KEY)
    assert fire["attrs"] == {"Operator": "Yanti"}
    named = frame.loc["TTU-0003"]
    assert named["kode_desa"] == "53.03.01.2005" and named["flags"] == LocationFlag.APPROXIMATE
    assert named["outcome"] == "not_followed_up" and named["notes"] == "Ibu hamil, pendarahan"
    assert frame.loc["TTU-0002", "row_number"] == 7 and frame.loc["TTU-0002", "notes"] == "diulang"


def test_english_headers_utf8_bom_tabs() -> None:
    table = table_from_file(FIXTURES / "recap_english_utf8bom_tabs.csv")
    assert list(table.columns)[:3] == ["external_id", "received_at", "call_type"]  # no BOM in the first name
    batch = parse(table)
    assert batch.rejects == []
    frame = batch.frame.set_index("external_id")
    assert frame.loc["K-1", "received_at"] == int(datetime(2025, 6, 1, 1, 0, tzinfo=UTC).timestamp())
    assert frame.loc["K-3", "location_source"] == "cell" and frame.loc["K-3", "notes"] == "catatan, dengan koma"


# ------------------------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("sep", [",", ";", "\t"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_csv_delimiters_and_encodings(tmp_path: Path, sep: str, encoding: str) -> None:
    rows = [["id", "waktu", "jenis_panggilan", "keterangan", "kode"],
            ["A1", "2025-05-01 10:00", "darurat", "Café, 2 orang", "007"],
            ["A2", "2025-05-01 10:05", "NA", "", "null"]]
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator="\r\n").writerows(rows)
    table = table_from_file(write(tmp_path / "r.csv", buf.getvalue(), encoding))
    assert list(table.columns) == rows[0]
    assert table.values.tolist() == rows[1:]  # all text; "", "NA", "null" and "007" kept as written


def test_csv_unnamed_empty_columns_are_dropped(tmp_path: Path) -> None:
    table = table_from_file(write(tmp_path / "r.csv", "id;waktu;;jenis_panggilan;\nA;x;;darurat;\n"))
    assert list(table.columns) == ["id", "waktu", "jenis_panggilan"]
    assert table.values.tolist() == [["A", "x", "darurat"]]


def test_csv_header_only_is_an_empty_table(tmp_path: Path) -> None:
    table = table_from_file(write(tmp_path / "r.csv", "id,waktu,jenis_panggilan\n"))
    assert list(table.columns) == ["id", "waktu", "jenis_panggilan"] and len(table) == 0
    assert parse(table).summary()["rows"] == 0


@pytest.mark.parametrize(("name", "content", "message"), [
    ("r.csv", b"", "the file is empty"),
    ("r.csv", b"\xef\xbb\xbf \r\n\r\n", "the file is empty"),
    ("r.csv", b"A1,2025-05-01 10:00,darurat\n", "row 1 holds values ('2025-05-01 10:00')"),
    ("r.csv", b"id,,waktu\n1,2,3\n", "column 2 has values but no name in row 1"),
    ("r.csv", b"id,waktu,id\n1,2,3\n", "column 'id' appears twice"),
    ("r.csv", "id,waktu\n".encode("utf-16"), "is UTF-16"),
    ("r.csv", b"id,waktu,jenis_panggilan\nA,1,2\nB,1,2,3\n", "Expected 3 fields in line 3, saw 4"),
    ("r.xls", b"whatever", "cannot read .xls"),
    ("r.txt", b"id,waktu\n", "cannot read .txt"),
    ("recap", b"id,waktu\n", "cannot read files without an extension"),
    ("r.xlsx", b"", "the file is empty"),
    ("r.xlsx", b"PK\x03\x04 not really a zip", "cannot be read as an XLSX workbook"),
])
def test_unreadable_files_raise_with_the_fix(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        table_from_file(path)


def test_short_rows_and_blank_lines_keep_spreadsheet_row_numbers(tmp_path: Path) -> None:
    text = ("id,waktu,jenis_panggilan,lat,lon\n"
            "A,2025-05-01 10:00,darurat\n"  # short: the rest is empty
            "\n"  # a blank line is row 3
            "B,kemarin,darurat,,\n"
            'C,2025-05-01 10:00,darurat,,"-9,4"\n')
    table = table_from_file(write(tmp_path / "r.csv", text))
    assert len(table) == 4 and table.loc[0, "lat"] == ""
    batch = parse(table)
    assert [(r["row_number"], r["code"]) for r in batch.rejects] == [(4, "received_at_invalid"),
                                                                     (5, "coordinates_incomplete")]
    assert batch.summary()["blank_rows"] == 1 and batch.frame["row_number"].tolist() == [2]


def test_quoted_newlines_stay_in_their_cell(tmp_path: Path) -> None:
    text = 'id,waktu,jenis_panggilan,keterangan\nA,2025-05-01 10:00,darurat,"baris satu\nbaris dua"\nB,x,darurat,\n'
    table = table_from_file(write(tmp_path / "r.csv", text))
    assert table.loc[0, "keterangan"] == "baris satu\nbaris dua"
    assert parse(table).rejects[0]["row_number"] == 3  # the spreadsheet row, not the line


# ------------------------------------------------------------------------------------------- XLSX


def test_xlsx_cells_as_read_first_sheet_header_row_one(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["ID", "Waktu", "Jenis Panggilan", "Lat", "Lon", "Jumlah Korban", None])
    ws.append([1001, datetime(2025, 5, 1, 10, 0), "Darurat", -9.45, 124.48, 2, None])
    ws.append([])  # a blank row 3
    ws.append(["A3", "01/05/2025 10:30", "iseng", "-9,4", "124,5", None, None])
    ws.append(["A4", datetime(2031, 1, 1), "iseng", None, None, None, None])
    ws["G10"].number_format = "0.00"  # formatting only: an empty column G is not a column
    other = wb.create_sheet("Rekap")
    other.append(["ignored"])
    path = tmp_path / "r.xlsx"
    wb.save(path)

    table = table_from_file(path)
    assert list(table.columns) == ["ID", "Waktu", "Jenis Panggilan", "Lat", "Lon", "Jumlah Korban"]
    assert table.iloc[0].tolist()[:5] == [1001, datetime(2025, 5, 1, 10, 0), "Darurat", -9.45, 124.48]
    batch = parse(table)
    assert [(r["row_number"], r["code"]) for r in batch.rejects] == [(5, "received_at_future")]
    frame = batch.frame.set_index("external_id")
    assert list(frame.index) == ["1001", "A3"] and frame["row_number"].tolist() == [2, 4]
    assert frame.loc["1001", "received_at"] == int(pd.Timestamp("2025-05-01 10:00", tz=TZ).timestamp())
    assert (frame.loc["A3", "lat"], frame.loc["1001", "lon"]) == (-9.4, 124.48)
    assert frame.loc["1001", "attrs"] == {"Jumlah Korban": "2"}


def test_xlsx_without_rows_or_with_an_unnamed_column(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.save(tmp_path / "empty.xlsx")
    with pytest.raises(ValueError, match="the first sheet is empty"):
        table_from_file(tmp_path / "empty.xlsx")
    wb = openpyxl.Workbook()
    wb.active.append(["id", None, "waktu"])
    wb.active.append(["A", "x", "2025-05-01 10:00"])
    wb.save(tmp_path / "unnamed.xlsx")
    with pytest.raises(ValueError, match="column 2 has values but no name in row 1"):
        table_from_file(tmp_path / "unnamed.xlsx")


# ------------------------------------------------------------------------------------------- rejects CSV


def test_rejects_csv_round_trips_and_is_safe_in_a_spreadsheet(tmp_path: Path) -> None:
    table = pd.DataFrame({"id": ["A", "B"], "waktu": ["kemarin", "2025-05-01 10:00"],
                          "jenis_panggilan": ["darurat", "=HYPERLINK(\"x\")"], "lat": ["-9,4", "-9.4"],
                          "lon": ["", "124.5"], "nomor_penelepon": ["0812 3456 7890", ""]})
    batch = parse(table)
    path = write_rejects_csv(batch.rejects, tmp_path / "rejects.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 correctly with a BOM
    back = table_from_file(path)
    assert list(back.columns) == ["row_number", "reason", "id", "waktu", "jenis_panggilan", "lat", "lon",
                                  "nomor_penelepon"]
    assert back["row_number"].tolist() == ["2", "3"]
    assert back.loc[0, "reason"].startswith('row 2: waktu "kemarin" is not a valid time')
    assert back.loc[0, "nomor_penelepon"] == "***890" and "3456" not in path.read_text("utf-8-sig")
    assert back.loc[1, "jenis_panggilan"] == "'=HYPERLINK(\"x\")" and back.loc[0, "lat"] == "-9,4"


def test_rejects_csv_with_no_rejects_has_a_header(tmp_path: Path) -> None:
    path = write_rejects_csv([], tmp_path / "rejects.csv")
    assert path.read_text("utf-8-sig") == "row_number,reason\n"


# ------------------------------------------------------------------------------------------- thousands of rows


@pytest.fixture(scope="module")
def spreadsheet(ttu):
    """3,000 generated calls with known bad rows, repeats and blank rows; the counts each must produce."""
    kec = dict(zip(ttu.kecamatan["kode"], ttu.kecamatan["nama"], strict=True))
    desa = pd.DataFrame({"nama": ttu.desa["nama"], "kecamatan": [kec[k] for k in ttu.desa["kode_kec"]]})
    n = 3000
    table = recap_table(n, desa, tuple(ttu.kabkota.total_bounds), seed=7)
    rng = np.random.default_rng(7)
    bad = {"received_at_invalid": ("waktu", "31/02/2025 10:00", 7),
           "received_at_future": ("waktu", "2031-01-01 10:00", 5),
           "call_type_missing": ("jenis_panggilan", "", 4), "call_type_unknown": ("jenis_panggilan", "marah", 3),
           "coordinates_out_of_range": ("lat", "-95.5", 3), "external_id_missing": ("id", "", 2)}
    picks = rng.choice(n, sum(k for _, _, k in bad.values()) + 20, replace=False)
    expected: dict[int, str] = {}
    at = 0
    for code, (column, value, count) in bad.items():
        for pos in picks[at:at + count]:
            table.loc[pos, column] = value
            if column == "lat":
                table.loc[pos, "lon"] = "124.5"
            expected[int(pos) + 2] = code
        at += count
    repeats = table.iloc[picks[at:at + 20]].copy()
    repeats["status"] = "selesai"  # the later copy updates the earlier one
    blank = pd.DataFrame([[""] * table.shape[1]] * 2, columns=table.columns)
    full = pd.concat([table, blank, repeats], ignore_index=True).astype("str")
    return full, expected, n


def _check_spreadsheet(batch, expected: dict[int, str], n: int) -> None:
    summary = batch.summary()
    assert {r["row_number"]: r["code"] for r in batch.rejects} == expected
    assert summary["rows"] == n + 20 and summary["blank_rows"] == 2
    assert summary["rejected"] == len(expected) == 24 and summary["in_batch_duplicates"] == 20
    assert summary["valid"] == n - 24
    frame = batch.frame
    assert frame["external_id"].is_unique and len(frame) == n - 24
    assert (frame.loc[frame["row_number"] > n + 3, "outcome"] == "resolved").all()  # the repeats won
    named = frame["kode_desa"].notna()
    assert named.sum() > 0 and (frame.loc[named, "flags"] == LocationFlag.APPROXIMATE).all()
    assert frame["caller_hash"].notna().all() and frame["caller_last3"].str.len().eq(3).all()


def test_spreadsheet_of_thousands_of_rows_as_csv(tmp_path: Path, spreadsheet, ttu, ttu_locator) -> None:
    from ntpd_map.ingest.write import locate_frame
    from ntpd_map.store.incidents import rows_from_frame

    full, expected, n = spreadsheet
    path = tmp_path / "rekap.csv"
    full.to_csv(path, index=False)
    batch = parse(table_from_file(path), region=ttu)
    _check_spreadsheet(batch, expected, n)
    counts = batch.frame["call_type"].value_counts().to_dict()
    valid = full.iloc[[r - 2 for r in batch.frame["row_number"]]]
    assert counts == valid["jenis_panggilan"].map({"terputus": "dropped", "Panggilan Kosong": "ghost",
                                                   "iseng": "prank", "darurat": "genuine",
                                                   "salah sambung": "wrong_number", "informasi": "info",
                                                   "uji": "test"}).value_counts().to_dict()
    located = locate_frame(batch.frame, ttu_locator)
    rows = rows_from_frame(located)
    assert len(rows) == n - 24 and all(isinstance(r[1], str) for r in rows)


def test_spreadsheet_of_thousands_of_rows_as_xlsx_with_datetime_cells(tmp_path: Path, spreadsheet, ttu) -> None:
    full, expected, n = spreadsheet
    cells = full.astype(object)
    as_dt = pd.to_datetime(cells["waktu"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    cells["waktu"] = [d.to_pydatetime() if pd.notna(d) else v for d, v in zip(as_dt, cells["waktu"], strict=True)]
    cells = cells.replace("", None)
    path = tmp_path / "rekap.xlsx"
    cells.to_excel(path, index=False, engine="openpyxl")
    table = table_from_file(path)
    assert isinstance(table.loc[0, "waktu"], datetime)
    csv_batch = parse(full, region=ttu)
    xlsx_batch = parse(table, region=ttu)
    _check_spreadsheet(xlsx_batch, expected, n)
    pd.testing.assert_frame_equal(xlsx_batch.frame, csv_batch.frame)
