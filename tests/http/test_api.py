"""The ingest and recap API (issue 4): keys and roles, field-level errors, idempotency, 503 on a down store."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from ntpd_map.access.keys import create_api_key
from ntpd_map.store.model import IncidentQuery

PLANTED = "+62 812-3456-7890"


@pytest.fixture(scope="module")
def app(runtime):
    from ntpd_map.factory import create_app

    return create_app(runtime=runtime)


@pytest.fixture(scope="module")
def keys(runtime) -> dict[str, str]:
    return {role: create_api_key(runtime.store, f"test-{role}", role)[1] for role in ("ingest", "read", "admin")}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def record(external_id: str, **extra: object) -> dict[str, object]:
    when = (datetime.now(UTC) - timedelta(hours=2)).astimezone().isoformat(timespec="seconds")
    return {"id": external_id, "waktu": when, "jenis_panggilan": "darurat", "kategori": "kebakaran",
            "instansi": "Damkar TTU", "status": "proses", "lat": "-9,45", "lon": "124.48",
            "nomor_penelepon": PLANTED, "keterangan": "rumah terbakar", **extra}


def test_keys_and_roles(app, keys, runtime) -> None:
    client = app.server.test_client()
    assert client.post("/api/incidents", json=record("x")).status_code == 401
    assert client.post("/api/incidents", json=record("x"), headers=bearer("ntpd_nope")).status_code == 401
    assert client.post("/api/incidents", json=record("x"), headers=bearer(keys["read"])).status_code == 403
    assert client.get("/api/recap?from=2025-05-01&to=2025-05-31", headers=bearer(keys["ingest"])).status_code == 403
    key_id, key = create_api_key(runtime.store, "short-lived", "read")
    assert client.get("/api/recap?from=2025-05-01&to=2025-05-31", headers=bearer(key)).status_code == 200
    runtime.store.revoke_api_key(key_id)
    assert client.get("/api/recap?from=2025-05-01&to=2025-05-31", headers=bearer(key)).status_code == 401


def test_post_is_idempotent_updates_and_keeps_rejects(app, keys, runtime) -> None:
    client = app.server.test_client()
    first = client.post("/api/incidents", json=record("API-1"), headers=bearer(keys["ingest"]))
    assert first.status_code == 200 and first.get_json()["inserted"] == 1
    again = client.post("/api/incidents", json=record("API-1"), headers=bearer(keys["ingest"]))
    assert again.status_code == 200
    assert (again.get_json()["accepted"], again.get_json()["duplicates"]) == (0, 1)
    updated = client.post("/api/incidents", json=record("API-1", status="selesai"), headers=bearer(keys["admin"]))
    # the admin key is another integration: another source, so a new incident, not an update of ingest's
    assert updated.get_json()["inserted"] == 1
    closing = client.post("/api/incidents", json=record("API-1", status="selesai"), headers=bearer(keys["ingest"]))
    assert closing.get_json()["updated"] == 1

    mixed = client.post("/api/incidents", headers=bearer(keys["ingest"]), json=[
        record("API-2"), record("API-3", waktu="31/02/2025 10:00"), record("API-4", lat="95", lon="124"),
    ])
    body = mixed.get_json()
    assert mixed.status_code == 200 and (body["accepted"], body["rejected"]) == (1, 2)
    assert [e["row"] for e in body["errors"]] == [1, 2]
    assert "waktu" in body["errors"][0]["reason"] and "lat" in body["errors"][1]["reason"]
    kept = runtime.store.rejects(body["batch"])
    assert list(kept["row_number"]) == [1, 2] and kept["original"].iloc[0]["id"] == "API-3"

    bad_only = client.post("/api/incidents", json={"id": "API-5"}, headers=bearer(keys["ingest"]))
    assert bad_only.status_code == 422 and bad_only.get_json()["rejected"] == 1
    assert client.post("/api/incidents", data="not json", headers=bearer(keys["ingest"])).status_code == 400


def test_caller_number_never_stored_in_full(app, keys, runtime) -> None:
    client = app.server.test_client()
    client.post("/api/incidents", json=record("API-PRIV"), headers=bearer(keys["ingest"]))
    digits = "".join(ch for ch in PLANTED if ch.isdigit())
    conn = sqlite3.connect(runtime.store.path)
    dump = "\n".join(conn.iterdump())
    conn.close()
    assert digits not in dump and digits[-9:] not in dump
    row = conn = None
    stored = runtime.store.incidents(IncidentQuery())
    row = stored[stored["external_id"] == "API-PRIV"].iloc[0]
    assert row["caller_last3"] == "890" and len(row["caller_hash"]) == 64


def test_store_down_answers_503_with_retry_after(app, keys, runtime, monkeypatch) -> None:
    from ntpd_map.store.model import StoreUnavailable

    client = app.server.test_client()
    key_hash_lookup = runtime.store.find_api_key

    def down(*_args: object, **_kw: object) -> None:
        raise StoreUnavailable("connection refused")

    monkeypatch.setattr(runtime.store, "write_incidents", down)
    response = client.post("/api/incidents", json=record("API-DOWN"), headers=bearer(keys["ingest"]))
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    monkeypatch.setattr(runtime.store, "find_api_key", down)
    assert client.get("/api/recap?from=2025-05-01&to=2025-05-02", headers=bearer(keys["read"])).status_code == 503
    monkeypatch.setattr(runtime.store, "find_api_key", key_hash_lookup)


def test_recap_counts_what_was_posted(app, keys, runtime) -> None:
    client = app.server.test_client()
    day = datetime(2025, 6, 10, 9, 0)
    rows = [record(f"R-{i}", waktu=(day + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M"),
                   jenis_panggilan=["darurat", "iseng", "diam"][i % 3],
                   status=["selesai", "tidak ditindaklanjuti"][i % 2],
                   waktu_dispatch=(day + timedelta(minutes=i + 4)).strftime("%Y-%m-%d %H:%M"))
            for i in range(30)]
    client.post("/api/incidents", json=rows, headers=bearer(keys["ingest"]))
    recap = client.get("/api/recap?from=2025-06-10&to=2025-06-10", headers=bearer(keys["read"])).get_json()
    assert recap["calls"]["total"] == 30
    assert recap["calls"]["by_call_type"]["genuine"] == 10 and recap["calls"]["by_call_type"]["prank"] == 10
    genuine = [i for i in range(30) if i % 3 == 0]
    assert recap["genuine"]["resolved"] == sum(1 for i in genuine if i % 2 == 0)
    assert recap["genuine"]["not_followed_up"] == sum(1 for i in genuine if i % 2 == 1)
    assert recap["genuine"]["by_agency"]["Damkar TTU"]["total"] == 10
    assert recap["response_minutes"]["dispatch"]["median"] == 4.0
    assert client.get("/api/recap?from=2025-06-10&to=2025-06-01", headers=bearer(keys["read"])).status_code == 400


def test_openapi_document_fuzzed_without_server_errors(app, keys) -> None:
    """schemathesis generates requests from /api/openapi.json for every operation: none may end in a 5xx."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app.server)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} == {
        ("POST", "/api/incidents"), ("GET", "/api/recap"), ("GET", "/api/priorities"), ("GET", "/api/hexes"),
        ("GET", "/api/positions/osmand"), ("POST", "/api/positions/osmand"), ("POST", "/api/positions/traccar"),
        ("GET", "/api/responders"), ("GET", "/api/responders/{device}/track"), ("POST", "/api/units/{device}/status"),
        ("GET", "/api/responders/unknown"), ("POST", "/api/coverage/marks"),
        ("POST", "/api/coverage/marks/{id}/undo"), ("GET", "/api/coverage/history"),
        ("GET", "/api/bts-proposal.xlsx"), ("GET", "/api/bts-proposal.csv"), ("GET", "/api/priorities.csv"),
        ("GET", "/api/priorities.xlsx"), ("GET", "/api/health")}  # (schemathesis leaves out the document itself)
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        def call(case) -> None:
            response = case.call(headers=bearer(keys["admin"]))
            assert response.status_code < 500, (case.method, case.path, response.text[:300])

        call()
