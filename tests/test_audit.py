"""The audit log (issue 8): every command and API call that changes state leaves one entry, with who, what,
which and counts, and never a caller's number or the notes of a call. ``python -m ntpd_map audit`` reads it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ntpd_map.access.keys import create_api_key
from ntpd_map.domain import AgencyKind, ResponderPosition, Unit

PLANTED_NUMBER = "+62 812-3456-7890"
PLANTED_NOTES = "rumah Pak Yohanes terbakar"
# 2025-05-01 16:30 UTC is 2 May 00:30 at a WITA center: a date filter in UTC would put it on the wrong day
LATE_EVENING_UTC = int(datetime(2025, 5, 1, 16, 30, tzinfo=UTC).timestamp())


@pytest.fixture
def rt(runtime, tmp_path: Path):
    """A runtime on its own empty SQLite store, sharing the session's TTU boundaries and locator."""
    from ntpd_map.config import Settings
    from ntpd_map.runtime import Runtime

    fresh = Runtime(Settings.from_env(NTPD_DATA_DIR=str(tmp_path), NTPD_REGION="53.03", NTPD_SIMULATE="off",
                                      NTPD_TZ="Asia/Makassar",
                                      NTPD_DATABASE_URL=f"sqlite:///{tmp_path / 'a.sqlite'}"))
    fresh.__dict__["region"] = runtime.region
    fresh.__dict__["locator"] = runtime.locator
    yield fresh
    fresh.store.close()


@pytest.fixture
def cli(rt, runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run ``python -m ntpd_map ...`` in this process on rt's store, as OS user "tester"; its printed JSON (or
    text with ``text=True``)."""
    from ntpd_map import cli as cli_module
    from ntpd_map.runtime import Runtime

    for name, value in rt.settings.values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NTPD_ALLOW_DOWNLOAD", "0")
    # every command opens its own Runtime: give it the session's boundaries instead of loading them again
    monkeypatch.setattr(Runtime, "region_for", lambda self, code: runtime.region)
    monkeypatch.setattr(Runtime, "locator_for", lambda self, region: runtime.locator)
    monkeypatch.setattr("getpass.getuser", lambda: "tester")

    def run(*args: str, text: bool = False, ok: bool = True) -> Any:
        code = cli_module.main(list(args))
        out, err = capsys.readouterr()
        assert (code == 0) is ok, err
        return out if text or not ok else json.loads(out)

    return run


def entries(store: Any, **filters: Any) -> list[dict[str, Any]]:
    """The audit log, newest first, with detail parsed."""
    log = store.audit_log(**filters)
    out = []
    for rec in log.to_dict("records"):
        out.append({"actor": rec["actor"], "action": rec["action"],
                    "target": rec["target"] if isinstance(rec["target"], str) else None,
                    "detail": json.loads(rec["detail"]) if isinstance(rec["detail"], str) else None})
    return out


def newest(store: Any) -> dict[str, Any]:
    return entries(store, limit=1)[0]


def assert_nothing_from_a_call(store: Any) -> None:
    dump = store.audit_log(limit=10_000).to_csv()
    digits = "".join(ch for ch in PLANTED_NUMBER if ch.isdigit())
    assert digits[-9:] not in dump and "3456" not in dump
    assert "Yohanes" not in dump and "terbakar" not in dump


# ------------------------------------------------------------------------------------------- commands


def test_every_import_command_is_audited_with_its_counts(rt, cli, tmp_path: Path) -> None:
    desa = rt.region.desa[rt.region.desa["has_polygon"]]
    a, b = desa.iloc[4], desa.iloc[60]
    pa = a.geometry.representative_point()

    calls = tmp_path / "rekap_mei.csv"
    pd.DataFrame([
        {"id": "R1", "waktu": "01/05/2025 10:00", "jenis_panggilan": "darurat", "kategori": "kebakaran",
         "instansi": "Damkar TTU", "status": "proses", "lat": str(pa.y), "lon": str(pa.x),
         "nomor_penelepon": PLANTED_NUMBER, "keterangan": PLANTED_NOTES},
        {"id": "R2", "waktu": "01/05/2025 11:00", "jenis_panggilan": "iseng", "kategori": "", "instansi": "",
         "status": "selesai", "lat": "", "lon": "", "nomor_penelepon": PLANTED_NUMBER, "keterangan": PLANTED_NOTES},
        {"id": "R3", "waktu": "31/02/2025 10:00", "jenis_panggilan": "darurat", "kategori": "", "instansi": "",
         "status": "proses", "lat": "", "lon": "", "nomor_penelepon": PLANTED_NUMBER, "keterangan": PLANTED_NOTES},
    ]).to_csv(calls, index=False)
    first = cli("import", "incidents", str(calls))
    assert (first["inserted"], first["rejected"]) == (2, 1)
    got = newest(rt.store)
    assert (got["actor"], got["action"], got["target"]) == ("cli:tester", "import.incidents", "file:rekap_mei.csv")
    assert got["detail"] == {"file": "rekap_mei.csv", "rows": 3, "batch": first["batch"], "inserted": 2,
                             "updated": 0, "duplicates": 0, "rejected": 1}
    cli("import", "incidents", str(calls), "--source", "rekap-ttu")
    again = cli("import", "incidents", str(calls), "--source", "rekap-ttu")  # nothing new: still recorded
    got = newest(rt.store)
    assert (got["target"], got["detail"]["inserted"], got["detail"]["duplicates"]) == ("rekap-ttu", 0, 2)
    assert got["detail"]["duplicates"] == again["duplicates"]

    people = tmp_path / "penduduk.csv"
    people.write_text(f"kode,jumlah_penduduk\n{a['kode']},812\n{b['kode']},1200\n{a['kode_kec']},abc\n")
    result = cli("import", "population", str(people), "--source", "Dukcapil 2024")
    got = newest(rt.store)
    assert (got["actor"], got["action"], got["target"]) == ("cli:tester", "import.population", "Dukcapil 2024")
    assert got["detail"] == {"file": "penduduk.csv", "rows": 3, "inserted": 2, "updated": 0, "duplicates": 0,
                             "rejected": 1}
    assert (result["inserted"], result["rejected"]) == (2, 1)

    cells = tmp_path / "510.csv.gz"
    import gzip

    cells.write_bytes(gzip.compress(b"GSM,510,10,1001,11,0,124.48,-9.45,3000,12,1,1500000000,1700000000,0\n"
                                    b"GSM,510,xx,1001,14,0,124.5,-9.4,1000,1,1,1,1,0\n"))
    cli("import", "opencellid", str(cells))
    cli("import", "opencellid", str(cells))
    got = newest(rt.store)
    assert (got["action"], got["target"]) == ("import.opencellid", "opencellid")
    assert got["detail"] == {"file": "510.csv.gz", "rows": 2, "inserted": 0, "updated": 0, "duplicates": 1,
                             "rejected": 1}

    survey = tmp_path / "survei.csv"
    survey.write_text(f"waktu,lat,lon,sinyal,operator\n2025-06-01 09:00,{pa.y},{pa.x},-115,Telkomsel\n"
                      f"2025-06-01 09:05,{pa.y},{pa.x},-105 dBm,XL\n2025-06-01 09:10,{pa.y},{pa.x},oke,XL\n")
    cli("import", "survey", str(survey))
    got = newest(rt.store)
    assert (got["action"], got["target"]) == ("import.survey", "survey:survei.csv")
    assert got["detail"] == {"file": "survei.csv", "rows": 3, "inserted": 2, "updated": 0, "duplicates": 0,
                             "rejected": 1}

    listed = tmp_path / "blank.csv"
    listed.write_text(f"kode,desa,status,keterangan\n{a['kode']},,,{PLANTED_NOTES}\n,{b['nama']},lemah,\n"
                      ",Tidak Ada Desa,,\n")
    cli("import", "blankspots", str(listed))
    got = newest(rt.store)
    assert (got["action"], got["target"]) == ("import.blankspots", "import:blank.csv")
    assert got["detail"] == {"file": "blank.csv", "rows": 3, "inserted": 2, "updated": 0, "duplicates": 0,
                             "rejected": 1}
    cli("import", "blankspots", str(listed))
    assert newest(rt.store)["detail"]["duplicates"] == 2

    assert [e["action"] for e in entries(rt.store)][::-1] == [
        "import.incidents", "import.incidents", "import.incidents", "import.population", "import.opencellid",
        "import.opencellid", "import.survey", "import.blankspots", "import.blankspots"]
    assert_nothing_from_a_call(rt.store)


def test_a_command_that_fails_records_nothing(rt, cli, tmp_path: Path) -> None:
    cli("units", "status", "no-such-device", "available", ok=False)
    cli("units", "remove", "no-such-device", ok=False)
    cli("keys", "revoke", "999", ok=False)
    cli("coverage", "undo", "999", "--author", "kabid", ok=False)
    empty = tmp_path / "kosong.csv"
    empty.write_text("nama,angka\nx,1\n")
    cli("import", "population", str(empty), ok=False)  # no code column: refused before anything is written
    assert rt.store.audit_log().empty


def test_unit_key_and_position_commands_are_audited(rt, cli) -> None:
    add = ["units", "add", "--device", "812345", "--name", "Ambulans RSUD 1", "--agency", "RSUD Kefamenanu",
           "--kind", "medical"]
    cli(*add)
    assert newest(rt.store) == {"actor": "cli:tester", "action": "unit.add", "target": "812345",
                                "detail": {"added": True, "kind": "medical", "status": "available"}}
    cli(*add[:-1], "fire", "--status", "off_duty")
    assert newest(rt.store)["detail"] == {"added": False, "kind": "fire", "status": "off_duty"}
    cli("units", "status", "812345", "on_scene")
    assert newest(rt.store) == {"actor": "cli:tester", "action": "unit.status", "target": "812345",
                                "detail": {"status": "on_scene"}}

    old = datetime.now(UTC) - timedelta(days=40)
    rt.store.write_positions([ResponderPosition("812345", old + timedelta(minutes=i), -9.45, 124.48)
                              for i in range(3)])
    rt.store.write_positions([ResponderPosition("812345", datetime.now(UTC), -9.45, 124.48)])
    assert cli("positions", "prune", "--days", "30")["deleted"] == 3
    assert newest(rt.store) == {"actor": "cli:tester", "action": "positions.prune", "target": None,
                                "detail": {"deleted": 3, "older_than_days": 30}}
    cli("units", "remove", "812345")
    assert newest(rt.store) == {"actor": "cli:tester", "action": "unit.remove", "target": "812345", "detail": None}

    made = cli("keys", "create", "--role", "planner", "--name", "simrs-rsud")
    got = newest(rt.store)
    assert (got["action"], got["target"], got["detail"]) == ("key.create", str(made["id"]),
                                                             {"name": "simrs-rsud", "role": "planner"})
    assert made["key"] not in rt.store.audit_log().to_csv(), "the key itself is never recorded"
    cli("keys", "revoke", str(made["id"]))
    assert newest(rt.store) == {"actor": "cli:tester", "action": "key.revoke", "target": str(made["id"]),
                                "detail": {"name": "simrs-rsud"}}


def test_coverage_commands_are_audited(rt, cli) -> None:
    code = rt.region.desa["kode"].iloc[20]
    mark = cli("coverage", "mark", "--desa", code, "--status", "lemah", "--author", "ani",
               "--evidence", "warga lapor lewat 112")
    assert newest(rt.store) == {"actor": "cli:tester", "action": "coverage.mark", "target": code,
                                "detail": {"change": mark["id"], "h3": None, "status": "weak", "author": "ani"}}
    undo = cli("coverage", "undo", str(mark["id"]), "--author", "kabid")
    assert newest(rt.store) == {"actor": "cli:tester", "action": "coverage.undo", "target": code,
                                "detail": {"change": undo["id"], "undoes": mark["id"], "h3": None, "status": None,
                                           "author": "kabid"}}
    assert "lapor" not in rt.store.audit_log().to_csv()  # evidence is free text: it stays in the trail


def test_loading_the_simulation_is_audited(rt, cli) -> None:
    from ntpd_map.ingest.simulate import load_scenario

    summary = load_scenario(rt.store, rt.region, rt.locator, days=1, seed=5,
                            end=datetime(2025, 10, 1, tzinfo=UTC))
    got = newest(rt.store)
    assert (got["actor"], got["action"], got["target"]) == ("system", "simulate.load", "53.03")
    assert got["detail"] == {"days": 1, "seed": 5, "inserted": summary["inserted"], "updated": 0, "duplicates": 0,
                             "units": summary["units"]}
    assert summary["inserted"] > 0
    cli("simulate", "--days", "1", "--seed", "5", "--end", "2025-10-01T00:00")
    got = newest(rt.store)
    assert (got["actor"], got["action"], got["detail"]["inserted"], got["detail"]["duplicates"]) == (
        "cli:tester", "simulate.load", 0, summary["inserted"])
    assert_nothing_from_a_call(rt.store)


def test_audit_command_filters_and_shows_the_centers_time(rt, cli, monkeypatch) -> None:
    at = {"now": LATE_EVENING_UTC - 3600}  # 1 May 23:30 WITA
    monkeypatch.setattr("ntpd_map.store.model.now_s", lambda: at["now"])
    rt.store.audit("cli:ana", "unit.add", "hp-01", {"added": True})
    at["now"] = LATE_EVENING_UTC  # 2 May 00:30 WITA
    rt.store.audit("api:simrs", "api.incidents", "api:simrs:abc", {"inserted": 3, "rejected": 0})
    rt.store.audit("cli:ana", "unit.remove", "hp-01", None)

    log = cli("audit", "--json")
    assert [e["action"] for e in log] == ["unit.remove", "api.incidents", "unit.add"]
    assert log[1] == {"id": log[1]["id"], "at": LATE_EVENING_UTC, "time": "2025-05-02T00:30:00+08:00",
                      "actor": "api:simrs", "action": "api.incidents", "target": "api:simrs:abc",
                      "detail": {"inserted": 3, "rejected": 0}}
    assert log[0]["target"] == "hp-01" and log[0]["detail"] is None

    assert [e["action"] for e in cli("audit", "--since", "2025-05-02", "--json")] == ["unit.remove",
                                                                                     "api.incidents"]
    assert [e["action"] for e in cli("audit", "--since", "2025-05-01", "--json")] == ["unit.remove",
                                                                                     "api.incidents", "unit.add"]
    assert [e["action"] for e in cli("audit", "--actor", "cli:ana", "--json")] == ["unit.remove", "unit.add"]
    assert [e["target"] for e in cli("audit", "--action", "api.incidents", "--json")] == ["api:simrs:abc"]
    assert [e["action"] for e in cli("audit", "--limit", "1", "--json")] == ["unit.remove"]

    text = cli("audit", "--action", "api.incidents", text=True)
    assert text.strip() == "2025-05-02 00:30:00 WITA  api:simrs  api.incidents  api:simrs:abc  inserted=3 rejected=0"
    lines = cli("audit", text=True).splitlines()
    assert lines[0].endswith("cli:ana  unit.remove  hp-01") and lines[2].startswith("2025-05-01 23:30:00 WITA")

    cli("audit", "--since", "2.5.2025", ok=False)
    cli("audit", "--limit", "0", ok=False)
    with pytest.raises(SystemExit):  # argparse: an action that is not one of audit.ACTIONS
        cli("audit", "--action", "unit.ad")


# ------------------------------------------------------------------------------------------- the API


@pytest.fixture
def client(rt):
    """The API endpoints alone on a bare Flask app (the dashboard around them plays no part in auditing)."""
    from flask import Flask

    from ntpd_map.http import coverage, incidents, positions, routes

    server = Flask(__name__)
    table = (*incidents.ROUTES, *positions.ROUTES, *coverage.ROUTES)
    routes.register(server, table, routes.Call(rt, cache=None, access=None, routes=table))  # type: ignore[arg-type]
    return server.test_client()


def bearer(rt, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key(rt.store, f'k-{role}', role)[1]}"}


#: one time for every record: a record sent again a second later must be the same record
CALL_TIME = (datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="seconds")


def call_record(external_id: str, **extra: object) -> dict[str, object]:
    return {"id": external_id, "waktu": CALL_TIME, "jenis_panggilan": "darurat", "kategori": "kebakaran",
            "instansi": "Damkar TTU", "status": "proses", "lat": "-9,45", "lon": "124.48",
            "nomor_penelepon": PLANTED_NUMBER, "keterangan": PLANTED_NOTES, **extra}


def test_posting_incidents_is_audited_with_counts_only(rt, client) -> None:
    ingest = bearer(rt, "ingest")
    answer = client.post("/api/incidents", headers=ingest,
                         json=[call_record("A1"), call_record("A2"), call_record("A3", lat="95", lon="124")])
    assert answer.status_code == 200
    body = answer.get_json()
    assert newest(rt.store) == {"actor": "api:k-ingest", "action": "api.incidents", "target": body["batch"],
                                "detail": {"records": 3, "inserted": 2, "updated": 0, "duplicates": 0,
                                           "rejected": 1}}
    client.post("/api/incidents", headers=ingest, json=[call_record("A1"), call_record("A2", status="selesai")])
    assert newest(rt.store)["detail"] == {"records": 2, "inserted": 0, "updated": 1, "duplicates": 1,
                                          "rejected": 0}
    assert client.post("/api/incidents", json=call_record("A9"), headers=bearer(rt, "read")).status_code == 403
    assert client.post("/api/incidents", data="not json", headers=ingest).status_code == 400
    assert len(rt.store.audit_log()) == 2, "a refused request changes nothing and records nothing"
    assert_nothing_from_a_call(rt.store)


def test_unit_status_is_audited_and_position_reports_are_not(rt, client, monkeypatch) -> None:
    from urllib.parse import urlencode

    from ntpd_map.store.model import StoreUnavailable

    rt.store.upsert_units([Unit("hp-07", "Ambulans RSUD 1", "RSUD Kefamenanu", AgencyKind.MEDICAL)])
    for minute in range(3):
        query = urlencode({"id": "hp-07", "timestamp": int(datetime.now(UTC).timestamp()) - 60 * minute,
                           "lat": -9.45, "lon": 124.48})
        assert client.get(f"/api/positions/osmand?{query}").status_code == 200
    assert rt.store.audit_log().empty, "position reports are not audited one by one"

    ingest = bearer(rt, "ingest")
    answer = client.post("/api/units/hp-07/status", json={"status": "dispatched"}, headers=ingest)
    assert answer.status_code == 200
    assert newest(rt.store) == {"actor": "api:k-ingest", "action": "unit.status", "target": "hp-07",
                                "detail": {"status": "dispatched"}}
    assert client.post("/api/units/hp-99/status", json={"status": "dispatched"}, headers=ingest).status_code == 404
    assert client.post("/api/units/hp-07/status", json={"status": "terbang"}, headers=ingest).status_code == 400
    assert len(rt.store.audit_log()) == 1

    def down(*_args: object) -> int:
        raise StoreUnavailable("database is locked")

    monkeypatch.setattr(rt.store, "audit", down)  # an entry that cannot be written never undoes the change
    answer = client.post("/api/units/hp-07/status", json={"status": "on_scene"}, headers=ingest)
    assert answer.status_code == 200
    assert rt.store.units().set_index("device_id").at["hp-07", "status"] == "on_scene"


def test_coverage_marks_and_undo_over_the_api_are_audited(rt, client) -> None:
    import h3

    planner = bearer(rt, "planner")
    code = rt.region.desa["kode"].iloc[20]
    first = client.post("/api/coverage/marks", headers=planner,
                        json={"kode_desa": code, "status": "tidak ada sinyal", "author": "ani",
                              "evidence": "warga lapor lewat 112"}).get_json()
    assert newest(rt.store) == {"actor": "api:k-planner", "action": "coverage.mark", "target": code,
                                "detail": {"change": first["id"], "h3": None, "status": "none",
                                           "author": "ani (api:k-planner)"}}
    desa = rt.region.desa[rt.region.desa["has_polygon"]].iloc[30]
    p = desa.geometry.representative_point()
    cell = h3.latlng_to_cell(p.y, p.x, 9)
    cell_mark = client.post("/api/coverage/marks", json={"h3": cell, "status": "lemah"}, headers=planner)
    assert cell_mark.status_code == 201
    got = newest(rt.store)
    assert (got["target"], got["detail"]["h3"], got["detail"]["status"]) == (desa["kode"], cell, "weak")

    undo = client.post(f"/api/coverage/marks/{first['id']}/undo", json={"author": "kabid"}, headers=planner)
    assert undo.status_code == 201
    assert newest(rt.store) == {"actor": "api:k-planner", "action": "coverage.undo", "target": code,
                                "detail": {"change": undo.get_json()["id"], "undoes": first["id"], "h3": None,
                                           "status": None, "author": "kabid (api:k-planner)"}}

    assert client.post("/api/coverage/marks", json={"kode_desa": code, "status": "lemah"},
                       headers=bearer(rt, "read")).status_code == 403
    assert client.post("/api/coverage/marks", json={"kode_desa": code}, headers=planner).status_code == 400
    assert client.post(f"/api/coverage/marks/{first['id']}/undo", headers=planner).status_code == 409  # undone
    assert client.post("/api/coverage/marks/999999/undo", headers=planner).status_code == 404
    assert [e["action"] for e in entries(rt.store)] == ["coverage.undo", "coverage.mark", "coverage.mark"]
    assert "lapor" not in rt.store.audit_log().to_csv()
