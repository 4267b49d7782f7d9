"""The coverage layers (issue 7): desa shaded by status with a colour-blind-safe palette, towers with their range,
the calls a weak signal shows in, and the page's pure helpers (summary, kecamatan table, audit trail)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from layers.base import LayerContext, View
from layers.coverage import (
    STATUS_COLORS,
    UNMARKED_COLOR,
    CoverageLayer,
    TowersLayer,
    WeakCallsLayer,
    coverage_geojson,
    coverage_hideout,
    coverage_legend,
    status_counts,
    tower_features,
    weak_call_features,
)
from ntpd_map.domain import CoverageMark, LocationFlag, SignalStatus, Tower

# Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB: how a colour looks to someone without L, M
# or S cones.
CVD = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
    "normal": np.eye(3).tolist(),
}


def _linear(hex_color: str) -> np.ndarray:
    c = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(linear_rgb: np.ndarray) -> np.ndarray:
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ np.clip(linear_rgb, 0, 1) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_status_colours_stay_apart_for_colour_blind_readers() -> None:
    palette = [*STATUS_COLORS.values(), UNMARKED_COLOR]
    assert len(set(palette)) == 5
    for vision, matrix in CVD.items():
        labs = [_lab(np.array(matrix) @ _linear(c)) for c in palette]
        closest = min(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(labs, 2))
        assert closest >= 20, f"two status colours look alike with {vision} (CIELAB distance {closest:.1f})"
    # worse signal is darker (the order reads in greyscale print too); "good" is a different hue, not a shade
    lightness = [_lab(_linear(STATUS_COLORS[str(s)]))[0] for s in
                 (SignalStatus.NONE, SignalStatus.WEAK, SignalStatus.ONLY_2G)]
    assert lightness == sorted(lightness)


def signal_frame() -> pd.DataFrame:
    """What coverage.desa_signal returns, with an author and evidence that must never reach the map."""
    return pd.DataFrame({
        "id": [3, 5, 9], "kode_desa": ["53.03.01.2001", "53.03.01.2002", "53.03.02.2003"],
        "h3": [None, "88a1c2d3e5fffff", None], "status": ["none", "weak", "good"],
        "surveyed_on": [None, None, "2025-06-01"], "operators": [None, None, "Telkomsel"],
        "evidence": ["RAHASIA kata kepala desa", None, None], "author": ["Siti Planner", "ani", "budi"],
        "simulated": [False, False, False], "created_at": [1, 2, 3], "dasar": ["desa", "h3", "desa"],
        "sel_ditandai": [0, 2, 0],
    })


def test_hideout_carries_each_marked_desa_status_and_nothing_personal() -> None:
    hideout = coverage_hideout(signal_frame(), "id")
    assert hideout["status"] == {"53.03.01.2001": "none", "53.03.01.2002": "weak", "53.03.02.2003": "good"}
    assert hideout["cells"] == {"53.03.01.2002": 2}  # its status comes from two cell marks
    assert hideout["colors"] == STATUS_COLORS and hideout["unmarked"] == UNMARKED_COLOR
    assert hideout["labels"]["none"] == "Tidak ada sinyal" and hideout["labels"]["unmarked"] == "Belum ditandai"
    assert hideout["loaded"] and not hideout["wall"]
    text = json.dumps(hideout)
    for private in ("Siti", "ani", "budi", "RAHASIA", "Telkomsel", "2025-06-01"):
        assert private not in text
    english = coverage_hideout(signal_frame(), "en", wall=True)
    assert english["labels"]["2g_only"] == "2G only" and english["wall"]
    empty = coverage_hideout(None)
    assert empty["status"] == {} and not empty["loaded"]


def test_status_counts_count_the_unmarked_desa_too() -> None:
    counts = status_counts({"a": "none", "b": "none", "c": "good", "d": "bogus"}, 10)
    assert counts == {"none": 2, "weak": 0, "2g_only": 0, "good": 1, "unmarked": 7}


def test_legend_lists_every_status_worst_first_then_unmarked() -> None:
    rows = coverage_legend("id")
    assert [label for _c, label in rows] == ["Tidak ada sinyal", "Lemah", "2G saja", "Baik", "Belum ditandai"]
    assert [c for c, _l in rows] == [*STATUS_COLORS.values(), UNMARKED_COLOR]
    assert coverage_legend("en")[0][1] == "No signal"


def test_desa_geometry_is_served_by_url_with_its_name_and_kecamatan(runtime) -> None:
    layer = CoverageLayer()
    ctx = LayerContext(runtime)
    comp = layer.component(ctx)
    assert layer.static and comp.url == "/layers/coverage.geojson" and not getattr(comp, "data", None)
    data = layer.data(ctx)
    desa = runtime.region.desa
    assert len(data["features"]) == int((desa.geometry.geom_type != "Point").sum()) > 150
    props = data["features"][0]["properties"]
    assert set(props) == {"kode", "nama", "kecamatan"}
    assert props["kecamatan"] == runtime.names[props["kode"][:8]]
    assert data == coverage_geojson(desa, runtime.names)
    # on a wall it is neither interactive nor explained by tooltips
    wall = layer.component(LayerContext(runtime, wall=True))
    assert wall.interactive is False and wall.onEachFeature is None and wall.hideout["wall"]


def test_towers_get_their_range_or_the_default_and_their_operator() -> None:
    towers = pd.DataFrame({
        "lat": [-9.45, -9.5, -9.6, -9.7], "lon": [124.4, 124.5, 124.6, 124.7],
        "range_m": [4000.0, np.nan, 0.0, 90_000.0], "radio": ["LTE", "GSM", None, "LTE"],
        "mcc": [510, 510, None, 510], "net": [10, 11, None, 99], "source": ["opencellid", "opencellid", "survey", "x"],
    })
    features = tower_features(towers, 3000.0)
    props = [f["properties"] for f in features]
    assert [p["range_m"] for p in props] == [4000, 3000, 3000, 35000]  # default for unknown, capped at 35 km
    assert [p["default"] for p in props] == [False, True, True, False]
    assert [p["op"] for p in props] == ["Telkomsel", "XL", None, "MNC 510-99"]
    assert features[0]["geometry"]["coordinates"] == [124.4, -9.45]
    assert set(props[0]) == {"range_m", "default", "radio", "op", "source"}
    assert tower_features(towers.iloc[0:0], 3000.0) == []
    layer = TowersLayer()
    assert not layer.static and not layer.default_visible  # a toggle, off on the operations map


def weak_frame() -> pd.DataFrame:
    rows = [
        # lat, lon, call type, location source, flags
        (-9.45, 124.48, "dropped", "gps", 0),
        (-9.45, 124.48, "dropped", "gps", 0),
        (-9.45, 124.48, "ghost", "cell", 0),          # silent at the same spot: the same mark, counted 3
        (None, None, "dropped", "unknown", LocationFlag.NO_LOCATION),  # nowhere to draw
        (-9.50, 124.50, "genuine", "address", LocationFlag.APPROXIMATE),  # at a desa centre
        (-9.50, 124.50, "prank", "gps", LocationFlag.APPROXIMATE),
        (-9.55, 124.52, "genuine", "cell", 0),        # placed by a cell tower: not measured
        (-9.60, 124.60, "genuine", "gps", 0),         # a measured position: not shown
        (None, None, "info", "unknown", LocationFlag.NO_LOCATION),
    ]
    return pd.DataFrame(rows, columns=["lat", "lon", "call_type", "location_source", "flags"])


def test_weak_signal_calls_are_grouped_per_spot_with_their_counts() -> None:
    features, counts = weak_call_features(weak_frame())
    drawn = sorted((f["properties"]["kind"], f["properties"]["n"], tuple(f["geometry"]["coordinates"]))
                   for f in features)
    assert drawn == [("approx", 1, (124.52, -9.55)), ("approx", 2, (124.5, -9.5)), ("putus", 3, (124.48, -9.45))]
    assert counts == {"putus": 3, "approx": 3, "unplaced": 2}
    assert all(set(f["properties"]) == {"kind", "n"} for f in features)  # no id, time or caller
    assert weak_call_features(weak_frame().iloc[0:0]) == ([], {"putus": 0, "approx": 0, "unplaced": 0})


def test_weak_calls_layer_reads_the_period_from_the_store(rt) -> None:
    from ntpd_map.ingest.write import locate_frame
    from ntpd_map.store.model import IncidentQuery
    from tests.analytics.test_analytics import T0, incidents

    frame = incidents(np.array([-9.45, -9.45, -9.46]), np.array([124.48, 124.48, 124.47]),
                      ["dropped", "genuine", "ghost"], t=T0)
    rt.store.write_incidents(locate_frame(frame, rt.locator))
    layer = WeakCallsLayer()
    data = layer.data(LayerContext(rt), View(IncidentQuery(start=T0 - 10, end=T0 + 10), T0))
    assert data["counts"] == {"putus": 2, "approx": 0, "unplaced": 0}
    assert sum(f["properties"]["n"] for f in data["features"]) == 2
    later = layer.data(LayerContext(rt), View(IncidentQuery(start=T0 + 100, end=T0 + 200), T0))
    assert later["features"] == [] and later["counts"]["putus"] == 0


@pytest.fixture
def rt(runtime, tmp_path: Path):
    """A runtime on its own empty SQLite store, sharing the session's TTU boundaries and locator."""
    from ntpd_map.config import Settings
    from ntpd_map.runtime import Runtime

    fresh = Runtime(Settings.from_env(NTPD_DATA_DIR=str(tmp_path), NTPD_REGION="53.03", NTPD_SIMULATE="off",
                                      NTPD_DATABASE_URL=f"sqlite:///{tmp_path / 'c.sqlite'}", NTPD_TILE_URL=""))
    fresh.__dict__["region"] = runtime.region
    fresh.__dict__["locator"] = runtime.locator
    return fresh


def test_coverage_view_follows_marks_and_towers(rt) -> None:
    from ntpd_map.pages.coverage.callbacks import coverage_view

    first = coverage_view(rt, "id", wall=False)
    assert first["hideout"]["status"] == {} and first["towers"]["features"] == []
    n_desa = len(rt.region.desa)
    assert first["summary"].startswith("0 desa tanpa sinyal") and f"{n_desa} belum ditandai" in first["summary"]
    kode = str(rt.region.desa["kode"].iloc[0])
    rt.store.mark_coverage(CoverageMark(kode, SignalStatus.NONE, author="ani", evidence="RAHASIA"))
    rt.store.add_towers([Tower(-9.45, 124.48, "survey")])
    second = coverage_view(rt, "id", wall=True)
    assert second["hideout"]["status"] == {kode: "none"} and second["hideout"]["wall"]
    assert len(second["towers"]["features"]) == 1 and second["sig"] != first["sig"]
    assert second["summary"].startswith("1 desa tanpa sinyal") and "1 menara diketahui" in second["summary"]
    assert "RAHASIA" not in json.dumps(second["hideout"]) and "ani" not in json.dumps(second["hideout"])
    assert coverage_view(rt, "id", wall=True)["sig"] == second["sig"]  # nothing changed: the same digest


def test_kecamatan_rows_add_up_to_the_region(rt) -> None:
    from ntpd_map.geo.signal import desa_signal
    from ntpd_map.pages.coverage.callbacks import kecamatan_rows

    kode = str(rt.region.desa["kode"].iloc[0])
    rt.store.mark_coverage(CoverageMark(kode, SignalStatus.WEAK, author="ani"))
    rt.store.add_towers([Tower(-9.45, 124.48, "survey", range_m=5000.0)])
    rows = kecamatan_rows(rt, desa_signal(rt.store.coverage_marks()))
    assert len(rows) == len(rt.region.kecamatan)
    assert sum(r["desa"] for r in rows) == len(rt.region.desa)
    assert sum(r["desa_weak"] for r in rows) == 1
    assert next(r for r in rows if r["kode"] == kode[:8])["desa_weak"] == 1
    shares = [r["porsi_tak_terjangkau"] for r in rows]
    assert shares == sorted(shares, reverse=True)  # the least covered first
    covered = sum(r["terjangkau_km2"] for r in rows)
    assert 0 < covered <= np.pi * 5.0 ** 2 + 0.5  # one 5 km disc, at most all of it inside the region
    for r in rows:
        assert r["luas_km2"] == pytest.approx(r["terjangkau_km2"] + r["tak_terjangkau_km2"], abs=0.11)


def test_audit_trail_rows_say_who_when_and_old_to_new_in_local_time(rt) -> None:
    from ntpd_map.pages.coverage.callbacks import trail_rows

    kode = str(rt.region.desa["kode"].iloc[0])
    first = rt.store.mark_coverage(CoverageMark(kode, SignalStatus.WEAK, author="ani", evidence="laporan kades"))
    second = rt.store.mark_coverage(CoverageMark(kode, SignalStatus.NONE, author="budi"))
    undo = rt.store.undo_coverage_change(second, "ani")
    rows = trail_rows(rt.store.coverage_history(kode), "Asia/Makassar", "id")
    assert [r["id"] for r in rows] == [str(undo), str(second), str(first)]
    assert [r["who"] for r in rows] == ["ani", "budi", "ani"]
    assert [r["change"] for r in rows] == ["Tidak ada sinyal → Lemah", "Lemah → Tidak ada sinyal",
                                           "Belum ditandai → Lemah"]
    assert rows[0]["action"] == f"#{undo} batal #{second}" and rows[2]["evidence"] == "laporan kades"
    created = int(rt.store.coverage_history(kode)["created_at"].iloc[-1])
    local = pd.Timestamp(created, unit="s", tz="UTC").tz_convert("Asia/Makassar").strftime("%d/%m/%Y %H:%M")
    assert rows[2]["when"] == local
    assert trail_rows(rt.store.coverage_history(kode), "Asia/Makassar", "en")[2]["change"] == "Not marked yet → Weak"
