"""Blank-spot desa lists (issue 7): by code or name, statuses in Indonesian, unknown and ambiguous names rejected
naming the candidates, other kab/kota skipped, importing again changes nothing."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pandas as pd
import pytest

from ntpd_map.domain import SignalStatus
from ntpd_map.ingest.blankspots import marks_from_table
from ntpd_map.store import open_store


def table(rows: list[list[object]], header=("kode", "desa", "kecamatan", "status", "keterangan", "tanggal_survei")):
    return pd.DataFrame(rows, columns=list(header))


@pytest.fixture(scope="module")
def twin(ttu):
    """TTU with a second desa named like the first one of another kecamatan (TTU itself has no such pair)."""
    desa = ttu.desa.copy()
    a = desa.index[0]
    b = desa.index[desa["kode_kec"] != desa.at[a, "kode_kec"]][0]
    desa.loc[b, "nama"] = desa.at[a, "nama"]
    return dataclasses.replace(ttu, desa=desa), desa.loc[a], desa.loc[b]


def kec_name(region, kode_kec: str) -> str:
    return region.kecamatan.set_index("kode").at[kode_kec, "nama"]


def test_codes_and_names_become_marks(ttu) -> None:
    d = ttu.desa.iloc[[5, 40, 90, 120]]
    rows = [
        [d["kode"].iloc[0], d["nama"].iloc[0], "", "", "survei 2025: 0 bar", "01/06/2025"],
        [d["kode"].iloc[1].replace(".", ""), "", "", "lemah", "", ""],
        ["", f"Desa {d['nama'].iloc[2].upper()}", "", "2G saja", "", datetime(2025, 5, 2, 8, 0)],
        ["", d["nama"].iloc[3], kec_name(ttu, d["kode_kec"].iloc[3]), "Tidak ada sinyal", "", "2025-05-03"],
        ["53.04.01.2001", "", "", "", "", ""],  # another kab/kota: skipped
        [None, None, None, None, None, None],
    ]
    got = marks_from_table(table(rows), ttu, author="import:daftar.csv")
    assert [(m.kode_desa, m.status, m.surveyed_on, m.evidence) for m in got.marks] == [
        (d["kode"].iloc[0], SignalStatus.NONE, "2025-06-01", "survei 2025: 0 bar"),
        (d["kode"].iloc[1], SignalStatus.WEAK, None, None),
        (d["kode"].iloc[2], SignalStatus.ONLY_2G, "2025-05-02", None),
        (d["kode"].iloc[3], SignalStatus.NONE, "2025-05-03", None)]
    assert {m.author for m in got.marks} == {"import:daftar.csv"}
    assert (got.rejects, got.skipped_other_region, got.blank_rows) == ([], 1, 1)
    weak = marks_from_table(table(rows[:1]), ttu, author="x", default_status=SignalStatus.WEAK)
    assert weak.marks[0].status == SignalStatus.WEAK


def test_bad_rows_are_rejected_with_row_numbers_and_reasons(ttu) -> None:
    d = ttu.desa.iloc[[5, 40]]
    first, other = d.iloc[0], d.iloc[1]
    rows = [
        [first["kode"], "", "", "", "", ""],
        ["", first["nama"][:-1] + "x", "", "", "", ""],  # a typo: the closest names are offered
        ["53.03.99.2001", "", "", "", "", ""],
        [first["kode"], "", "", "", "", ""],  # listed twice
        [other["kode"], first["nama"], "", "", "", ""],  # code and name disagree
        ["", other["nama"], "Bukan Kecamatan", "", "", ""],
        [other["kode"], "", "", "sedang", "", ""],
        [other["kode"], "", "", "", "", "31/02/2025"],
        ["53.03.06", "", "", "", "", ""],  # a kecamatan, not a desa
        ["Oelolok-1", "", "", "", "", ""],
        ["", "", "", "lemah", "survei", ""],
    ]
    got = marks_from_table(table(rows), ttu, author="x")
    assert [m.kode_desa for m in got.marks] == [first["kode"]]
    assert [(r["row_number"], r["code"]) for r in got.rejects] == [
        (3, "name_unknown"), (4, "kode_not_in_region"), (5, "desa_repeated"), (6, "kode_name_mismatch"),
        (7, "name_not_in_kecamatan"), (8, "status_invalid"), (9, "date_invalid"), (10, "kode_not_desa"),
        (11, "kode_invalid"), (12, "desa_missing")]
    reasons = {r["row_number"]: r["reason"] for r in got.rejects}
    assert f"closest: {first['kode']} {first['nama']}" in reasons[3]
    assert "already given in row 2" in reasons[5]
    assert f"is desa {other['nama']}, not \"{first['nama']}\"" in reasons[6]
    assert got.rejects[0]["original"] == {"desa": first["nama"][:-1] + "x"}


def test_ambiguous_names_are_rejected_naming_the_candidates(twin) -> None:
    region, a, b = twin
    got = marks_from_table(table([["", a["nama"], "", "", "", ""],
                                  ["", a["nama"], kec_name(region, b["kode_kec"]), "", "", ""]]), region, author="x")
    assert [m.kode_desa for m in got.marks] == [b["kode"]]  # the kecamatan tells them apart
    (reject,) = got.rejects
    assert reject["row_number"] == 2 and reject["code"] == "name_ambiguous"
    assert a["kode"] in reject["reason"] and b["kode"] in reject["reason"]
    assert f"Kec. {kec_name(region, a['kode_kec'])}" in reject["reason"]


def test_a_file_without_a_desa_column_says_which_columns_it_has(ttu) -> None:
    with pytest.raises(ValueError, match=r"no column naming the desa.*'status'"):
        marks_from_table(pd.DataFrame({"status": ["lemah"]}), ttu, author="x")


def test_importing_the_list_again_changes_nothing(ttu, tmp_path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    store.migrate()
    d = ttu.desa.iloc[[5, 40]]
    rows = [[d["kode"].iloc[0], "", "", "", "", ""], [d["kode"].iloc[1], "", "", "lemah", "", ""]]
    marks = marks_from_table(table(rows), ttu, author="import:a.csv").marks
    assert store.add_coverage_marks(marks, skip_unchanged=True) == 2
    assert store.add_coverage_marks(marks_from_table(table(rows), ttu, author="import:a.csv").marks,
                                    skip_unchanged=True) == 0
    rows[1][3] = "baik"  # the list is corrected: one change
    assert store.add_coverage_marks(marks_from_table(table(rows), ttu, author="import:b.csv").marks,
                                    skip_unchanged=True) == 1
    assert store.coverage_history(d["kode"].iloc[1]).iloc[0][["old_status", "status", "author"]].tolist() == [
        "weak", "good", "import:b.csv"]
