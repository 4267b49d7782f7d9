"""Responders on the map (issue 6): the layer's data and signature, the track and nearest lines, the unit panel
and the nearest-units block, without a browser. Tiny literal frames; the browser tests drive the real app."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

from layers.base import LayerContext, View
from layers.responders import (
    LABEL_ZOOM,
    OPS_PROPERTIES,
    WALL_PROPERTIES,
    RespondersLayer,
    drawn_signature,
    lines_to_units,
    track_from_positions,
)
from ntpd_map.config import Settings
from ntpd_map.domain import UnitStatus
from ntpd_map.store.model import IncidentQuery, StoreUnavailable

NOW = 1_750_000_000  # 2025-06-15 15:06:40 UTC, 23:06:40 WITA


def positions(*rows: dict[str, Any]) -> pd.DataFrame:
    base = {"source": "osmand", "speed_kmh": None, "bearing": None, "accuracy_m": None, "battery": None,
            "simulated": False}
    return pd.DataFrame([{**base, **r} for r in rows])


def units(*rows: dict[str, Any]) -> pd.DataFrame:
    base = {"agency": "RSUD Kefamenanu", "kind": "medical", "status": "available", "simulated": False,
            "updated_at": NOW}
    return pd.DataFrame([{**base, **r} for r in rows])


class FakeStore:
    def __init__(self, latest: pd.DataFrame, unit_frame: pd.DataFrame) -> None:
        self.latest, self.unit_frame = latest, unit_frame

    def latest_positions(self) -> pd.DataFrame:
        return self.latest

    def units(self) -> pd.DataFrame:
        return self.unit_frame


@dataclass
class FakeRuntime:
    store: Any
    settings: Settings


FLEET = units(
    {"device_id": "phone-live", "name": "Ambulans 1"},
    {"device_id": "phone-stale", "name": "Ambulans 2", "status": "dispatched"},
    {"device_id": "tracker", "name": "Damkar 1", "kind": "fire", "agency": "Damkar TTU"},
    {"device_id": "silent", "name": "Patroli 1", "kind": "police", "agency": "Polres TTU"},
    {"device_id": "resting", "name": "Patroli 2", "kind": "police", "agency": "Polres TTU", "status": "off_duty"},
)
LATEST = positions(
    {"device_id": "phone-live", "recorded_at": NOW - 100, "lat": -9.45, "lon": 124.48, "speed_kmh": 36.0,
     "bearing": 90.0, "battery": 80.0, "accuracy_m": 5.0},
    {"device_id": "phone-stale", "recorded_at": NOW - 130, "lat": -9.50, "lon": 124.50},
    {"device_id": "tracker", "recorded_at": NOW - 500, "lat": -9.40, "lon": 124.60, "source": "traccar"},
    {"device_id": "silent", "recorded_at": NOW - 1801, "lat": -9.30, "lon": 124.40},
    {"device_id": "unregistered", "recorded_at": NOW, "lat": -9.2, "lon": 124.3},
    {"device_id": "resting", "recorded_at": NOW - 60, "lat": -9.35, "lon": 124.45},
)


def layer_data(wall: bool = False, **settings: str) -> dict[str, Any]:
    runtime = FakeRuntime(FakeStore(LATEST, FLEET), Settings.from_env({}, **settings))
    return RespondersLayer().data(LayerContext(runtime, wall=wall), View(IncidentQuery(), NOW))  # type: ignore[arg-type]


def by_device(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["properties"]["device"]: f["properties"] for f in data["features"]}


def test_layer_freshness_follows_the_settings_per_source() -> None:
    props = by_device(layer_data())  # defaults: phone 120 s, Traccar 600 s, offline after 1800 s
    # unregistered devices are not drawn
    assert set(props) == {"phone-live", "phone-stale", "tracker", "silent", "resting"}
    assert {d: p["state"] for d, p in props.items()} == {
        "phone-live": "live", "phone-stale": "stale", "tracker": "live", "silent": "offline", "resting": "live"}
    assert props["silent"]["stale"] and props["silent"]["offline"] and not props["phone-stale"]["offline"]
    live = props["phone-live"]
    assert (live["unit"], live["agency"], live["kind"], live["status"], live["age_s"]) == (
        "Ambulans 1", "RSUD Kefamenanu", "medical", "available", 100)
    assert (live["bearing"], live["speed_kmh"]) == (90, 36)

    props = by_device(layer_data(NTPD_STALE_PHONE_S="90", NTPD_STALE_TRACCAR_S="400", NTPD_OFFLINE_AFTER_S="3600"))
    assert {d: p["state"] for d, p in props.items()} == {
        "phone-live": "stale", "phone-stale": "stale", "tracker": "stale", "silent": "stale", "resting": "live"}


def test_wall_features_carry_no_device_id_battery_or_report_time() -> None:
    data = layer_data(wall=True)
    # every unit on duty (an off-duty one is left to the ops map: no pale mark to tell from a stale one at 5 m)
    assert sorted(f["properties"]["unit"] for f in data["features"]) == [
        "Ambulans 1", "Ambulans 2", "Damkar 1", "Patroli 1"]
    for feature in data["features"]:
        assert set(feature["properties"]) == set(WALL_PROPERTIES)
    text = json.dumps(data)
    for secret in ("phone-live", "tracker", "osmand", str(NOW - 100)):
        assert secret not in text
    # the ops map also picks units by device; battery, source and report time stay in the unit panel
    ops = layer_data()["features"]
    assert all(set(f["properties"]) == set(OPS_PROPERTIES) for f in ops) and "device" in OPS_PROPERTIES
    assert not {"battery", "source", "recorded_at"} & set(OPS_PROPERTIES)


def test_signature_follows_what_is_drawn_not_the_ticking_age() -> None:
    data = layer_data()
    sig = drawn_signature(data)

    def changed(device: str, **props: Any) -> str:
        copy = json.loads(json.dumps(data))
        for f in copy["features"]:
            if f["properties"]["device"] == device:
                f["properties"].update(props)
        return drawn_signature(copy)

    assert changed("phone-live", age_s=110) == sig  # a live unit's age is not drawn
    assert changed("phone-stale", age_s=170) == sig  # same minute on the stale badge
    assert changed("phone-stale", age_s=180) != sig  # 2 -> 3 min
    assert changed("phone-live", status="on_scene") != sig
    assert changed("phone-live", state="stale", stale=True) != sig
    assert changed("phone-live", bearing=180) != sig  # the heading arrow turns
    assert changed("phone-live", unit="Ambulans 1 (baru)") != sig
    moved = json.loads(json.dumps(data))
    moved["features"][0]["geometry"]["coordinates"] = [124.49, -9.45]
    assert drawn_signature(moved) != sig
    # a parked unit's bearing wanders and is not drawn
    assert changed("phone-live", speed_kmh=0) == changed("phone-live", speed_kmh=0, bearing=200)


def test_hideout_has_the_strings_and_the_label_zoom() -> None:
    layer = RespondersLayer()
    ops, wall, en = layer.hideout("id", wall=False), layer.hideout("id", wall=True), layer.hideout("en", wall=False)
    assert ops["labelZoom"] == LABEL_ZOOM and ops["namedStatuses"] == []
    assert wall["namedStatuses"] == ["dispatched", "on_scene", "returning"]  # the wall names the units at work
    assert ops["strings"]["offline"] == "luring" and en["strings"]["offline"] == "offline"
    assert ops["strings"]["min"] == "mnt" and en["strings"]["min"] == "min"
    assert ops["labels"]["unit"]["dispatched"] == "Dikirim" and en["labels"]["unit"]["dispatched"] == "Dispatched"
    assert ops["glyphs"]["medical"] == "A"
    # no colour travels: a unit's look is its status class (assets/ntpd.css), never a hue of its own
    assert not {"colors", "statusColors", "staleColor", "offlineColor"} & set(ops)


def test_legend_explains_kinds_statuses_and_staleness_with_the_maps_marks() -> None:
    layer = RespondersLayer()
    assert layer.legend("id") == []  # no swatch colours: the rows are marks
    marks = layer.legend_marks("id")
    assert ("unit-st-available", "A", "Medis/ambulans") in marks and ("unit-st-available", "P", "Kepolisian") in marks
    # every status once, by the class the map's marker carries, in the order a dispatcher reads them
    statuses = [(classes, label) for classes, glyph, label in marks if not glyph and " " not in classes]
    assert statuses == [(f"unit-st-{s}", UnitStatus(s).label("id")) for s in
                        ("available", "dispatched", "on_scene", "returning", "off_duty")]
    assert any("ntpd-unit-stale" in c and "posisi lama" in label for c, _, label in marks)
    assert any("ntpd-unit-offline" in c and "luring" in label for c, _, label in marks)
    english = [label for _, _, label in layer.legend_marks("en")]
    assert "Dispatched" in english and any("stale" in label for label in english)


def test_track_is_one_line_oldest_first() -> None:
    frame = pd.DataFrame({"recorded_at": [NOW - 600, NOW - 300, NOW], "lat": [-9.40, -9.41, -9.42],
                          "lon": [124.40, 124.41, 124.43], "speed_kmh": [30.0, 30.0, 30.0],
                          "bearing": [0.0, 0.0, 0.0], "source": ["osmand"] * 3})
    track = track_from_positions(frame, "phone-live")
    (line,) = track["features"]
    assert line["geometry"] == {"type": "LineString",
                                "coordinates": [[124.40, -9.40], [124.41, -9.41], [124.43, -9.42]]}
    assert line["properties"] == {"device": "phone-live", "fixes": 3, "from": NOW - 600, "to": NOW}
    assert track_from_positions(frame.head(1), "phone-live")["features"] == []
    assert track_from_positions(frame.head(0), "phone-live")["features"] == []


def test_lines_go_from_the_incident_to_each_nearest_unit() -> None:
    from ntpd_map.geo.responders import nearest_available

    features = layer_data()["features"]
    nearest = nearest_available(features, -9.46, 124.47)
    # available and not offline: the dispatched one and the silent one are left out
    assert [n["device"] for n in nearest] == ["phone-live", "tracker"]
    lines = lines_to_units(-9.46, 124.47, nearest, features)["features"]
    assert [line["geometry"]["coordinates"] for line in lines] == [
        [[124.47, -9.46], [124.48, -9.45]], [[124.47, -9.46], [124.6, -9.4]]]
    assert [line["properties"]["rank"] for line in lines] == [1, 2]


def panel_props() -> dict[str, dict[str, Any]]:
    """Every property of each unit's feature, as the unit panel computes them (the map's copy is trimmed)."""
    from ntpd_map.geo.responders import Staleness, responder_features

    return by_device({"features": responder_features(LATEST, FLEET, NOW, Staleness())})


def test_unit_panel_in_local_time_with_the_age() -> None:
    from ntpd_map.views import unit_details

    props = panel_props()["phone-live"]
    unit = FLEET.iloc[0].to_dict()
    rows = dict(unit_details(unit, props, 7, "Asia/Makassar", "id"))
    assert rows == {
        "Instansi": "RSUD Kefamenanu", "Jenis": "Medis/ambulans", "Status unit": "Siaga",
        "Sumber posisi": "Telepon (Traccar Client)",
        "Laporan terakhir": "15/06 23:05:00 WITA (1 mnt lalu)",
        "Kecepatan": "36 km/jam", "Baterai": "80%", "Jejak 30 menit": "7 titik (garis ungu)",
    }
    stale = dict(unit_details(FLEET.iloc[1].to_dict(), panel_props()["phone-stale"], 0,
                              "Asia/Makassar", "en"))
    assert stale["Last report"] == "15/06 23:04:30 WITA (2 min ago, stale position)"
    assert (stale["Speed"], stale["Battery"], stale["Track, last 30 min"]) == ("-", "-", "no reports")
    offline = dict(unit_details(FLEET.iloc[3].to_dict(), panel_props()["silent"], 0, "Asia/Makassar", "id"))
    assert offline["Laporan terakhir"].endswith("(30 mnt lalu, luring)")
    fresh = dict(unit_details(unit, {**props, "age_s": 12}, 1, "Asia/Makassar", "id"))
    assert fresh["Laporan terakhir"].endswith("(baru saja)")
    nothing = dict(unit_details(unit, None, 0, "Asia/Makassar", "id"))
    assert nothing["Laporan terakhir"] == "belum ada posisi"


def test_nearest_rows_use_the_decimal_comma_in_indonesian() -> None:
    from ntpd_map.views import nearest_rows

    nearest = [{"device": "a", "unit": "Ambulans 1", "agency": "RSUD", "kind": "medical", "stale": False,
                "age_s": 30, "distance_km": 3.25, "eta_min": 8},
               {"device": "b", "unit": "Damkar 1", "agency": "Damkar", "kind": "fire", "stale": True,
                "age_s": 400, "distance_km": 12.0, "eta_min": 27}]
    rows = nearest_rows(nearest, "id")
    assert [(r["unit"], r["distance"], r["eta"], r["stale"]) for r in rows] == [
        ("Ambulans 1", "3,2 km", "± 8 mnt", ""), ("Damkar 1", "12,0 km", "± 27 mnt", "posisi lama 6 mnt")]
    rows = nearest_rows(nearest, "en")
    assert [(r["distance"], r["eta"]) for r in rows] == [("3.2 km", "~8 min"), ("12.0 km", "~27 min")]


def text_of(component: Any) -> str:
    """Every text in a Dash component tree, space separated."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(t for t in (text_of(c) for c in component) if t)
    return text_of(getattr(component, "children", None))


def test_nearest_block_says_how_rough_the_eta_is() -> None:
    from ntpd_map.geo.responders import nearest_available
    from ntpd_map.pages.ops.callbacks import nearest_section

    nearest = nearest_available(layer_data()["features"], -9.46, 124.47)
    assert text_of(nearest_section(nearest, "id")) == (
        "Unit terdekat yang siaga Ambulans 1 Medis/ambulans 1,6 km ± 4 mnt Damkar 1 Pemadam kebakaran 15,7 km "
        "± 36 mnt Jarak garis lurus; perkiraan waktu tiba = jarak x 1,5 pada 40 km/jam.")
    # for a fire: the fire service first, and the list says so
    fire = nearest_available(layer_data()["features"], -9.46, 124.47, kinds=("fire",))
    assert text_of(nearest_section(fire, "id", needs=("fire",))).startswith(
        "Unit terdekat yang siaga Lebih dulu yang dibutuhkan: Pemadam kebakaran Damkar 1 Pemadam kebakaran 15,7 km")
    assert text_of(nearest_section(nearest, "en")).endswith("rough ETA = distance x 1.5 at 40 km/h.")
    assert text_of(nearest_section([], "id")) == "Unit terdekat yang siaga Tidak ada unit siaga yang sedang melapor."
    no_place = nearest_section(None, "en", "The incident has no location: nearest units cannot be found.")
    assert text_of(no_place) == ("Nearest available units The incident has no location: nearest units cannot "
                                 "be found.")


def test_unit_panel_for_a_device_no_longer_registered() -> None:
    from ntpd_map.geo.responders import Staleness
    from ntpd_map.pages.ops.callbacks import status_buttons, unit_panel

    empty_track = pd.DataFrame(columns=["recorded_at", "lat", "lon", "speed_kmh", "bearing", "source"])
    info, status, track = unit_panel("gone", FLEET, LATEST, empty_track, NOW, Staleness(), "Asia/Makassar", "id")
    assert status is None and track["features"] == []
    assert text_of(info) == "Perangkat gone tidak lagi terdaftar pada unit mana pun."
    info, status, _ = unit_panel("phone-stale", FLEET, LATEST, empty_track, NOW, Staleness(), "Asia/Makassar", "id")
    assert status == "dispatched" and text_of(info).startswith("Ambulans 2 Instansi RSUD Kefamenanu")
    assert status_buttons("dispatched") == ["unit-status", "unit-status current", "unit-status", "unit-status",
                                            "unit-status"]


def test_layer_data_raises_store_unavailable_for_the_callbacks_to_handle() -> None:
    class DownStore(FakeStore):
        def latest_positions(self) -> pd.DataFrame:
            raise StoreUnavailable("down")

    runtime = FakeRuntime(DownStore(LATEST, FLEET), Settings.from_env({}))
    with pytest.raises(StoreUnavailable):
        RespondersLayer().data(LayerContext(runtime), View(IncidentQuery(), NOW))  # type: ignore[arg-type]
