"""On write, each incident gets its desa, kecamatan and H3 cell, on every backend (issue 2)."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd

from ntpd_map.domain import INCIDENT_COLUMNS, LocationFlag
from ntpd_map.ingest.write import locate_frame, write_incidents
from ntpd_map.store.model import IncidentQuery


def batch(ttu) -> pd.DataFrame:
    inside = ttu.desa[ttu.desa["has_polygon"]].iloc[10]
    p = inside.geometry.representative_point()
    no_polygon = ttu.desa[~ttu.desa["has_polygon"]].iloc[0]  # Boronubaen Timur: named, no polygon upstream
    rows = [
        {"external_id": "in", "lat": p.y, "lon": p.x, "kode_desa": None},
        {"external_id": "named", "lat": no_polygon.geometry.y, "lon": no_polygon.geometry.x,
         "kode_desa": no_polygon["kode"], "flags": LocationFlag.APPROXIMATE},
        {"external_id": "jakarta", "lat": -6.2, "lon": 106.8, "kode_desa": None},
        {"external_id": "none", "lat": None, "lon": None, "kode_desa": None},
    ]
    frame = pd.DataFrame([{c: None for c in INCIDENT_COLUMNS} | {
        "source": "t", "received_at": 1_750_000_000, "call_type": "genuine", "outcome": "open",
        "location_source": "gps", "flags": 0, "simulated": False, "attrs": {}} | r for r in rows])
    return frame, inside


def test_locate_frame_assigns_and_flags(ttu, ttu_locator) -> None:
    frame, inside = batch(ttu)
    out = locate_frame(frame, ttu_locator).set_index("external_id")
    assert out.loc["in", "kode_desa"] == inside["kode"]
    assert out.loc["in", "kode_kec"] == inside["kode_kec"] and out.loc["in", "kode_kab"] == "53.03"
    assert h3.int_to_str(int(out.loc["in", "h3"])) == h3.latlng_to_cell(out.loc["in", "lat"], out.loc["in", "lon"], 9)
    assert out.loc["named", "kode_kec"] == "53.03.06" and out.loc["named", "flags"] == LocationFlag.APPROXIMATE
    assert out.loc["jakarta", "flags"] & LocationFlag.OUT_OF_REGION and pd.isna(out.loc["jakarta", "kode_desa"])
    assert out.loc["jakarta", "lat"] == -6.2  # kept as given, never moved
    assert out.loc["none", "flags"] & LocationFlag.NO_LOCATION and pd.isna(out.loc["none", "h3"])


def test_write_assigns_on_every_backend(store, ttu, ttu_locator) -> None:
    frame, inside = batch(ttu)
    result = write_incidents(store, ttu_locator, frame)
    assert result.inserted == 4
    got = store.incidents(IncidentQuery()).set_index("external_id")
    assert got.loc["in", "kode_desa"] == inside["kode"]
    assert int(got.loc["in", "h3"]) == int(locate_frame(frame, ttu_locator).set_index("external_id").loc["in", "h3"])
    assert store.count_by("kode_kec") == {inside["kode_kec"]: 1, "53.03.06": 1, "": 2}
    assert np.isnan(got.loc["none", "lat"])
