"""Security (issue 8): injection in every query parameter, in posted incidents and in imported files; path
traversal in URLs and file names; requests larger than NTPD_MAX_UPLOAD_MB. Against the real app (Flask's test
client) on its own SQLite store with a 1 MB limit."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Makassar")

#: what attackers type into a filter: SQL, a second statement, comments, unicode, NUL, a very long value
INJECTIONS = (
    "' OR 1=1--",
    "1; DROP TABLE incidents",
    "'); DROP TABLE incidents; --",
    '" OR ""="',
    "1' UNION SELECT key_hash, name, role FROM api_keys--",
    "53.03' OR '1'='1",
    "%' OR kode_kec LIKE '%",
    "2025-05-01' OR 1=1--",
    "𝕿𝖊𝖘𝖙 ñ \u202e\u200b 日本 🚑",
    "a\x00b",
    "=HYPERLINK(\"http://x\",\"y\")",
    "../../../../etc/passwd",
    "A" * 20_000,
)
#: text that may only appear in an answer if an injection or a traversal worked
FORBIDDEN_IN_ANSWERS = ("sqlite3.", "psycopg", "syntax error", "Traceback", "OperationalError", "def from_env",
                        "NTPD_SECRET_KEY", "root:x:0:0")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def local(hours_ago: float) -> str:
    return (datetime.now(TZ) - timedelta(hours=hours_ago)).strftime("%Y-%m-%d %H:%M")


@pytest.fixture(scope="module")
def rt(runtime, tmp_path_factory):
    """A runtime on its own SQLite store, a 1 MB upload limit, the session's TTU boundaries and locator."""
    from ntpd_map.config import Settings
    from ntpd_map.runtime import Runtime

    folder = tmp_path_factory.mktemp("security")
    fresh = Runtime(Settings.from_env(NTPD_DATA_DIR=str(folder), NTPD_REGION="53.03", NTPD_SIMULATE="never",
                                      NTPD_TZ="Asia/Makassar", NTPD_MAX_UPLOAD_MB="1"))
    fresh.__dict__["region"] = runtime.region
    fresh.__dict__["locator"] = runtime.locator
    return fresh


@pytest.fixture(scope="module")
def app(rt):
    from ntpd_map.factory import create_app

    return create_app(runtime=rt)


@pytest.fixture(scope="module")
def keys(rt) -> dict[str, str]:
    from ntpd_map.access.keys import create_api_key

    return {role: create_api_key(rt.store, f"sec-{role}", role)[1] for role in ("ingest", "read", "admin", "planner")}


@pytest.fixture(scope="module")
def seeded(app, rt, keys) -> dict[str, Any]:
    """A few calls, a unit with a position, a coverage mark: so every endpoint has rows an injection could
    widen, and a track one could read."""
    from ntpd_map.domain import AgencyKind, Unit

    client = app.server.test_client()
    rows = [{"id": f"S-{i}", "waktu": local(2 + i), "jenis_panggilan": ["darurat", "iseng", "terputus"][i % 3],
             "kategori": "kebakaran", "instansi": "Damkar TTU", "status": "proses", "lat": "-9.45", "lon": "124.48",
             "nomor_penelepon": "081234567890"} for i in range(6)]
    assert client.post("/api/incidents", json=rows, headers=bearer(keys["ingest"])).status_code == 200
    rt.store.upsert_units([Unit("unit-1", "Ambulans 1", "RSUD Kefamenanu", AgencyKind("medical"))])
    fix = f"/api/positions/osmand?id=unit-1&lat=-9.45&lon=124.48&timestamp={int(time.time()) - 60}"
    assert client.get(fix).status_code == 200
    code = rt.region.desa["kode"].iloc[0]
    marked = client.post("/api/coverage/marks", json={"kode_desa": code, "status": "none", "evidence": "0 bar"},
                         headers=bearer(keys["planner"]))
    assert marked.status_code == 201, marked.data
    return {"desa": code, "incidents": 6}


def table_counts(rt) -> dict[str, int]:
    conn = sqlite3.connect(rt.store.path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        conn.close()


#: tables a request may add to without any injection: the audit trail of requests, refused devices
GROWING = ("audit_log", "unknown_devices")


def stable(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if k not in GROWING}


def check_answer(response: Any, what: str) -> None:
    assert response.status_code < 500, (what, response.status_code, response.data[:300])
    body = response.get_data(as_text=True) if not response.data.startswith(b"PK") else ""
    for text in FORBIDDEN_IN_ANSWERS:
        assert text not in body, (what, text, body[:300])


# ------------------------------------------------------------------------------------------- query parameters


def get_operations(client: Any) -> list[tuple[str, list[str], list[str]]]:
    """(path, query parameters, path parameters) of every GET operation the OpenAPI document lists."""
    doc = client.get("/api/openapi.json").get_json()
    out = []
    for path, item in doc["paths"].items():
        if "get" in item:
            params = item["get"].get("parameters", [])
            out.append((path, [p["name"] for p in params if p["in"] == "query"],
                        [p["name"] for p in params if p["in"] == "path"]))
    return out


#: valid values, so each injected parameter is the only odd one of its request
VALID = {"from": (datetime.now(TZ) - timedelta(days=20)).date().isoformat(),
         "to": (datetime.now(TZ) + timedelta(days=1)).date().isoformat(),
         "metric": "bts", "level": "desa", "res": "8", "empty": "0", "minutes": "60", "limit": "50",
         "device": "unit-1"}
#: query parameters the code reads that the OpenAPI document does not list (ntpd_map/http/); a new one must be
#: added here or to the document
UNDOCUMENTED: dict[str, list[str]] = {}


def test_every_get_parameter_is_known(app) -> None:
    """The enumeration below is complete: every GET endpoint of the document and each of its parameters."""
    ops = {path: (query, path_params) for path, query, path_params in get_operations(app.server.test_client())}
    assert set(ops) == {"/api/recap", "/api/priorities", "/api/hexes", "/api/positions/osmand", "/api/responders",
                        "/api/responders/{device}/track", "/api/responders/unknown", "/api/coverage/history",
                        "/api/bts-proposal.xlsx", "/api/bts-proposal.csv", "/api/priorities.csv",
                        "/api/priorities.xlsx", "/api/health", "/api/openapi.json"}
    assert set(ops["/api/priorities"][0]) == {"from", "to", "metric", "level"}
    assert set(ops["/api/hexes"][0]) == {"from", "to", "res", "empty"}
    assert set(ops["/api/coverage/history"][0]) == {"kode_desa", "limit"}
    # every parameter the API code reads is documented (or listed in UNDOCUMENTED), so none escapes the scan
    import re

    documented = {n for query, _ in ops.values() for n in query} | {n for v in UNDOCUMENTED.values() for n in v}
    read = set()
    for module in sorted((ROOT / "ntpd_map" / "http").glob("*.py")):
        if module.name == "briefing.py":
            continue  # the briefing's downloads are pages' routes (a session), not the API
        source = module.read_text()
        read |= set(re.findall(r"""args(?:\.get\(|\[)["'](\w+)["']""", source))
    assert read and read <= documented, read - documented


def test_valid_requests_answer(app, keys, seeded) -> None:
    """The values the injections stand beside are valid: without an injection each GET answers 200."""
    client = app.server.test_client()
    for path, query, _ in get_operations(client):
        if path == "/api/positions/osmand":
            continue  # a report, see the widen test
        url = path.replace("{device}", VALID["device"]) + "?" + "&".join(f"{n}={VALID[n]}" for n in query
                                                                           if n in VALID)
        assert client.get(url, headers=bearer(keys["admin"])).status_code == 200, url


def requests_with_injections(client: Any) -> Iterator[tuple[str, str]]:
    """(what, url) for every GET operation (with the .csv/.xlsx twins of /api/priorities), every parameter
    (and one the endpoint does not know), every injection; the other parameters valid."""
    for path, query, path_params in get_operations(client):
        paths = [path, f"{path}.csv", f"{path}.xlsx"] if path == "/api/priorities" else [path]
        for route in paths:
            names = [*query, *UNDOCUMENTED.get(path, []), "x"]
            for name in [*names, *path_params]:
                for value in INJECTIONS:
                    params = {n: VALID.get(n, "1") for n in query}
                    url = route.replace("{device}", quote(VALID["device"], safe=""))
                    if name in path_params:
                        url = route.replace("{" + name + "}", quote(value, safe=""))
                    else:
                        params[name] = value
                    if path == "/api/positions/osmand":
                        params = {"id": "no-such-unit", **({name: value} if name in query else {})}
                    qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())
                    yield f"GET {route} {name}={value[:30]!r}", f"{url}?{qs}"


def test_injection_in_every_query_parameter(app, rt, keys, seeded) -> None:
    client = app.server.test_client()
    before = table_counts(rt)
    tried = 0
    for what, url in requests_with_injections(client):
        check_answer(client.get(url, headers=bearer(keys["admin"])), what)
        tried += 1
    assert tried > 400
    assert stable(table_counts(rt)) == stable(before)
    assert rt.store.count_incidents() == seeded["incidents"]


def test_injection_cannot_widen_what_is_read(app, rt, keys, seeded) -> None:
    """Where an injection that worked would answer more, the answer is a refusal, not more rows."""
    client = app.server.test_client()
    admin = bearer(keys["admin"])
    for value in INJECTIONS:
        enc = quote(value, safe="")
        track = client.get(f"/api/responders/{enc}/track?minutes=60", headers=admin)
        assert not (track.is_json and track.get_json().get("type") == "Feature"), value[:30]
        if "/" not in value:  # with a slash it is another path (see test_unknown_api_paths_are_404)
            assert track.status_code == 404, (value[:30], track.status_code)
        history = client.get(f"/api/coverage/history?kode_desa={enc}", headers=admin)
        assert history.status_code == 400, (value[:30], history.status_code)
        for param in ("from", "to"):
            dates = {"from": VALID["from"], "to": VALID["to"], param: enc}
            recap = client.get(f"/api/recap?from={dates['from']}&to={dates['to']}", headers=admin)
            assert recap.status_code == 400, (value[:30], recap.status_code)
            proposal = client.get(f"/api/bts-proposal.csv?from={dates['from']}&to={dates['to']}", headers=admin)
            assert proposal.status_code == 400 and "Content-Disposition" not in proposal.headers
        hexes = client.get(f"/api/hexes?res={enc}", headers=admin)
        assert hexes.status_code == 400
        prio = client.get(f"/api/priorities?metric={enc}", headers=admin)
        assert prio.status_code == 400 and "metric must be one of" in prio.get_json()["error"]
        osm = client.get(f"/api/positions/osmand?id={enc}&lat=-9.45&lon=124.48&timestamp={int(time.time())}")
        assert osm.status_code in (400, 403), (value[:30], osm.status_code)
    # the injected device ids that were refused are counted as data, verbatim (what an admin reads)
    unknown = rt.store.unknown_devices()
    assert "' OR 1=1--" in set(unknown["device_id"])
    assert len(rt.store.track("unit-1", 0)) == 1


def test_injection_in_headers_and_keys(app, rt, keys) -> None:
    client = app.server.test_client()
    for value in INJECTIONS[:9]:
        for header in (f"Bearer {value}", value, f"Bearer {keys['read']}' OR 1=1--"):
            answer = client.get(f"/api/recap?from={VALID['from']}&to={VALID['to']}",
                                headers={"Authorization": header.replace("\x00", "")})
            assert answer.status_code == 401, (header[:40], answer.status_code)


# ------------------------------------------------------------------------------------------- posted and imported data

FIELDS = ("id", "kategori", "instansi", "status", "desa", "kecamatan", "kode_wilayah", "keterangan",
          "nomor_penelepon", "waktu", "jenis_panggilan", "lat", "lon", "lokasi_sumber", "waktu_dispatch")


def injected_records(prefix: str) -> list[dict[str, Any]]:
    """One record per (field, injection): the injection in that field, the rest valid."""
    out = []
    for f_i, name in enumerate(FIELDS):
        for v_i, value in enumerate(INJECTIONS):
            rec = {"id": f"{prefix}-{f_i}-{v_i}", "waktu": local(3), "jenis_panggilan": "darurat",
                   "kategori": "kebakaran", "instansi": "Damkar TTU", "status": "proses", "lat": "-9.45",
                   "lon": "124.48"}
            rec[name] = value if name != "id" else f"{prefix}-{f_i}-{v_i}-{value}"
            out.append(rec)
    return out


def test_injection_in_posted_incidents_is_data_or_a_reason(app, rt, keys, seeded) -> None:
    from ntpd_map.store.model import IncidentQuery

    client = app.server.test_client()
    before = table_counts(rt)
    records = injected_records("INJ")
    answer = client.post("/api/incidents", json=records, headers=bearer(keys["ingest"]))
    check_answer(answer, "POST /api/incidents")
    body = answer.get_json()
    assert answer.status_code == 200 and body["accepted"] + body["rejected"] == len(records)
    assert all(e["reason"].startswith(f"record {e['row']}: ") for e in body["errors"])
    after = table_counts(rt)
    assert after["incidents"] == before["incidents"] + body["accepted"]
    assert after["rejects"] == before["rejects"] + body["rejected"]
    assert {k: v for k, v in after.items() if k not in ("incidents", "rejects", *GROWING)} == {
        k: v for k, v in before.items() if k not in ("incidents", "rejects", *GROWING)}
    # text is stored as it was sent, in its column or kept in attrs, never run
    stored = rt.store.incidents(IncidentQuery()).set_index("external_id")

    def attrs(row: Any) -> dict[str, Any]:
        return row["attrs"] if isinstance(row["attrs"], dict) else json.loads(row["attrs"] or "{}")

    where = {"kategori": lambda r: r["category_label"], "instansi": lambda r: r["agency"],
             "keterangan": lambda r: r["notes"], "desa": lambda r: attrs(r)["desa"],
             "kecamatan": lambda r: attrs(r)["kecamatan"], "kode_wilayah": lambda r: attrs(r)["kode_wilayah"],
             "lokasi_sumber": lambda r: attrs(r)["_location_source_label"]}
    for field, read in where.items():
        for v_i, value in enumerate(INJECTIONS):
            assert read(stored.loc[f"INJ-{FIELDS.index(field)}-{v_i}"]) == value, (field, value[:30])
    assert {f"INJ-0-{v_i}-{value}" for v_i, value in enumerate(INJECTIONS)} <= set(stored.index)
    # the rest were rejected, each with a reason naming the field ("row" counts records from 0)
    rejected_fields = {FIELDS[int(records[e["row"]]["id"].split("-")[1])] for e in body["errors"]}
    assert rejected_fields == {"status", "waktu", "jenis_panggilan", "lat", "lon", "waktu_dispatch"}
    for e in body["errors"]:
        assert FIELDS[int(records[e["row"]]["id"].split("-")[1])] in e["reason"]
    # nothing was dropped, the store still answers and the keys still work
    recap = client.get(f"/api/recap?from={VALID['from']}&to={VALID['to']}", headers=bearer(keys["read"]))
    assert recap.status_code == 200
    assert recap.get_json()["calls"]["total"] == seeded["incidents"] + body["accepted"]


def test_injection_in_an_imported_file_is_data_or_a_reason(rt, tmp_path) -> None:
    """A CSV import (what ``import incidents`` runs) with the same strings; the rejects file it writes opens in
    a spreadsheet without running a formula."""
    from ntpd_map.ingest.files import table_from_file, write_rejects_csv
    from ntpd_map.ingest.records import incidents_from_table
    from ntpd_map.ingest.write import write_batch

    records = injected_records("CSV")
    path = tmp_path / "injected.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(FIELDS), delimiter=";")
        writer.writeheader()
        writer.writerows({k: str(v).replace("\x00", "") for k, v in r.items()} for r in records)
    before = table_counts(rt)
    table = table_from_file(path)
    batch = incidents_from_table(table, source="file:injected.csv", tz="Asia/Makassar", region=rt.region,
                                 caller_key=rt.secret_key)
    result = write_batch(rt, batch, source="file:injected.csv")
    assert result["accepted"] + result["rejected"] + result["duplicates"] == len(records)
    assert all(r["reason"] for r in batch.rejects)
    after = table_counts(rt)
    assert after["incidents"] == before["incidents"] + result["inserted"]
    assert stable({k: v for k, v in after.items() if k not in ("incidents", "rejects")}) == stable(
        {k: v for k, v in before.items() if k not in ("incidents", "rejects")})
    rejects = write_rejects_csv(batch.rejects, tmp_path / "injected.rejected.csv")
    for row in csv.reader(io.StringIO(rejects.read_text(encoding="utf-8-sig"))):
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")) or cell.startswith("'"), cell[:40]


# ------------------------------------------------------------------------------------------- path traversal


#: Dash's component route: it refuses these, but a library name it does not know ends in a 500 (see below)
DASH_SUITES_TRAVERSAL = (
    "/_dash-component-suites/../../ntpd_map/config.py",
    "/_dash-component-suites/dash/../../../ntpd_map/config.py",
    "/_dash-component-suites/dash/..%2f..%2f..%2fntpd_map%2fconfig.py",
    "/_dash-component-suites/dash_leaflet/..%2f..%2fntpd_map/config.py",
    "/_dash-component-suites/ntpd_map/config.py",
)


def test_path_traversal_in_urls_reads_nothing(app, rt, keys) -> None:
    client = app.server.test_client()
    secret = rt.secret_key.decode()
    config = (ROOT / "ntpd_map" / "config.py").read_text()
    urls = [
        "/layers/..%2f..%2fsecret.key.geojson",
        "/layers/..%2F..%2Fdata%2Fsecret.key",
        "/layers/../../data/secret.key",
        "/layers/%2e%2e/%2e%2e/ntpd_map/config.py",
        "/layers/kecamatan.geojson/../../../ntpd_map/config.py",
        "/assets/../ntpd_map/config.py",
        "/assets/..%2fntpd_map%2fconfig.py",
        "/assets/%2e%2e/ntpd_map/config.py",
        "/assets/....//ntpd_map/config.py",
        "/assets/%252e%252e/ntpd_map/config.py",
        *DASH_SUITES_TRAVERSAL,
        "/api/responders/..%2f..%2fetc/track",
        "/api/responders/../../etc/passwd/track",
        "/api/responders/%2e%2e%2f%2e%2e%2fetc%2fpasswd/track",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/api/coverage/history?kode_desa=..%2f..%2fsecret.key",
        "/api/bts-proposal.csv?from=../../secret.key",
    ]
    for url in urls:
        for headers in ({}, bearer(keys["admin"])):
            answer = client.get(url, headers=headers)
            body = answer.get_data(as_text=True)
            assert secret not in body, url
            assert "class Settings" not in body and config[:200] not in body, url
            if url in DASH_SUITES_TRAVERSAL:
                continue  # refused, but with a 500: test_unknown_component_suites_are_404
            check_answer(answer, url)
            # the Dash page shell (no data) for unknown /api/ paths: test_unknown_api_paths_are_404
            assert answer.status_code in (302, 400, 401, 403, 404) or answer.data.startswith(b"<!DOCTYPE html>"), (
                url, answer.status_code)


def test_unknown_component_suites_are_404(app) -> None:
    client = app.server.test_client()
    for url in (*DASH_SUITES_TRAVERSAL, "/_dash-component-suites/foo/bar.js", "/_dash-component-suites/dash/x.js"):
        assert client.get(url).status_code == 404, url


def test_unknown_api_paths_are_404(app) -> None:
    client = app.server.test_client()
    for url in ("/api/nope", "/api/responders/a/b/track", "/api/responders/../../etc/passwd/track"):
        answer = client.get(url)
        assert answer.status_code == 404 and answer.is_json, (url, answer.status_code)


def cli(args: list[str], data_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NTPD_DATA_DIR": str(data_dir), "NTPD_ALLOW_DOWNLOAD": "0", "NTPD_SIMULATE": "never",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "ntpd_map", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def test_weird_file_names_write_only_beside_the_input(data_dir, tmp_path) -> None:
    """The rejects of ``import incidents`` go beside the input, whatever its name (``..``, a newline, quotes,
    a name that looks like a path when decoded); ``export --out`` writes exactly the file named."""
    work = tmp_path / "data"
    (work / "boundaries").mkdir(parents=True)
    for cached in (data_dir / "boundaries").glob("*53.03*"):
        (work / "boundaries" / cached.name).write_bytes(cached.read_bytes())
    inbox = tmp_path / "outer" / "inbox"
    inbox.mkdir(parents=True)
    name = "..\n..%2f..%2fevil'\"; rm -rf ~ $(id).csv"
    source = inbox / name
    source.write_text("id;waktu;jenis_panggilan\nW-1;31/02/2025 10:00;darurat\nW-2;2025-06-01 10:00;iseng\n",
                      encoding="utf-8")
    outside_before = files_under(tmp_path / "outer") | files_under(work)
    # the path as a user would type it, through the folder's parent and back
    typed = f"{inbox}/../inbox/{name}"
    summary = json.loads(cli(["import", "incidents", typed, "--tz", "Asia/Makassar"], work, tmp_path).stdout)
    assert summary["rejected"] == 1
    written = Path(summary["rejects_file"])
    assert written.resolve().parent == inbox.resolve()
    assert written.name == "..\n..%2f..%2fevil'\"; rm -rf ~ $(id).rejected.csv"
    new = (files_under(tmp_path / "outer") | files_under(work)) - outside_before
    assert {p.resolve() for p in new if p.parent.resolve() != (work / "cache").resolve()
            and not p.name.startswith(("ntpd.sqlite", "secret.key", "locator_"))} == {written.resolve()}

    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    for out_name in ("usulan..bts\n'x'.csv", "..%2f..%2fusulan.xlsx"):
        proc = cli(["export", "bts-proposal", "--out", str(out_dir / out_name), "--from", "2025-05-01", "--to",
                    "2025-05-31"], work, tmp_path)
        assert Path(json.loads(proc.stdout)["written"]).resolve() == (out_dir / out_name).resolve()
    assert {p.name for p in out_dir.iterdir()} == {"usulan..bts\n'x'.csv", "..%2f..%2fusulan.xlsx"}
    assert not list(tmp_path.glob("usulan*")) and not list(tmp_path.parent.glob("usulan*"))
    with zipfile.ZipFile(out_dir / "..%2f..%2fusulan.xlsx") as z:
        assert "xl/workbook.xml" in z.namelist()


# ------------------------------------------------------------------------------------------- oversized requests

MB = 2**20


def big_json(size: int) -> bytes:
    record = {"id": "BIG", "waktu": local(1), "jenis_panggilan": "darurat", "keterangan": "x" * 1000}
    count = size // len(json.dumps(record)) + 1
    return json.dumps([{**record, "id": f"BIG-{i}"} for i in range(count)]).encode()


def test_oversized_incident_post_gets_413_naming_the_limit(app, rt, keys) -> None:
    client = app.server.test_client()
    before = rt.store.count_incidents()
    body = big_json(int(1.5 * MB))
    assert len(body) > MB
    answer = client.post("/api/incidents", data=body, headers={**bearer(keys["ingest"]),
                                                               "Content-Type": "application/json"})
    assert answer.status_code == 413, (answer.status_code, answer.data[:200])
    assert answer.is_json and answer.get_json() == {"error": "request larger than 1 MB"}
    assert rt.store.count_incidents() == before
    # just under the limit is read (and answered on its merits)
    small = big_json(MB - 200_000)
    assert len(small) < MB
    assert client.post("/api/incidents", data=small, headers={
        **bearer(keys["ingest"]), "Content-Type": "application/json"}).status_code == 200
    # without a key the body is never read: 401, not 413, and nothing about its size
    assert client.post("/api/incidents", data=body, headers={"Content-Type": "application/json"}).status_code == 401


@pytest.mark.parametrize("path", ["/_dash-update-component", "/api/coverage/marks", "/api/positions/traccar",
                                  "/login"])
def test_oversized_posts_elsewhere_get_a_clear_413_or_a_refusal(app, keys, path) -> None:
    """Any other route: a JSON 413 naming the limit, or a refusal that never read the body (401/403); never
    a 500 or an HTML error page."""
    client = app.server.test_client()
    body = big_json(int(1.5 * MB))
    for headers in ({"Content-Type": "application/json"},
                    {"Content-Type": "application/json", **bearer(keys["admin"])}):
        answer = client.post(path, data=body, headers=headers)
        assert answer.status_code in (401, 403, 413), (path, answer.status_code, answer.data[:200])
        if answer.status_code == 413:
            assert answer.is_json and "larger than 1 MB" in answer.get_json()["error"], answer.data[:200]
        assert b"<html" not in answer.data.lower()[:500] or answer.status_code != 413


def test_osmand_reports_have_their_own_small_limit(app) -> None:
    client = app.server.test_client()
    answer = client.post("/api/positions/osmand", data=b"x" * (2 * MB), headers={"Content-Type": "text/plain"})
    assert answer.status_code == 413 and b"at most 1024 KB" in answer.data


def sign_in_as_first_admin(client: Any, rt: Any) -> None:
    """Sign in on /login as the admin the app creates on a store without users (its password is in
    <data dir>/initial-admin-password), as a browser does: the form's CSRF token, then the post."""
    import re

    password = re.search(r"password: (\S+)", (rt.settings.data_dir / "initial-admin-password").read_text())
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert password and token, "the sign-in form or the first admin's password file changed: update this helper"
    answer = client.post("/login", data={"username": "admin", "password": password.group(1),
                                         "csrf_token": token.group(1), "next": "/"})
    assert answer.status_code in (302, 303), (answer.status_code, answer.data[:200])


def test_oversized_dash_callback_of_a_signed_in_user_gets_413(app, rt) -> None:
    """Signed in, the gate and Dash read the callback's body: more than NTPD_MAX_UPLOAD_MB is a JSON 413
    naming the limit, not Dash's or Flask's HTML error page."""
    client = app.server.test_client()
    sign_in_as_first_admin(client, rt)
    csrf = client.get_cookie("_csrf_token")
    headers = {"Content-Type": "application/json", **({"X-CSRFToken": csrf.value} if csrf else {})}
    answer = client.post("/_dash-update-component", data=big_json(int(1.5 * MB)), headers=headers)
    assert answer.status_code == 413, (answer.status_code, answer.data[:200])
    assert answer.is_json and answer.get_json() == {"error": "request larger than 1 MB"}


# ------------------------------------------------------------------------------------------- formula injection

EVIL_EVIDENCE = '=HYPERLINK("http://x","y")'


def cell_xml(body: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        return "\n".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_bts_proposal_exports_keep_typed_text_as_text(app, rt, keys, seeded) -> None:
    """An evidence note, operators and an author typed like formulas (OWASP CSV injection) reach the planner's
    spreadsheet as text: a leading ' in the CSV, string cells (never formulas) in the XLSX; numbers stay
    numbers."""
    import openpyxl

    client = app.server.test_client()
    code = rt.region.desa["kode"].iloc[5]
    marked = client.post("/api/coverage/marks", headers=bearer(keys["planner"]), json={
        "kode_desa": code, "status": "none", "evidence": EVIL_EVIDENCE, "operators": "+Telkomsel", "author": "@budi"})
    assert marked.status_code == 201
    period = f"from={VALID['from']}&to={VALID['to']}"
    from ntpd_map.analytics.proposal import HEADERS

    body = client.get(f"/api/bts-proposal.csv?{period}", headers=bearer(keys["read"])).data
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    (row,) = [r for r in rows if r[HEADERS["kode"]] == code]
    assert row[HEADERS["bukti"]] == "'" + EVIL_EVIDENCE
    assert row[HEADERS["operator_terlihat"]] == "'+Telkomsel"
    assert row[HEADERS["ditandai_oleh"]].startswith("'@budi")
    assert float(row[HEADERS["lintang"]]) < 0 and not row[HEADERS["lintang"]].startswith("'")
    for r in rows:
        for cell in r.values():
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            assert not cell.startswith("-") or float(cell) < 0, cell  # only negative numbers start with -

    xlsx = client.get(f"/api/bts-proposal.xlsx?{period}", headers=bearer(keys["read"])).data
    assert "<f>" not in cell_xml(xlsx) and "<f " not in cell_xml(xlsx)  # no formula anywhere in the workbook
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx))["Usulan BTS"]
    header = [c.value for c in sheet[1]]
    (line,) = [r for r in sheet.iter_rows(min_row=2) if r[header.index(HEADERS["kode"])].value == code]
    evidence = line[header.index(HEADERS["bukti"])]
    assert (evidence.value, evidence.data_type, evidence.quotePrefix) == (EVIL_EVIDENCE, "s", True)
    operators = line[header.index(HEADERS["operator_terlihat"])]
    assert (operators.value, operators.data_type, operators.quotePrefix) == ("+Telkomsel", "s", True)
    latitude = line[header.index(HEADERS["lintang"])]
    assert latitude.data_type == "n" and latitude.value < 0


def test_priority_exports_keep_typed_names_as_text(rt, seeded) -> None:
    """Names come from the boundary files (a user may import their own): one typed like a formula stays text."""
    import dataclasses

    import openpyxl

    from ntpd_map.analytics.export import HEADERS, to_csv, to_xlsx

    now = int(time.time())
    prio = rt.analytics.priorities("bts", now - 30 * 86400, now, "kecamatan")
    evil = ["=1+2", "+1+2", "-1+2", "@SUM(A1)", "\t=1", "\r=1", 'Noemuti =HYPERLINK("x")']
    rows = prio.rows.copy()
    rows.loc[rows.index[: len(evil)], "nama"] = evil
    prio = dataclasses.replace(prio, rows=rows)

    table = list(csv.DictReader(io.StringIO(to_csv(prio, simulated=True).decode("utf-8-sig"), newline="")))
    names = [r[HEADERS["nama"]] for r in table[: len(evil)]]
    assert names == ["'=1+2", "'+1+2", "'-1+2", "'@SUM(A1)", "'\t=1", "'\r=1", 'Noemuti =HYPERLINK("x")']
    assert table[0]["data"] == "SIMULASI"
    assert all(float(r[HEADERS["score"]]) >= 0 for r in table)

    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx(prio, True, "p")))["Peringkat"]
    header = [c.value for c in sheet[1]]
    cells = [r[header.index(HEADERS["nama"])] for r in sheet.iter_rows(min_row=2, max_row=len(evil) + 1)]
    # verbatim (an XML parser may read the CR back as LF): the cell type, not the text, keeps it from running
    assert [str(c.value).replace("\r", "\n") for c in cells] == [e.replace("\r", "\n") for e in evil]
    assert all(c.data_type == "s" for c in cells)
    assert [c.quotePrefix for c in cells] == [True] * 6 + [False]
    score = sheet.cell(row=2, column=header.index(HEADERS["score"]) + 1)
    assert score.data_type == "n"
