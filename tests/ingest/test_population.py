"""Population files: codes checked against the real region (TTU, 53.03), bad rows rejected by row (issue 5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ntpd_map.domain import PopulationFigure
from ntpd_map.ingest.files import table_from_file
from ntpd_map.ingest.population import population_from_table, whole_number
from ntpd_map.store import open_store

ROOT = Path(__file__).resolve().parents[2]


def table(rows: list[list[object]], header: tuple[str, ...] = ("kode", "nama", "jumlah_penduduk")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(header))


@pytest.fixture(scope="module")
def codes(ttu) -> dict[str, list[str]]:
    return {"kec": sorted(ttu.kecamatan["kode"]), "desa": sorted(ttu.desa["kode"])}


def test_kecamatan_and_desa_of_the_region_are_kept(ttu, codes) -> None:
    kec, desa = codes["kec"][0], codes["desa"][5]
    figures, rejects, skipped = population_from_table(
        table([[kec, "a kecamatan", "12.345"], [desa, "a desa", 987]]), ttu, year=2024, source="Dukcapil")
    assert figures == [PopulationFigure(kec, 12_345, year=2024, source="Dukcapil"),
                       PopulationFigure(desa, 987, year=2024, source="Dukcapil")]
    assert [f.level for f in figures] == ["kecamatan", "desa"]
    assert (rejects, skipped) == ([], 0)


def test_codes_without_dots_are_read_as_kemendagri_codes(ttu, codes) -> None:
    kec, desa = codes["kec"][1], codes["desa"][7]
    rows = [[kec.replace(".", ""), "a", "10"], [int(desa.replace(".", "")), "b", 20.0]]  # an XLSX number too
    figures, rejects, _ = population_from_table(table(rows), ttu)
    assert [(f.kode, f.population) for f in figures] == [(kec, 10), (desa, 20)] and not rejects


def test_other_kab_kota_rows_are_skipped_and_counted(ttu, codes) -> None:
    rows = [
        ["53.04.01", "Amanuban Barat (TTS)", "30000"],
        ["5304012001", "a desa of TTS", "1200"],
        ["35.29.01.2001", "a desa in Sumenep", "900"],
        ["53.04", "Kabupaten TTS (total)", "470000"],  # another kab/kota's total: not ours either
        [codes["kec"][0], "ours", "5000"],
    ]
    figures, rejects, skipped = population_from_table(table(rows), ttu)
    assert [f.kode for f in figures] == [codes["kec"][0]]
    assert (skipped, rejects) == (4, [])


def test_bad_rows_are_rejected_with_their_spreadsheet_row_number(ttu, codes) -> None:
    kec, desa = codes["kec"][2], codes["desa"][10]
    rows = [
        [kec, "ok", "4.500"],  # row 2
        ["53.03.99", "no such kecamatan", "10"],  # row 3
        ["53.03", "TTU total", "276032"],  # row 4
        ["53", "NTT total", "5500000"],  # row 5
        ["53.3.6", "not a code", "10"],  # row 6
        ["", "JUMLAH", "99999"],  # row 7
        [desa, "fraction", "12.5"],  # row 8
        [desa, "negative", "-3"],  # row 9
        [desa, "a word", "banyak"],  # row 10
        [desa, "empty count", ""],  # row 11
        [None, None, None],  # row 12: blank, ignored
        [desa, "ok", "1,234"],  # row 13
        [desa.replace(".", ""), "the same desa again", "1234"],  # row 14
        ["53.03.06.999", "a BPS-style code", "10"],  # row 15
    ]
    figures, rejects, skipped = population_from_table(table(rows), ttu)
    assert [(f.kode, f.population) for f in figures] == [(kec, 4_500), (desa, 1_234)]
    assert skipped == 0
    got = [(r["row_number"], r["code"]) for r in rejects]
    assert got == [(3, "kode_not_in_region"), (4, "kode_total"), (5, "kode_total"), (6, "kode_invalid"),
                   (7, "kode_missing"), (8, "population_invalid"), (9, "population_invalid"),
                   (10, "population_invalid"), (11, "population_missing"), (14, "kode_repeated"), (15, "kode_invalid")]
    reasons = {r["row_number"]: r["reason"] for r in rejects}
    assert reasons[3] == ('row 3 (no such kecamatan): kode "53.03.99" is no kecamatan or desa of '
                          f'{ttu.name} (53.03) (a BPS code? use the Kemendagri code)')
    assert reasons[4].startswith('row 4 (TTU total): kode "53.03" is a kab/kota total')
    assert "provinsi total" in reasons[5]
    assert reasons[8] == ('row 8 (fraction): jumlah_penduduk "12.5" is not a whole number of people '
                          "(write a whole number of people, e.g. 12345 or 12.345)")
    assert reasons[14].endswith("was already given in row 13; keep one row per code")
    assert rejects[0]["original"] == {"kode": "53.03.99", "nama": "no such kecamatan", "jumlah_penduduk": "10"}
    assert rejects[4]["original"] == {"nama": "JUMLAH", "jumlah_penduduk": "99999"}  # empty cells left out


def test_column_names_any_case_with_aliases_and_a_year_column(ttu, codes) -> None:
    header = ("Kode Wilayah", "NAMA", "Jumlah", "Tahun")
    rows = [[codes["kec"][0], "a", "100", "2023"], [codes["kec"][1], "b", "200", ""],
            [codes["kec"][2], "c", "300", "dua ribu"]]
    figures, rejects, _ = population_from_table(table(rows, header), ttu, year=2024)
    assert [(f.population, f.year) for f in figures] == [(100, 2023), (200, 2024)]  # --year fills the gaps
    assert [(r["row_number"], r["code"]) for r in rejects] == [(4, "year_invalid")]


def test_a_desa_sheet_is_read_by_its_desa_code(ttu, codes) -> None:
    desa = ttu.desa.sort_values("kode").iloc[0]
    header = ("kode_kecamatan", "nama_kecamatan", "kode_desa", "nama_desa", "penduduk")
    figures, _, _ = population_from_table(table([[desa["kode_kec"], "k", desa["kode"], "d", "77"]], header), ttu)
    assert [f.kode for f in figures] == [desa["kode"]]


@pytest.mark.parametrize(("header", "message"), [
    (("kode", "nama", "laki_laki"), r"no column for the number of people \(name it jumlah_penduduk or penduduk"),
    (("wilayah", "penduduk"), r"no column for the Kemendagri code \(name it kode or kode_wilayah"),
    (("a", "b"), r"code .*; no column for the number of people .*; the file has columns 'a', 'b'"),
    (("Kode", "KODE ", "jumlah"), "both mean kode"),
])
def test_a_missing_or_doubled_column_is_an_error_naming_what_to_do(ttu, header, message) -> None:
    with pytest.raises(ValueError, match=message):
        population_from_table(table([], header), ttu)


def test_year_option_must_be_a_year(ttu) -> None:
    with pytest.raises(ValueError, match="--year 24"):
        population_from_table(table([]), ttu, year=24)


@pytest.mark.parametrize(("text", "value"), [
    ("12345", 12345), ("12.345", 12345), ("12,345", 12345), ("1.234.567", 1234567), ("12 345", 12345),
    ("12\u00a0345", 12345), ("12345.0", 12345), (" 7 ", 7), ("0", 0), (12345, 12345), (12345.0, 12345),
    ("12.5", None), ("1.2345", None), ("12,34", None), ("1.234,567", None), ("-3", None), ("abc", None),
    (-3, None), (2.5, None), (True, None), ("1e5", None),
])
def test_whole_numbers_with_thousands_separators(text, value) -> None:
    assert whole_number(text) == value


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from([".", ",", " ", ""]))
def test_any_count_written_with_separators_reads_back(n: int, sep: str) -> None:
    assert whole_number(f"{n:,}".replace(",", sep)) == n


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_any_valid_sheet_reads_back_exactly(ttu, codes, data) -> None:
    every = codes["kec"] + codes["desa"]
    chosen = data.draw(st.lists(st.sampled_from(every), unique=True, max_size=15))
    counts = data.draw(st.lists(st.integers(0, 2_000_000), min_size=len(chosen), max_size=len(chosen)))
    dotted = data.draw(st.lists(st.booleans(), min_size=len(chosen), max_size=len(chosen)))
    rows = [[k if d else k.replace(".", ""), "x", f"{n:,}".replace(",", ".")]
            for k, n, d in zip(chosen, counts, dotted, strict=True)]
    figures, rejects, skipped = population_from_table(table(rows), ttu)
    assert [(f.kode, f.population) for f in figures] == list(zip(chosen, counts, strict=True))
    assert (rejects, skipped) == ([], 0)


def test_reimporting_the_same_figures_changes_nothing(tmp_path, ttu, codes) -> None:
    rows = [[k, "x", str(100 + i)] for i, k in enumerate(codes["kec"] + codes["desa"][:50])]
    store = open_store(f"sqlite:///{tmp_path / 'p.sqlite'}")
    store.migrate()
    figures, _, _ = population_from_table(table(rows), ttu, year=2024, source="Dukcapil")
    first = store.set_population(figures)
    assert (first.inserted, first.updated, first.unchanged) == (len(rows), 0, 0)
    again = store.set_population(population_from_table(table(rows), ttu, year=2024, source="Dukcapil").figures)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(rows))
    store.close()


# ------------------------------------------------------------------------------------------- the command


def cli(args: list[str], work: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NTPD_DATA_DIR": str(work), "NTPD_DATABASE_URL": f"sqlite:///{work / 'ntpd.sqlite'}",
           "NTPD_REGION": "53.03", "NTPD_ALLOW_DOWNLOAD": "0", "NTPD_SIMULATE": "never"}
    proc = subprocess.run([sys.executable, "-m", "ntpd_map", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def work(ttu, data_dir, tmp_path) -> Path:
    """A data dir holding the session's built region (so the command does not rebuild it)."""
    work = tmp_path / "d"
    (work / "boundaries").mkdir(parents=True)
    for cached in (data_dir / "boundaries").glob("*53.03*"):
        (work / "boundaries" / cached.name).write_bytes(cached.read_bytes())
    return work


def test_import_population_end_to_end(work, tmp_path, ttu, codes) -> None:
    kec = codes["kec"]
    desa = codes["desa"][:40]
    rows = [[k, f"Kec {i}", f"{10_000 + i:,}".replace(",", ".")] for i, k in enumerate(kec)]
    rows += [[d.replace(".", ""), f"Desa {i}", str(500 + i)] for i, d in enumerate(desa)]
    rows += [["53.04.01", "TTS", "30.000"], ["53.04.01.2001", "TTS desa", "900"]]  # the rest of the provinsi
    rows += [["53.03", "TTU", "276.032"], [desa[0], "again", "1"], [kec[0], "typo", "1O0"]]
    path = tmp_path / "penduduk_ntt.csv"
    table(rows, ("Kode", "Nama", "Jumlah Penduduk")).to_csv(path, index=False, sep=";")
    n_ok = len(kec) + len(desa)

    first = json.loads(cli(["import", "population", str(path), "--year", "2024", "--source", "Dukcapil 2024"],
                           work).stdout)
    assert first == {
        "file": str(path), "region": "53.03", "rows": n_ok + 5, "accepted": n_ok, "inserted": n_ok, "updated": 0,
        "unchanged": 0, "rejected": 3, "skipped_other_region": 2, "blank_rows": 0,
        "rejects_file": str(tmp_path / "penduduk_ntt.rejected.csv"),
        "reasons": {"kode_repeated": 2, "kode_total": 1},  # counted under each row's first reason
    }
    rejected = pd.read_csv(first["rejects_file"], dtype=str, encoding="utf-8-sig")
    first_data_row = 2  # the header is row 1, as for import incidents
    assert rejected["row_number"].astype(int).tolist() == [first_data_row + n_ok + 2 + k for k in range(3)]
    assert rejected["reason"].iloc[1].endswith(f"was already given in row {first_data_row + len(kec)}; "
                                               "keep one row per code")
    assert rejected["reason"].iloc[2] == (
        f'row {first_data_row + n_ok + 4} (typo): Kode "{kec[0]}" was already given in row {first_data_row}; keep '
        'one row per code; Jumlah Penduduk "1O0" is not a whole number of people (write a whole number of people, '
        'e.g. 12345 or 12.345)')

    store = open_store(f"sqlite:///{work / 'ntpd.sqlite'}")
    stored = store.population().set_index("kode")
    assert len(stored) == n_ok
    assert stored.loc[kec[0], "population"] == 10_000 and stored.loc[desa[0], "population"] == 500
    assert set(stored["year"]) == {2024} and set(stored["source"]) == {"Dukcapil 2024"}
    assert (stored.loc[kec, "level"] == "kecamatan").all() and (stored.loc[desa, "level"] == "desa").all()
    assert len(store.rejects()) == 3
    store.close()

    again = json.loads(cli(["import", "population", str(path), "--year", "2024", "--source", "Dukcapil 2024"],
                           work).stdout)
    assert (again["accepted"], again["inserted"], again["updated"], again["unchanged"]) == (n_ok, 0, 0, n_ok)


def test_import_population_from_xlsx(work, tmp_path, codes) -> None:
    kec = codes["kec"][:3]
    sheet = pd.DataFrame({"KODE_KEMENDAGRI": [int(k.replace(".", "")) for k in kec],  # Excel keeps them as numbers
                          "Population": [1200, 3400.0, 5600], "Year": [2023, 2023, 2023]})
    path = tmp_path / "penduduk.xlsx"
    sheet.to_excel(path, index=False)
    summary = json.loads(cli(["import", "population", str(path)], work).stdout)
    assert (summary["accepted"], summary["inserted"], summary["rejected"], summary["rejects_file"]) == (3, 3, 0, None)
    stored = open_store(f"sqlite:///{work / 'ntpd.sqlite'}").population()
    assert stored["population"].tolist() == [1200, 3400, 5600] and set(stored["year"]) == {2023}
    assert set(stored["source"]) == {"file:penduduk.xlsx"}


def test_import_population_without_a_count_column_exits_2(work, tmp_path) -> None:
    path = tmp_path / "salah.csv"
    path.write_text("kode,nama,laki_laki,perempuan\n53.03.01,a,1,2\n", encoding="utf-8")
    proc = cli(["import", "population", str(path)], work, check=False)
    assert proc.returncode == 2
    assert "no column for the number of people" in proc.stderr
    assert "'laki_laki'" in proc.stderr and "jumlah_penduduk" in proc.stderr
    assert table_from_file(path).shape == (1, 4)  # the file itself was readable
