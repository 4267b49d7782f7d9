"""A recap spreadsheet with thousands of rows, bad rows and repeats, imported as a user would (issue 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.ingest import recap_table

ROOT = Path(__file__).resolve().parents[2]
TYPES = {"terputus": "dropped", "Panggilan Kosong": "ghost", "iseng": "prank", "darurat": "genuine",
         "salah sambung": "wrong_number", "informasi": "info", "uji": "test"}


def cli(args: list[str], data_dir: Path) -> dict:
    env = {**os.environ, "NTPD_DATA_DIR": str(data_dir), "NTPD_ALLOW_DOWNLOAD": "0", "NTPD_SIMULATE": "never"}
    proc = subprocess.run([sys.executable, "-m", "ntpd_map", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_import_exact_counts_recap_matches_and_reimport_changes_nothing(ttu, data_dir, tmp_path) -> None:
    work = tmp_path / "d"
    (work / "boundaries").mkdir(parents=True)
    for cached in (data_dir / "boundaries").glob("*53.03*"):  # the session's built region and locator index
        (work / "boundaries" / cached.name).write_bytes(cached.read_bytes())
    desa = ttu.desa.merge(ttu.kecamatan[["kode", "nama"]].rename(columns={"kode": "kode_kec", "nama": "kecamatan"}))
    good = recap_table(3000, desa[["nama", "kecamatan"]], tuple(ttu.kabkota.total_bounds), seed=4)
    bad = good.head(30).copy()
    bad["id"] = [f"BAD-{i}" for i in range(30)]
    bad.loc[bad.index[:10], "waktu"] = "31/02/2025 10:00"  # no such day
    bad.loc[bad.index[10:20], "jenis_panggilan"] = "entah"  # unknown call type
    bad.loc[bad.index[20:30], ["lat", "lon"]] = ["95", "124.5"]  # latitude out of range
    repeats = good.sample(20, random_state=1)
    sheet = pd.concat([good, bad, repeats], ignore_index=True)
    path = tmp_path / "rekap_ttu.csv"
    sheet.to_csv(path, index=False, sep=";")

    first = cli(["import", "incidents", str(path), "--tz", "Asia/Makassar", "--source", "rekap-ttu"], work)
    assert (first["rows"], first["accepted"], first["rejected"], first["duplicates"]) == (3050, 3000, 30, 20)
    rejected = pd.read_csv(first["rejects_file"], dtype=str, encoding="utf-8-sig")
    assert sorted(rejected["row_number"].astype(int)) == list(range(3002, 3032))  # spreadsheet rows (header = 1)
    assert "0812" not in rejected.to_csv()  # caller numbers never reach the reject file in full

    recap = cli(["recap", "--from", "2025-05-01", "--to", "2025-09-30", "--json"], work)
    expected = good["jenis_panggilan"].map(TYPES).value_counts()
    assert recap["calls"]["total"] == 3000
    assert recap["calls"]["by_call_type"] == {k: int(expected.get(k, 0)) for k in recap["calls"]["by_call_type"]}
    genuine = good[good["jenis_panggilan"] == "darurat"]
    assert recap["genuine"]["resolved"] == int((genuine["status"] == "selesai").sum())
    assert recap["genuine"]["not_followed_up"] == int((genuine["status"] == "tidak ditindaklanjuti").sum())
    assert recap["genuine"]["open"] == int((genuine["status"] == "proses").sum())
    by_agency = genuine["instansi"].value_counts()
    assert {k: v["total"] for k, v in recap["genuine"]["by_agency"].items()} == by_agency.to_dict()

    again = cli(["import", "incidents", str(path), "--tz", "Asia/Makassar", "--source", "rekap-ttu"], work)
    assert (again["accepted"], again["inserted"], again["duplicates"], again["rejected"]) == (0, 0, 3020, 30)
    assert cli(["recap", "--from", "2025-05-01", "--to", "2025-09-30", "--json"], work) == recap
