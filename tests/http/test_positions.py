"""Responder positions (issue 6): both Traccar Client formats and Traccar forwarding, exactly as sent, bad input,
unknown devices, repeats, the responders API, unit status, tracks and retention."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from ntpd_map.access.keys import create_api_key
from ntpd_map.config import Settings
from ntpd_map.domain import AgencyKind, Unit, dispatch_table
from ntpd_map.geo.responders import Staleness, eta_minutes, nearest_available, responder_features
from ntpd_map.ingest.positions import (
    BadReport,
    parse_osmand_json,
    parse_osmand_query,
    parse_traccar_forward,
)

TZ = "Asia/Makassar"  # TTU: WITA, UTC+8
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC).timestamp()


# parsing ---------------------------------------------------------------------------------------------------
def test_osmand_query_as_traccar_client_sends_it() -> None:
    report = parse_osmand_query({"id": "812345", "timestamp": str(int(NOW) - 30), "lat": "-9.4567", "lon": "124.4821",
                                 "speed": "10.0", "bearing": "271.5", "altitude": "420", "accuracy": "12.5",
                                 "batt": "87", "charge": "false"}, NOW, TZ)
    (fix,) = report.fixes
    assert report.device_id == "812345" and fix.source == "osmand"
    assert fix.recorded_at == datetime.fromtimestamp(int(NOW) - 30, UTC)
    assert (fix.lat, fix.lon, fix.bearing, fix.accuracy_m, fix.battery) == (-9.4567, 124.4821, 271.5, 12.5, 87)
    assert fix.speed_kmh == pytest.approx(18.52)  # 10 knots


@pytest.mark.parametrize(("value", "expected"), [
    (str(int(NOW) - 60), int(NOW) - 60),                       # Unix seconds
    (str((int(NOW) - 60) * 1000), int(NOW) - 60),              # milliseconds
    ("2026-11-23T01:59:00Z", int(NOW) - 60),                    # ISO with zone
    ("2026-11-23 09:59:00", int(NOW) - 60),                     # no zone: the center's local time (WITA)
    (None, int(NOW)),                                           # no time: when it arrived, as Traccar does
])
def test_osmand_timestamps(value: str | None, expected: int) -> None:
    params = {"id": "a", "lat": "-9.4", "lon": "124.5"} | ({"timestamp": value} if value else {})
    assert parse_osmand_query(params, NOW, TZ).fixes[0].recorded_at.timestamp() == expected


def test_osmand_location_field_and_unknown_optionals() -> None:
    (fix,) = parse_osmand_query({"deviceid": "b", "location": "-9.5,124.6", "speed": "-1", "bearing": "-1",
                                 "batt": "abc"}, NOW, TZ).fixes
    assert (fix.lat, fix.lon) == (-9.5, 124.6)
    assert fix.speed_kmh is None and fix.bearing is None and fix.battery is None  # unknown, not fatal


@pytest.mark.parametrize(("params", "reason"), [
    ({"lat": "-9.4", "lon": "124.5"}, "device id is missing"),
    ({"id": "a", "lon": "124.5"}, "lat and lon are required"),
    ({"id": "a", "lat": "abc", "lon": "124.5"}, "must be numbers"),
    ({"id": "a", "lat": "-91", "lon": "124.5"}, "out of range"),
    ({"id": "a", "lat": "-9.4", "lon": "181"}, "out of range"),
    ({"id": "a", "lat": "nan", "lon": "124.5"}, "must be numbers"),
    ({"id": "a", "lat": "0", "lon": "0"}, "without a GPS fix"),
    ({"id": "a", "lat": "-9.4", "lon": "124.5", "timestamp": "yesterday"}, "not Unix seconds"),
    ({"id": "a", "lat": "-9.4", "lon": "124.5", "timestamp": "0"}, "before 2000"),
    ({"id": "a", "lat": "-9.4", "lon": "124.5", "timestamp": str(int(NOW) + 3600)}, "in the future"),
    ({"id": "x" * 101, "lat": "-9.4", "lon": "124.5"}, "at most 100"),
])
def test_osmand_bad_reports_say_why(params: dict[str, str], reason: str) -> None:
    with pytest.raises(BadReport, match=reason):
        parse_osmand_query(params, NOW, TZ)


def test_osmand_invalid_fix_is_recognised_not_stored() -> None:
    report = parse_osmand_query({"id": "a", "lat": "-9.4", "lon": "124.5", "valid": "false"}, NOW, TZ)
    assert report.fixes == [] and report.ignored == 1


def json_body(device: str, when: str, **coords: float) -> dict[str, object]:
    return {"device_id": device, "location": {
        "timestamp": when, "coords": {"latitude": -9.45, "longitude": 124.48, "accuracy": 8.0, "speed": 12.5,
                                      "heading": 90.0, "altitude": 400.0, **coords},
        "is_moving": True, "odometer": 1234, "event": "motionchange",
        "battery": {"level": 0.62, "is_charging": False}, "activity": {"type": "in_vehicle"}}}


def test_osmand_json_as_newer_clients_send_it() -> None:
    (fix,) = parse_osmand_json(json_body("812345", "2026-11-23T01:59:30.120Z"), NOW, TZ).fixes
    assert fix.recorded_at.timestamp() == int(NOW) - 30
    assert fix.speed_kmh == pytest.approx(45.0)  # 12.5 m/s
    assert (fix.bearing, fix.accuracy_m, fix.battery) == (90.0, 8.0, 62.0)
    unknown = parse_osmand_json(json_body("8", "2026-11-23T01:59:30Z", speed=-1, heading=-1), NOW, TZ).fixes[0]
    assert unknown.speed_kmh is None and unknown.bearing is None
    batch = json_body("8", "2026-11-23T01:59:30Z")
    batch["location"] = [batch["location"], {**batch["location"], "timestamp": "2026-11-23T01:59:40Z"}]
    assert len(parse_osmand_json(batch, NOW, TZ).fixes) == 2


@pytest.mark.parametrize(("body", "reason"), [
    ([], "JSON object"),
    ({"location": {}}, "device id is missing"),
    ({"device_id": "8"}, "location is missing"),
    ({"device_id": "8", "location": {"timestamp": "2026-11-23T01:59:30Z"}}, "coords is missing"),
    (json_body("8", ""), "timestamp is required"),
    (json_body("8", "2026-11-23T01:59:30Z", latitude=95.0), "out of range"),
    (json_body("8", "2026-11-24T01:59:30Z"), "in the future"),
])
def test_osmand_json_bad_reports_say_why(body: object, reason: str) -> None:
    with pytest.raises(BadReport, match=reason):
        parse_osmand_json(body, NOW, TZ)


def traccar_body(unique_id: str, fix_time: str, **position: object) -> dict[str, object]:
    """What a Traccar 6 server forwards with forward.type=json (PositionData: position + device)."""
    return {
        "position": {"id": 913, "attributes": {"batteryLevel": 71.0, "motion": True, "distance": 12.3},
                     "deviceId": 7, "protocol": "teltonika", "serverTime": fix_time, "deviceTime": fix_time,
                     "fixTime": fix_time, "outdated": False, "valid": True, "latitude": -9.31, "longitude": 124.52,
                     "altitude": 350.0, "speed": 20.0, "course": 180.0, "address": None, "accuracy": 0.0,
                     "network": None, "geofenceIds": None, **position},
        "device": {"id": 7, "attributes": {}, "groupId": 0, "name": "Damkar 1", "uniqueId": unique_id,
                   "status": "online", "lastUpdate": fix_time, "positionId": 912, "phone": None, "model": None,
                   "contact": None, "category": "truck", "disabled": False},
    }


def test_traccar_forward() -> None:
    (fix,) = parse_traccar_forward(traccar_body("356307042441013", "2026-11-23T01:58:00.000+00:00"), NOW, TZ).fixes
    assert fix.device_id == "356307042441013" and fix.source == "traccar"
    assert fix.recorded_at.timestamp() == int(NOW) - 120
    assert fix.speed_kmh == pytest.approx(37.04) and fix.bearing == 180.0 and fix.battery == 71.0
    assert fix.accuracy_m is None  # Traccar's 0 means unknown
    stale = parse_traccar_forward(traccar_body("3", "2026-11-23T01:58:00Z", outdated=True), NOW, TZ)
    assert stale.fixes == [] and stale.ignored == 1
    with pytest.raises(BadReport, match="Traccar server forwards"):
        parse_traccar_forward({"position": {}}, NOW, TZ)
    with pytest.raises(BadReport, match="out of range"):
        parse_traccar_forward(traccar_body("3", "2026-11-23T01:58:00Z", longitude=200), NOW, TZ)


# staleness, features, nearest ------------------------------------------------------------------------------
def test_staleness_depends_on_the_source() -> None:
    s = Staleness(phone_s=120, traccar_s=600, offline_s=1800)
    assert [s.state(age, "osmand") for age in (60, 121, 1801)] == ["live", "stale", "offline"]
    assert [s.state(age, "traccar") for age in (121, 601, 1801)] == ["live", "stale", "offline"]


def test_features_and_nearest_available() -> None:
    import pandas as pd

    now = 10_000
    units = pd.DataFrame({
        "device_id": ["a", "b", "c", "d"], "name": ["Amb 1", "Amb 2", "Damkar 1", "Polsek 1"],
        "agency": ["RSUD", "RSUD", "Damkar", "Polres"], "kind": ["medical", "medical", "fire", "police"],
        "status": ["available", "available", "available", "dispatched"], "simulated": [False] * 4,
    })
    latest = pd.DataFrame({
        "device_id": ["a", "b", "c", "d", "gone"], "recorded_at": [now - 10, now - 300, now - 4000, now - 5, now],
        "lat": [-9.50, -9.41, -9.40, -9.40, -9.4], "lon": [124.50, 124.50, 124.50, 124.50, 124.5],
        "source": ["osmand", "traccar", "osmand", "osmand", "osmand"], "speed_kmh": [30.0, None, None, 0.0, None],
        "bearing": [90.0, None, None, None, None], "battery": [80.0, None, None, None, None],
    })
    features = responder_features(latest, units, now, Staleness())
    props = {f["properties"]["device"]: f["properties"] for f in features}
    assert sorted(props) == ["a", "b", "c", "d"]  # a device no longer registered is not drawn
    assert (props["a"]["state"], props["b"]["state"], props["c"]["state"]) == ("live", "live", "offline")
    assert props["b"]["stale"] is False  # 5 minutes is fresh for a Traccar vehicle tracker
    near = nearest_available(features, -9.40, 124.50)
    # d is dispatched, c offline: only a and b are proposed, the nearer first
    assert [n["device"] for n in near] == ["b", "a"]
    assert near[0]["distance_km"] == pytest.approx(1.1, abs=0.05)
    assert near[1]["distance_km"] == pytest.approx(11.1, abs=0.05)
    assert near[1]["eta_min"] == 26  # 11.12 km x 1.5 at 40 km/h = 25.02 min, rounded up
    assert eta_minutes(0.05) == 1  # never "0 minutes"


def test_nearest_available_puts_the_kinds_the_incident_needs_first_and_never_a_stale_unit() -> None:
    """Issue 19: for a fire the fire engine comes first though a police unit is nearer; for a traffic accident
    police and ambulances (nearest first among them); stale and offline positions are never proposed."""
    import pandas as pd

    now = 10_000
    units = pd.DataFrame({
        "device_id": ["pol", "amb", "fire", "amb-stale", "fire-off"],
        "name": ["Patroli", "Ambulans", "Damkar", "Ambulans lama", "Damkar luring"], "agency": ["x"] * 5,
        "kind": ["police", "medical", "fire", "medical", "fire"], "status": ["available"] * 5, "simulated": [False] * 5,
    })
    latest = pd.DataFrame({  # from the incident at (-9.40, 124.50): police 3.3 km, ambulance 5.6, fire 13.3 km
        "device_id": ["pol", "amb", "fire", "amb-stale", "fire-off"],
        "recorded_at": [now - 10, now - 10, now - 10, now - 300, now - 4000],
        "lat": [-9.43, -9.45, -9.52, -9.401, -9.401], "lon": [124.50] * 5, "source": ["osmand"] * 5,
        "speed_kmh": [None] * 5, "bearing": [None] * 5, "battery": [None] * 5,
    })
    features = responder_features(latest, units, now, Staleness())
    table = Settings.from_env({}).dispatch_kinds
    fire = nearest_available(features, -9.40, 124.50, kinds=table["fire"])
    assert [n["device"] for n in fire] == ["fire", "pol", "amb"], fire  # the nearest two are stale or offline
    assert fire[0]["needed"] and not fire[1]["needed"]
    accident = nearest_available(features, -9.40, 124.50, kinds=table["traffic_accident"])
    assert [n["device"] for n in accident] == ["pol", "amb", "fire"]
    assert [n["device"] for n in nearest_available(features, -9.40, 124.50)] == ["pol", "amb", "fire"]


@pytest.mark.parametrize(("text", "message"), [
    ("fire=firetruck", "unknown unit kind firetruck for fire"),
    ("flood=disaster", "'flood=disaster' is not category=kind"),
    ("fire", "'fire' is not category=kind"),
])
def test_a_malformed_dispatch_table_is_refused_with_the_bad_part_named(text: str, message: str) -> None:
    settings = Settings.from_env({}, NTPD_DISPATCH_KINDS=text)
    with pytest.raises(ValueError, match=re.escape(message)):
        print(settings.dispatch_kinds)
    assert dispatch_table(" fire = fire , sar ; ; other= ") == {"fire": ("fire", "sar"), "other": ()}


# the endpoints ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app(runtime):
    from ntpd_map.factory import create_app

    return create_app(runtime=runtime)


@pytest.fixture(scope="module")
def keys(runtime) -> dict[str, str]:
    return {role: create_api_key(runtime.store, f"pos-{role}", role)[1] for role in ("ingest", "read", "admin")}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def unit(runtime, request) -> str:
    device = f"dev-{request.node.name[-40:]}"
    runtime.store.upsert_units([Unit(device, "Ambulans RSUD 1", "RSUD Kefamenanu", AgencyKind.MEDICAL)])
    yield device
    runtime.store.remove_unit(device)


def osmand(client, device: str, timestamp: int, lat: float, lon: float = 124.5):
    """One report exactly as Traccar Client sends it: a GET with the fields in the query string."""
    query = urlencode({"id": device, "timestamp": timestamp, "lat": lat, "lon": lon})
    return client.get(f"/api/positions/osmand?{query}")


def latest_of(runtime, device: str):
    latest = runtime.store.latest_positions().set_index("device_id")
    return latest.loc[device] if device in latest.index else None


def test_osmand_get_and_post_exactly_as_sent(app, runtime, unit) -> None:
    client = app.server.test_client()
    now = int(time.time())
    query = {"id": unit, "timestamp": now - 20, "lat": -9.4501, "lon": 124.4802, "speed": 5.4, "bearing": 45,
             "altitude": 410, "accuracy": 9, "batt": 77, "charge": "true"}
    response = client.get(f"/api/positions/osmand?{urlencode(query)}")
    assert response.status_code == 200 and response.data == b""
    assert latest_of(runtime, unit)["lat"] == pytest.approx(-9.4501)
    # old clients: POST with the fields in the query string and an empty body
    query |= {"timestamp": now - 10, "lat": -9.4601}
    assert client.post(f"/api/positions/osmand?{urlencode(query)}", data=b"").status_code == 200
    assert latest_of(runtime, unit)["lat"] == pytest.approx(-9.4601)
    # or as a form body
    query |= {"timestamp": now - 5, "lat": -9.4701}
    assert client.post("/api/positions/osmand", data=urlencode(query),
                       content_type="application/x-www-form-urlencoded").status_code == 200
    # newer clients: JSON
    body = json_body(unit, datetime.fromtimestamp(now - 2, UTC).isoformat().replace("+00:00", "Z"), latitude=-9.48)
    assert client.post("/api/positions/osmand", json=body).status_code == 200
    latest = latest_of(runtime, unit)
    assert latest["lat"] == pytest.approx(-9.48) and int(latest["recorded_at"]) == now - 2
    assert len(runtime.store.track(unit, now - 60)) == 4


def test_a_repeated_report_is_stored_once(app, runtime, unit) -> None:
    client = app.server.test_client()
    now = int(time.time())
    # answered 200 each time, so the phone drops it from its queue; stored once
    assert [osmand(client, unit, now - 5, -9.4).status_code for _ in range(3)] == [200, 200, 200]
    assert len(runtime.store.track(unit, 0)) == 1


def test_bad_reports_are_refused_with_the_reason(app, runtime, unit) -> None:
    client = app.server.test_client()
    now = int(time.time())
    for query, reason in [({"id": unit, "lat": "-95", "lon": "124.5"}, b"out of range"),
                          ({"id": unit, "lat": "-9.4", "lon": "124.5", "timestamp": now + 7200}, b"in the future"),
                          ({"id": unit, "lat": "-9.4"}, b"lat and lon are required"),
                          ({"lat": "-9.4", "lon": "124.5"}, b"device id is missing")]:
        response = client.get(f"/api/positions/osmand?{urlencode(query)}")
        assert response.status_code == 400 and reason in response.data, (query, response.data)
    response = client.post("/api/positions/osmand", data=b"{not json", content_type="application/json")
    assert response.status_code == 400 and b"not valid JSON" in response.data
    assert runtime.store.track(unit, 0).empty


def test_other_methods_and_huge_bodies_are_refused(app, runtime, unit) -> None:
    client = app.server.test_client()
    response = client.put(f"/api/positions/osmand?{urlencode({'id': unit, 'lat': -9.4, 'lon': 124.5})}")
    assert response.status_code == 405 and response.headers["Allow"] == "GET, POST"
    huge = client.post("/api/positions/osmand", data=b"x" * (2 << 20), content_type="application/json")
    assert huge.status_code == 413
    assert runtime.store.track(unit, 0).empty


def test_unknown_devices_are_refused_and_counted_for_the_admin(app, runtime, keys) -> None:
    client = app.server.test_client()
    query = urlencode({"id": "stranger-42", "lat": -9.4, "lon": 124.5})
    assert [client.get(f"/api/positions/osmand?{query}").status_code for _ in range(2)] == [403, 403]
    assert b"not registered" in client.get(f"/api/positions/osmand?{query}").data
    assert runtime.store.track("stranger-42", 0).empty
    response = client.get("/api/responders/unknown", headers=bearer(keys["admin"]))
    (row,) = [d for d in response.get_json()["devices"] if d["device_id"] == "stranger-42"]
    assert row["reports"] == 3 and row["source"] == "osmand"
    assert client.get("/api/responders/unknown", headers=bearer(keys["read"])).status_code == 403


def test_traccar_forwarding_needs_an_ingest_key(app, runtime, keys, unit) -> None:
    client = app.server.test_client()
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    body = traccar_body(unit, when.isoformat(timespec="milliseconds"))
    assert client.post("/api/positions/traccar", json=body).status_code == 401
    assert client.post("/api/positions/traccar", json=body, headers=bearer(keys["read"])).status_code == 403
    response = client.post("/api/positions/traccar", json=body, headers=bearer(keys["ingest"]))
    assert response.status_code == 200 and response.get_json() == {"stored": 1, "ignored": 0}
    latest = latest_of(runtime, unit)
    assert latest["source"] == "traccar" and int(latest["recorded_at"]) == int(when.timestamp())
    stranger = client.post("/api/positions/traccar", json=traccar_body("no-such-tracker", when.isoformat()),
                           headers=bearer(keys["ingest"]))
    assert stranger.status_code == 403 and "not registered" in stranger.get_json()["error"]
    bad = client.post("/api/positions/traccar", json={"position": 1}, headers=bearer(keys["ingest"]))
    assert bad.status_code == 400 and "error" in bad.get_json()


def test_responders_api_and_status(app, runtime, keys, unit) -> None:
    client = app.server.test_client()
    now = int(time.time())
    osmand(client, unit, now - 200, -9.41, 124.51)
    assert client.get("/api/responders").status_code == 401
    data = client.get("/api/responders", headers=bearer(keys["read"])).get_json()
    assert data["type"] == "FeatureCollection"
    (feature,) = [f for f in data["features"] if f["properties"]["device"] == unit]
    assert feature["geometry"] == {"type": "Point", "coordinates": [124.51, -9.41]}
    props = feature["properties"]
    assert {k: props[k] for k in ("unit", "agency", "kind", "status", "stale")} == {
        "unit": "Ambulans RSUD 1", "agency": "RSUD Kefamenanu", "kind": "medical", "status": "available",
        "stale": True}  # 200 s is stale for a phone
    assert 200 <= props["age_s"] < 260
    # the status, set by the dispatch system
    url = f"/api/units/{unit}/status"
    assert client.post(url, json={"status": "dispatched"}, headers=bearer(keys["read"])).status_code == 403
    assert client.post(url, json={"status": "lunch"}, headers=bearer(keys["ingest"])).status_code == 400
    assert client.post("/api/units/nobody/status", json={"status": "dispatched"},
                       headers=bearer(keys["ingest"])).status_code == 404
    assert client.post(url, json={"status": "dispatched"}, headers=bearer(keys["ingest"])).status_code == 200
    data = client.get("/api/responders", headers=bearer(keys["read"])).get_json()
    assert [f["properties"]["status"] for f in data["features"] if f["properties"]["device"] == unit] == ["dispatched"]


def test_track_of_the_last_minutes(app, runtime, keys, unit) -> None:
    client = app.server.test_client()
    now = int(time.time())
    for age, lat in ((3000, -9.30), (1200, -9.31), (600, -9.32), (60, -9.33)):
        osmand(client, unit, now - age, lat)
    track = client.get(f"/api/responders/{unit}/track", headers=bearer(keys["read"])).get_json()
    assert [c[1] for c in track["geometry"]["coordinates"]] == [-9.31, -9.32, -9.33]  # 30 minutes, oldest first
    longer = client.get(f"/api/responders/{unit}/track?minutes=60", headers=bearer(keys["read"])).get_json()
    assert len(longer["geometry"]["coordinates"]) == 4
    assert client.get(f"/api/responders/{unit}/track?minutes=0", headers=bearer(keys["read"])).status_code == 400


def test_store_down_answers_503_so_the_phone_retries(app, runtime, keys, unit, monkeypatch) -> None:
    from ntpd_map.store.model import StoreUnavailable

    def down(*_args: object, **_kw: object) -> None:
        raise StoreUnavailable("database is locked")

    monkeypatch.setattr(runtime.store, "write_positions", down)
    client = app.server.test_client()
    response = client.get(f"/api/positions/osmand?{urlencode({'id': unit, 'lat': -9.4, 'lon': 124.5})}")
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    monkeypatch.setattr(runtime.store, "latest_positions", down)
    assert client.get("/api/responders", headers=bearer(keys["read"])).status_code == 503


def test_old_positions_are_pruned_by_the_retention_setting(app, runtime, unit) -> None:
    from ntpd_map.ingest.write import Retention

    client = app.server.test_client()
    now = int(time.time())
    days = runtime.settings.int("NTPD_POSITION_RETENTION_DAYS")
    for age in (days * 86_400 + 3600, days * 86_400 - 3600, 10):
        osmand(client, unit, now - age, -9.4)
    retention = Retention(runtime)
    retention.tick(now)
    retention.tick(now + 1)  # at most one prune per PRUNE_EVERY_S: the second tick starts nothing
    deadline = time.time() + 10
    while len(runtime.store.track(unit, 0)) != 2 and time.time() < deadline:
        time.sleep(0.05)
    assert sorted(now - runtime.store.track(unit, 0)["recorded_at"]) == [10, days * 86_400 - 3600]
