"""The BTS proposal (issue 7): every number traceable to its evidence; the coverage API's permissions and undo;
the commands a planner runs, end to end."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from ntpd_map.access.keys import create_api_key
from ntpd_map.analytics.priority import BTS_WEIGHTS, tower_distance_km
from ntpd_map.domain import CoverageMark, PopulationFigure, SignalSample, SignalStatus, Tower
from ntpd_map.ingest.write import locate_frame
from ntpd_map.store.model import IncidentQuery
from tests.analytics.test_analytics import DAY, T0, incidents

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rt(runtime, tmp_path: Path):
    """A runtime on its own empty SQLite store, sharing the session's TTU boundaries and locator."""
    from ntpd_map.config import Settings
    from ntpd_map.runtime import Runtime

    fresh = Runtime(Settings.from_env(NTPD_DATA_DIR=str(tmp_path), NTPD_REGION="53.03", NTPD_SIMULATE="off",
                                      NTPD_DATABASE_URL=f"sqlite:///{tmp_path / 'a.sqlite'}",
                                      NTPD_TOWER_DEFAULT_RANGE_M="2500"))
    fresh.__dict__["region"] = runtime.region
    fresh.__dict__["locator"] = runtime.locator
    return fresh


def desa_points(region, codes: list[str]) -> dict[str, shapely.Point]:
    desa = region.desa.set_index("kode")
    return {k: shapely.point_on_surface(desa.at[k, "geometry"]) for k in codes}


@pytest.fixture
def scene(rt):
    """Five desa of different kecamatan: A none (desa-wide), B only cell marks (weak and 2G), C good, D marked then
    undone (no mark), E 2G saja; calls in A, B and C; two towers; survey points in A; Dukcapil figure for A."""
    region = rt.region
    desa = region.desa[region.desa["has_polygon"]].drop_duplicates("kode_kec")
    a, b, c, d, e = desa["kode"].iloc[[0, 3, 6, 9, 12]].tolist()
    pts = desa_points(region, [a, b, c, d, e])
    store = rt.store
    import h3

    store.mark_coverage(CoverageMark(a, SignalStatus.WEAK, author="budi"))
    store.mark_coverage(CoverageMark(a, SignalStatus.NONE, operators="Telkomsel", surveyed_on="2025-06-01",
                                     evidence="0 bar di dusun 2", author="ani"))
    cell_b = h3.latlng_to_cell(pts[b].y, pts[b].x, 8)
    store.mark_coverage(CoverageMark(b, SignalStatus.ONLY_2G, h3=cell_b, author="ani"))
    store.mark_coverage(CoverageMark(b, SignalStatus.WEAK, h3=h3.latlng_to_cell(pts[b].y + 0.004, pts[b].x, 8),
                                     author="ani"))
    store.mark_coverage(CoverageMark(c, SignalStatus.GOOD, author="ani"))
    store.undo_coverage_change(store.mark_coverage(CoverageMark(d, SignalStatus.NONE, author="ani")), "kabid")
    store.mark_coverage(CoverageMark(e, SignalStatus.ONLY_2G, author="import:daftar.csv"))
    lat = np.array([pts[a].y] * 6 + [pts[b].y] * 3 + [pts[c].y] * 2)
    lon = np.array([pts[a].x] * 6 + [pts[b].x] * 3 + [pts[c].x] * 2)
    types = ["dropped", "dropped", "ghost", "genuine", "prank", "dropped", "genuine", "ghost", "dropped",
             "genuine", "genuine"]
    store.write_incidents(locate_frame(incidents(lat, lon, types), rt.locator))
    store.write_incidents(locate_frame(incidents(lat[:2], lon[:2], ["dropped"] * 2, t=T0 - 40 * DAY, prefix="OLD"),
                                       rt.locator))  # outside the period
    store.add_towers([Tower(pts[c].y, pts[c].x + 0.01, "opencellid", radio="LTE", mcc=510, net=10, area=1, cell=1,
                            range_m=4000.0),
                      Tower(pts[e].y + 0.02, pts[e].x, "survey")])  # no range: the default 2.5 km
    store.add_signal_samples([
        SignalSample(pts[a].y, pts[a].x, T0, "survey:s.csv", dbm=-115.0, operator="Telkomsel", kode_desa=a),
        SignalSample(pts[a].y, pts[a].x, T0 + 60, "survey:s.csv", dbm=-104.0, operator="XL", kode_desa=a),
        SignalSample(pts[a].y, pts[a].x, T0 + 120, "survey:s.csv", bars=0, operator="Indosat", kode_desa=a),
    ])
    store.set_population([PopulationFigure(a, 2345, 2024, "Dukcapil")])
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "pts": pts}


def test_proposal_rows_are_traceable_to_their_evidence(rt, scene) -> None:
    start, end = T0 - DAY, T0 + DAY
    made = rt.analytics.bts_proposal(start, end)
    rows = made.rows.set_index("kode")
    a, b, e = scene["a"], scene["b"], scene["e"]
    # proposed: none / weak / 2G saja; not good (C), not unmarked (D: its only mark undone)
    assert set(rows.index) == {a, b, e}
    assert list(made.rows["no"]) == [1, 2, 3]
    ranks = made.rows["peringkat_bts"].tolist()
    assert ranks == sorted(ranks)  # sorted by the index
    index = rt.analytics.priorities("bts", start, end, level="desa").rows.set_index("kode")
    for k in rows.index:  # rank, score and components are the desa-level BTS index's
        assert rows.at[k, "peringkat_bts"] == index.at[k, "rank"] and rows.at[k, "score"] == index.at[k, "score"]
        for name in BTS_WEIGHTS:
            assert rows.at[k, name] == index.at[k, name]
    # evidence of A: its desa-wide mark (the newest), the survey points
    assert rows.loc[a, ["status_sinyal", "ditandai_oleh", "tanggal_survei", "bukti"]].tolist() == [
        "Tidak ada sinyal", "ani", "2025-06-01", "0 bar di dusun 2"]
    assert rows.at[a, "operator_terlihat"] == "Telkomsel, Indosat, XL"
    assert rows.loc[a, ["sampel_survei", "sampel_tanpa_sinyal", "sampel_sangat_lemah"]].tolist() == [3, 2, 1]
    assert rows.at[a, "median_dbm"] == -109.5
    # B has only cell marks: the most severe decides, and the basis says so
    assert rows.at[b, "status_sinyal"] == "Lemah" and rows.at[b, "dasar_tanda"].startswith("tanda sel H3 (2 sel")
    assert rows.at[b, "sampel_survei"] == 0 and np.isnan(rows.at[b, "median_dbm"])
    # the point is inside the desa, and the distance is the tower distance from it
    desa = rt.region.desa.set_index("kode")
    for k in rows.index:
        assert desa.at[k, "geometry"].contains(shapely.Point(rows.at[k, "bujur"], rows.at[k, "lintang"]))
    towers = rt.store.towers()
    expected = tower_distance_km(rows["lintang"].to_numpy(), rows["bujur"].to_numpy(), towers)
    np.testing.assert_allclose(rows["jarak_menara_km"], np.round(expected, 2), atol=0.011)
    assert rows["jarak_menara_km"].gt(0).all()
    # calls located in the desa in the period, as the store counts them
    window = IncidentQuery(start=start, end=end)
    calls = rt.store.count_by("kode_desa", window)
    dropped = rt.store.count_by("kode_desa", IncidentQuery(start=start, end=end, call_types=("dropped", "ghost")))
    for k in rows.index:
        assert rows.at[k, "panggilan_112"] == calls.get(k, 0)
        assert rows.at[k, "panggilan_terputus_kosong"] == dropped.get(k, 0)
    assert (rows.at[a, "panggilan_112"], rows.at[a, "panggilan_terputus_kosong"]) == (6, 4)
    # population: A's Dukcapil figure, the others estimated and flagged
    assert (rows.at[a, "jumlah_penduduk"], bool(rows.at[a, "penduduk_perkiraan"])) == (2345, False)
    assert bool(rows.at[b, "penduduk_perkiraan"]) and made.population_estimated
    uncovered = rt.analytics.uncovered("desa").set_index("kode")
    for k in rows.index:
        assert rows.at[k, "porsi_tak_terjangkau"] == pytest.approx(uncovered.at[k, "porsi_tak_terjangkau"],
                                                                   abs=5e-4)
    assert (rows[["ketersediaan_lahan", "listrik", "akses_jalan"]] == "").all().all()
    assert made.towers_by_source == {"opencellid": 1, "survey": 1} and not made.simulated


def test_exports_have_indonesian_headers_a_notes_sheet_and_simulasi_labels(rt, scene) -> None:
    from ntpd_map.analytics.proposal import HEADERS, filename, to_csv, to_xlsx

    made = rt.analytics.bts_proposal(T0 - DAY, T0 + DAY)
    table = pd.read_csv(io.BytesIO(to_csv(made)), encoding="utf-8-sig")
    assert list(table.columns) == list(HEADERS.values()) and len(table) == 3
    assert table["Kode Kemendagri"].tolist() == made.rows["kode"].tolist()
    assert table["Penduduk perkiraan?"].tolist() == ["ya" if v else "tidak" for v in made.rows["penduduk_perkiraan"]]
    sheets = pd.read_excel(io.BytesIO(to_xlsx(made, "14/06/2025 - 16/06/2025 (waktu WITA)", "now")), sheet_name=None)
    assert list(sheets) == ["Usulan BTS", "Keterangan"]
    assert sheets["Usulan BTS"]["Desa/Kelurahan"].tolist() == made.rows["desa"].tolist()
    notes = dict(zip(sheets["Keterangan"]["Keterangan"], sheets["Keterangan"]["Isi"], strict=True))
    assert notes["Rumus indeks BTS"].startswith("skor = 100 x (0,3 x blank_spot")
    assert notes["Periode panggilan 112"].startswith("14/06/2025") and "2500 m" in notes["Jangkauan menara"]
    assert "CC BY-SA 4.0" in notes["Lisensi data menara"] and "SIMULASI" not in notes
    assert filename(made, "2025-06-14", "2025-06-16", "xlsx") == "usulan_bts_53.03_2025-06-14_2025-06-16.xlsx"

    rt.store.add_towers([Tower(-9.4, 124.4, "simulasi", simulated=True)])  # simulated evidence: labelled
    sim = rt.analytics.bts_proposal(T0 - DAY, T0 + DAY)
    assert sim.simulated and filename(sim, "a", "b", "csv").endswith("_SIMULASI.csv")
    assert pd.read_csv(io.BytesIO(to_csv(sim)), encoding="utf-8-sig")["data"].eq("SIMULASI").all()
    notes = dict(pd.read_excel(io.BytesIO(to_xlsx(sim, "p", "now")), sheet_name="Keterangan").values.tolist())
    assert "1 menara" in notes["SIMULASI"]


def test_an_empty_proposal_is_still_a_valid_file(rt) -> None:
    from ntpd_map.analytics.proposal import to_csv, to_xlsx

    made = rt.analytics.bts_proposal(T0, T0 + DAY)
    assert made.rows.empty and made.towers_known == 0
    assert len(pd.read_csv(io.BytesIO(to_csv(made)), encoding="utf-8-sig")) == 0
    assert "Keterangan" in pd.read_excel(io.BytesIO(to_xlsx(made, "p", "now")), sheet_name=None)


# ------------------------------------------------------------------------------------------- the API


@pytest.fixture
def client(rt):
    from ntpd_map.factory import create_app

    return create_app(runtime=rt).server.test_client()


def bearer(rt, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key(rt.store, f'k-{role}', role)[1]}"}


def test_only_planner_and_admin_keys_may_mark_and_undo(rt, client) -> None:
    code = rt.region.desa["kode"].iloc[20]
    body = {"kode_desa": code, "status": "tidak ada sinyal", "operators": "Telkomsel", "author": "ani"}
    assert client.post("/api/coverage/marks", json=body).status_code == 401
    for role in ("read", "ingest"):
        answer = client.post("/api/coverage/marks", json=body, headers=bearer(rt, role))
        assert answer.status_code == 403 and "planner or admin" in answer.get_json()["error"]
    assert rt.store.coverage_marks().empty
    planner = bearer(rt, "planner")
    first = client.post("/api/coverage/marks", json=body, headers=planner)
    assert first.status_code == 201
    change = first.get_json()["change"]
    assert (change["kode_desa"], change["status"], change["action"], change["author"]) == (
        code, "none", "mark", "ani (api:k-planner)")
    assert change["old"] == {"status": None, "surveyed_on": None, "operators": None, "evidence": None}
    second = client.post("/api/coverage/marks", json={"kode_desa": code, "status": "lemah"},
                         headers=bearer(rt, "admin")).get_json()
    assert second["change"]["old"]["status"] == "none" and second["change"]["author"] == "api:k-admin"

    assert client.post(f"/api/coverage/marks/{second['id']}/undo", headers=bearer(rt, "read")).status_code == 403
    stale = client.post(f"/api/coverage/marks/{first.get_json()['id']}/undo", headers=planner)
    assert stale.status_code == 409 and f"change {second['id']}" in stale.get_json()["error"]
    undo = client.post(f"/api/coverage/marks/{second['id']}/undo", json={"author": "kabid"}, headers=planner)
    assert undo.status_code == 201
    assert (undo.get_json()["change"]["action"], undo.get_json()["change"]["undoes"]) == ("undo", second["id"])
    assert rt.store.coverage_marks().set_index("kode_desa").at[code, "status"] == "none"
    assert client.post("/api/coverage/marks/999999/undo", headers=planner).status_code == 404

    trail = client.get(f"/api/coverage/history?kode_desa={code.replace('.', '')}", headers=bearer(rt, "read"))
    assert [c["action"] for c in trail.get_json()["changes"]] == ["undo", "mark", "mark"]
    assert client.get("/api/coverage/history", headers=bearer(rt, "ingest")).status_code == 403
    assert client.get("/api/coverage/history?limit=0", headers=planner).status_code == 400


def test_bad_marks_are_refused_with_the_reason(rt, client) -> None:
    planner = bearer(rt, "planner")
    code = rt.region.desa["kode"].iloc[20]
    for body, words in (({"kode_desa": code}, "status is missing"), ({"kode_desa": code, "status": "sedang"},
                        "not one of"), ({"kode_desa": "53.03.99.2001", "status": "lemah"}, "not a desa of"),
                        ({"h3": "8f", "status": "lemah"}, "not an H3 cell"), ([1, 2], "JSON object"),
                        ({"kode_desa": code, "status": "lemah", "author": 5}, "author must be text")):
        answer = client.post("/api/coverage/marks", json=body, headers=planner)
        assert answer.status_code == 400 and words in answer.get_json()["error"], (body, answer.get_json())
    assert rt.store.coverage_history().empty


def test_a_cell_mark_is_kept_with_its_desa(rt, client) -> None:
    import h3

    desa = rt.region.desa[rt.region.desa["has_polygon"]].iloc[30]
    p = desa.geometry.representative_point()
    cell = h3.latlng_to_cell(p.y, p.x, 9)
    answer = client.post("/api/coverage/marks", json={"h3": cell, "status": "none"}, headers=bearer(rt, "planner"))
    assert answer.status_code == 201 and (answer.get_json()["change"]["kode_desa"], answer.get_json()["change"]["h3"]) \
        == (desa["kode"], cell)


def test_proposal_endpoints(rt, client, scene) -> None:
    day = pd.Timestamp(T0, unit="s", tz="UTC").tz_convert(rt.settings.tz).date().isoformat()
    query = f"from={day}&to={day}"
    assert client.get(f"/api/bts-proposal.csv?{query}").status_code == 401
    assert client.get(f"/api/bts-proposal.csv?{query}", headers=bearer(rt, "ingest")).status_code == 403
    assert client.get("/api/bts-proposal.xlsx?from=2025-02-30", headers=bearer(rt, "read")).status_code == 400
    # the default start 29 days before to=0001-01-05 does not exist: a 400, not a server error (found by the fuzzer)
    assert client.get("/api/bts-proposal.csv?to=0001-01-05", headers=bearer(rt, "read")).status_code == 400
    read = bearer(rt, "read")
    csv = client.get(f"/api/bts-proposal.csv?{query}", headers=read)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert f'filename="usulan_bts_53.03_{day}_{day}.csv"' in csv.headers["Content-Disposition"]
    table = pd.read_csv(io.BytesIO(csv.data), encoding="utf-8-sig")
    assert set(table["Kode Kemendagri"]) == {scene["a"], scene["b"], scene["e"]}
    xlsx = client.get(f"/api/bts-proposal.xlsx?{query}", headers=read)
    assert list(pd.read_excel(io.BytesIO(xlsx.data), sheet_name=None)) == ["Usulan BTS", "Keterangan"]
    # a new mark changes the answer at once (cached per reference data)
    rt.store.mark_coverage(CoverageMark(scene["c"], SignalStatus.WEAK, author="ani"))
    again = pd.read_csv(io.BytesIO(client.get(f"/api/bts-proposal.csv?{query}", headers=read).data),
                        encoding="utf-8-sig")
    assert scene["c"] in set(again["Kode Kemendagri"])


def test_proposal_endpoint_answers_503_when_the_store_is_down(rt, client, monkeypatch) -> None:
    from ntpd_map.store.model import StoreUnavailable

    read = bearer(rt, "read")

    def down(*_a: object, **_k: object) -> None:
        raise StoreUnavailable("database is locked")

    monkeypatch.setattr(rt.store, "data_version", down)
    answer = client.get("/api/bts-proposal.xlsx", headers=read)
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    monkeypatch.setattr(rt.store, "mark_coverage", down)
    body = {"kode_desa": rt.region.desa["kode"].iloc[0], "status": "none"}
    assert client.post("/api/coverage/marks", json=body, headers=bearer(rt, "planner")).status_code == 503


# ------------------------------------------------------------------------------------------- the commands


def run(args: list[str], data_dir: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NTPD_DATA_DIR": str(data_dir), "NTPD_ALLOW_DOWNLOAD": "0", "NTPD_SIMULATE": "never"}
    proc = subprocess.run([sys.executable, "-m", "ntpd_map", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_a_planner_goes_from_evidence_to_the_proposal_on_the_command_line(runtime, data_dir, tmp_path) -> None:
    env_dir = tmp_path / "d"
    (env_dir / "boundaries").mkdir(parents=True)
    for cached in (data_dir / "boundaries").glob("*53.03*"):  # the session's built region and locator index
        (env_dir / "boundaries" / cached.name).write_bytes(cached.read_bytes())
    desa = runtime.region.desa[runtime.region.desa["has_polygon"]]
    a, b = desa.iloc[4], desa.iloc[60]
    pa = a.geometry.representative_point()

    cells = tmp_path / "510.csv"
    cells.write_text("GSM,510,10,1001,11,0,124.48,-9.45,3000,12,1,1500000000,1700000000,0\n"
                     "LTE,525,1,1,1,0,103.8,1.3,1000,1,1,1,1,0\n"
                     "GSM,510,xx,1001,14,0,124.5,-9.4,1000,1,1,1,1,0\n")
    first = json.loads(run(["import", "opencellid", str(cells)], env_dir).stdout)
    assert (first["inserted"], first["skipped_other_mcc"], first["rejected"]) == (1, 1, 1)
    assert Path(first["rejects_file"]).name == "510.rejected.csv"
    assert json.loads(run(["import", "opencellid", str(cells)], env_dir).stdout)["unchanged"] == 1

    survey = tmp_path / "survei.csv"
    survey.write_text(f"waktu,lat,lon,sinyal,operator\n2025-06-01 09:00,{pa.y},{pa.x},-115,Telkomsel\n"
                      f"2025-06-01 09:05,{pa.y},{pa.x},-135 dBm,XL\n2025-06-01 09:10,{pa.y},{pa.x},oke,XL\n")
    got = json.loads(run(["import", "survey", str(survey)], env_dir).stdout)
    assert (got["inserted"], got["rejected"], got["no_signal"], got["desa"]) == (2, 1, 2, 1)

    listed = tmp_path / "blank.csv"
    listed.write_text(f"kode,desa,status\n{a['kode']},,\n,{b['nama']},lemah\n,Tidak Ada Desa,\n")
    got = json.loads(run(["import", "blankspots", str(listed)], env_dir).stdout)
    assert (got["marked"], got["rejected"], got["author"]) == (2, 1, "import:blank.csv")
    assert json.loads(run(["import", "blankspots", str(listed)], env_dir).stdout)["marked"] == 0

    mark = json.loads(run(["coverage", "mark", "--desa", b["kode"], "--status", "baik", "--author", "ani"],
                          env_dir).stdout)
    undo = json.loads(run(["coverage", "undo", str(mark["id"]), "--author", "kabid"], env_dir).stdout)
    trail = json.loads(run(["coverage", "history", "--desa", b["kode"]], env_dir).stdout)
    assert [(c["id"], c["action"], c["status"], c["old"]["status"]) for c in trail] == [
        (undo["id"], "undo", "weak", "good"), (mark["id"], "mark", "good", "weak"), (mark["id"] - 1, "mark", "weak",
                                                                                     None)]
    assert run(["coverage", "undo", "9999", "--author", "x"], env_dir, check=False).returncode == 2

    out = tmp_path / "usulan.xlsx"
    done = json.loads(run(["export", "bts-proposal", "--out", str(out), "--from", "2025-06-01", "--to",
                           "2025-06-30"], env_dir).stdout)
    assert done["rows"] == 2 and not done["simulated"] and Path(done["written"]) == out
    sheet = pd.read_excel(out, sheet_name="Usulan BTS")
    assert set(sheet["Kode Kemendagri"]) == {a["kode"], b["kode"]}
    row = sheet.set_index("Kode Kemendagri").loc[a["kode"]]
    assert (row["Titik ukur survei"], row["Operator terlihat"]) == (2, "Telkomsel, XL")
    assert run(["export", "bts-proposal", "--out", str(tmp_path / "x.pdf")], env_dir, check=False).returncode == 2

    key = json.loads(run(["keys", "create", "--role", "planner", "--name", "survei-app"], env_dir).stdout)
    assert key["role"] == "planner" and key["key"].startswith("ntpd_")
