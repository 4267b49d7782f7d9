"""Layers: every one follows the protocol; incident features carry no personal data (issues 3 and 8)."""

from __future__ import annotations

import json

import pandas as pd

from layers import default_layers
from layers.base import LayerContext
from layers.incidents import features_from_incidents, geobuf_from_batches, geobuf_from_incidents


def incident_frame() -> pd.DataFrame:
    return pd.DataFrame([{
        "id": 7, "received_at": 1_750_000_000, "call_type": "genuine", "category": "other", "category_label": "ular",
        "outcome": "open", "agency": "Damkar TTU", "lat": -9.45, "lon": 124.48, "location_source": "address",
        "kode_desa": "53.03.06.2001", "kode_kec": "53.03.06", "flags": 1, "caller_last3": "987",
        "caller_hash": "f" * 64, "notes": "RAHASIA-PRIBADI korban", "attrs": {"nama_korban": "Budi"},
    }, {
        "id": 8, "received_at": 1_750_000_000, "call_type": "ghost", "category": None, "category_label": None,
        "outcome": "resolved", "agency": None, "lat": None, "lon": None, "location_source": "unknown",
        "kode_desa": None, "kode_kec": None, "flags": 8, "caller_last3": "123", "caller_hash": "e" * 64,
        "notes": None, "attrs": {},
    }])


def test_every_layer_follows_the_protocol(runtime) -> None:
    keys = [layer.key for layer in default_layers()]
    assert keys == ["kabkota", "kecamatan", "desa", "coverage", "towers", "incidents", "responders"]
    ctx = LayerContext(runtime)
    for layer in default_layers():
        assert layer.title("id") and layer.title("en")
        comp = layer.component(ctx)
        # one layer, or a group of layers (some in a pane of their own: the open emergencies)
        ids = [comp.id] if getattr(comp, "id", None) else [
            getattr(c, "id", None) or c.children.id for c in comp.children]
        assert f"layer-{layer.key}" in ids
        if layer.static:
            assert comp.url == f"/layers/{layer.key}.geojson"  # by URL, cached by the browser
            assert not getattr(comp, "data", None)


def test_boundary_layers_serve_every_kecamatan(runtime) -> None:
    from layers.boundaries import KecamatanLayer

    data = KecamatanLayer().data(LayerContext(runtime), None)
    assert len(data["features"]) == 24
    names = {f["properties"]["nama"] for f in data["features"]}
    assert "Kota Kefamenanu" in names


def test_incident_points_carry_only_what_the_map_draws() -> None:
    features = features_from_incidents(incident_frame())
    assert len(features) == 1  # the ghost call has no coordinates
    assert features[0]["properties"] == {"id": 7, "ct": "genuine", "cat": "other", "out": "open"}
    assert features[0]["geometry"]["coordinates"] == [124.48, -9.45]
    text = json.dumps(features)
    for secret in ("987", "f" * 64, "RAHASIA", "Budi", "Damkar"):
        assert secret not in text


def test_vectorised_geobuf_is_byte_identical_to_the_reference_encoder() -> None:
    import base64

    import geobuf
    import numpy as np

    rng = np.random.default_rng(5)
    n = 3000
    frame = pd.DataFrame({
        "id": rng.integers(1, 10**9, n), "lat": rng.uniform(-11, 6, n), "lon": rng.uniform(95, 141, n),
        "call_type": rng.choice(["genuine", "prank", "ghost"], n),
        "outcome": rng.choice(["open", "resolved", "not_followed_up"], n),
        "category": rng.choice(np.array(["fire", "medical", None], dtype=object), n),
    })
    frame.loc[::97, "lat"] = np.nan  # unlocated rows are left out
    for part in (frame, frame.assign(category=None), frame.head(1), frame.head(0)):
        reference = geobuf.encode({"type": "FeatureCollection", "features": features_from_incidents(part)}, 5)
        assert base64.b64decode(geobuf_from_incidents(part)) == reference
    # encoded a batch at a time (the wall's whole redraw): the same bytes, whichever batch has a category
    batches = [frame.iloc[i:i + 700] for i in range(0, n, 700)]
    batches[0] = batches[0].assign(category=None)
    reference = geobuf.encode({"type": "FeatureCollection",
                               "features": features_from_incidents(pd.concat(batches))}, 5)
    assert base64.b64decode(geobuf_from_batches(batches)) == reference
    assert base64.b64decode(geobuf_from_batches([frame.head(0), frame.head(0)])) == geobuf.encode(
        {"type": "FeatureCollection", "features": []}, 5)


def test_geobuf_round_trips_the_points() -> None:
    import base64

    import geobuf

    decoded = geobuf.decode(base64.b64decode(geobuf_from_incidents(incident_frame())))
    assert decoded["features"][0]["properties"] == {"id": 7, "ct": "genuine", "cat": "other", "out": "open"}
    assert decoded["features"][0]["geometry"]["coordinates"] == [124.48, -9.45]


def test_details_panel_in_local_time_without_personal_data() -> None:
    from ntpd_map.views import incident_details

    frame = incident_frame().assign(dispatched_at=pd.array([1_750_000_240, pd.NA], dtype="Int64"),
                                    arrived_at=pd.array([pd.NA, pd.NA], dtype="Int64"))  # as the stores return
    row = next(frame.itertuples(index=False))
    details = dict(incident_details(row, {"53.03.06.2001": "Desa A", "53.03.06": "Kota Kefamenanu"},
                                    "Asia/Makassar", "id"))
    assert details["Waktu"] == "15/06/2025 23:06 WITA"  # 15:06 UTC
    assert details["Waktu dispatch"] == "15/06/2025 23:10 WITA" and details["Tiba di lokasi"] == "-"
    assert details["Kategori"] == "Lainnya (ular)"
    assert details["Sumber lokasi"] == "Alamat disebutkan - perkiraan (pusat desa)"
    assert (details["Desa/Kelurahan"], details["Kecamatan"]) == ("Desa A", "Kota Kefamenanu")
    assert "987" not in repr(details) and "RAHASIA" not in repr(details)
