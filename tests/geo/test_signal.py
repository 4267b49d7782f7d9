"""Coverage gaps (issue 7), the pure parts: permissions, signal words, survey classes, a desa's status from
its marks, mark targets, and the area no tower reaches against a case computed by hand."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from ntpd_map.access.roles import can_edit_coverage
from ntpd_map.domain import SignalStatus
from ntpd_map.geo.coverage import MAX_RANGE_M, uncovered_area
from ntpd_map.geo.signal import (
    desa_signal,
    mark_from_fields,
    mark_target,
    sample_class,
    status_from_text,
    survey_summary,
)


def test_only_planners_and_admins_may_edit_coverage() -> None:
    assert can_edit_coverage("planner") and can_edit_coverage("admin")
    for role in ("wall", "operator", "read", "ingest", "", None, "Planner", "admin "):
        assert not can_edit_coverage(role), role


@pytest.mark.parametrize(("word", "status"), [
    ("Tidak ada sinyal", SignalStatus.NONE), ("blank-spot", SignalStatus.NONE), ("none", SignalStatus.NONE),
    ("LEMAH", SignalStatus.WEAK), ("2G saja", SignalStatus.ONLY_2G), ("2g_only", SignalStatus.ONLY_2G),
    ("baik", SignalStatus.GOOD), ("Good", SignalStatus.GOOD), ("sinyal  lemah", SignalStatus.WEAK),
])
def test_status_words(word: str, status: SignalStatus) -> None:
    assert status_from_text(word) is status


def test_unknown_status_word() -> None:
    assert status_from_text("sedang") is None and status_from_text("") is None


@pytest.mark.parametrize(("dbm", "bars", "expected"), [
    (-110.0, None, "none"), (-109.9, None, "weak"), (-100.0, None, "weak"), (-99.9, None, "ok"),
    (None, 0, "none"), (None, 1, "weak"), (None, 2, "ok"), (-80.0, 0, "none"), (-112.0, 4, "none"),
    (float("nan"), 3, "ok"), (pd.NA, pd.NA, "ok"),
])
def test_sample_class_thresholds(dbm, bars, expected: str) -> None:
    assert sample_class(dbm, bars) == expected


def test_survey_summary_per_desa() -> None:
    samples = pd.DataFrame({
        "kode_desa": ["53.03.06.2001"] * 4 + ["53.03.01.2005", None],
        "dbm": [-115.0, -105.0, -90.0, np.nan, -70.0, -120.0],
        "bars": pd.array([None, None, None, 0, None, None], dtype="Int64"),
        "operator": ["Telkomsel", "XL", "Telkomsel", "", "Indosat", "XL"],
        "recorded_at": [10, 20, 30, 40, 50, 60],
    })
    out = survey_summary(samples)
    a = out.loc["53.03.06.2001"]
    assert (a["sampel"], a["sampel_tanpa_sinyal"], a["sampel_sangat_lemah"]) == (4, 2, 1)
    assert a["median_dbm"] == -105.0 and a["operator_survei"] == "Telkomsel, XL" and a["survei_terakhir"] == 40
    assert list(out.index) == ["53.03.01.2005", "53.03.06.2001"]  # the point in no desa is left out
    assert survey_summary(samples.iloc[0:0]).empty


def marks(rows: list[tuple[int, str, str | None, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "kode_desa", "h3", "status"]).assign(author="a")


def test_desa_signal_prefers_the_desa_wide_mark_then_the_most_severe_cell() -> None:
    got = desa_signal(marks([
        (1, "53.03.06.2001", None, "good"), (2, "53.03.06.2001", "88a", "none"),  # desa-wide wins
        (3, "53.03.06.2002", "88b", "weak"), (4, "53.03.06.2002", "88c", "none"), (5, "53.03.06.2002", "88d",
                                                                                     "2g_only"),
        (6, "53.03.06.2003", "88e", "weak"), (7, "53.03.06.2003", "88f", "weak"),  # a tie: the newest
    ])).set_index("kode_desa")
    assert got.loc["53.03.06.2001", ["status", "dasar", "sel_ditandai"]].tolist() == ["good", "desa", 1]
    assert got.loc["53.03.06.2002", ["status", "dasar", "sel_ditandai", "id"]].tolist() == ["none", "h3", 3, 4]
    assert got.loc["53.03.06.2003", "id"] == 7
    assert list(got["id"]) == sorted(got["id"])
    assert desa_signal(None).empty and "status" in desa_signal(None).columns


def test_mark_targets_in_the_region(ttu) -> None:
    import h3

    desa = ttu.desa[ttu.desa["has_polygon"]].iloc[10]
    point = desa.geometry.representative_point()
    inner = h3.latlng_to_cell(point.y, point.x, 9)
    assert mark_target(ttu, desa["kode"]) == (desa["kode"], None)
    assert mark_target(ttu, desa["kode"].replace(".", "")) == (desa["kode"], None)
    assert mark_target(ttu, None, inner) == (desa["kode"], inner)
    assert mark_target(ttu, desa["kode"], inner.upper()) == (desa["kode"], inner)
    far = ttu.desa[ttu.desa["kode_kec"] != desa["kode_kec"]].iloc[0]
    with pytest.raises(ValueError, match="does not overlap desa"):
        mark_target(ttu, far["kode"], inner)
    with pytest.raises(ValueError, match="not a desa of"):
        mark_target(ttu, "53.03.99.2001")
    with pytest.raises(ValueError, match="not a Kemendagri desa code"):
        mark_target(ttu, "Oelolok")
    with pytest.raises(ValueError, match="resolution 5"):
        mark_target(ttu, None, h3.cell_to_parent(inner, 5))
    with pytest.raises(ValueError, match="outside"):
        mark_target(ttu, None, h3.latlng_to_cell(-6.2, 106.8, 8))  # Jakarta
    with pytest.raises(ValueError, match="not an H3 cell"):
        mark_target(ttu, None, "8f")
    with pytest.raises(ValueError, match="give kode_desa"):
        mark_target(ttu)


def test_mark_from_fields_checks_every_field(ttu) -> None:
    code = ttu.desa["kode"].iloc[5]
    mark = mark_from_fields(ttu, {"kode_desa": code, "status": "Tidak ada sinyal", "operators": ["Telkomsel", "XL"],
                                  "surveyed_on": "2025-06-01", "evidence": " 0 bar di dusun 3 "}, "ani")
    assert (mark.kode_desa, mark.status, mark.operators, mark.evidence, mark.author) == (
        code, SignalStatus.NONE, "Telkomsel, XL", "0 bar di dusun 3", "ani")
    for fields, message in (({"kode_desa": code}, "status is missing"),
                            ({"kode_desa": code, "status": "sedang"}, "is not one of"),
                            ({"kode_desa": code, "status": "lemah", "surveyed_on": "kemarin"}, "not a date"),
                            ({"kode_desa": code, "status": "lemah", "evidence": "x" * 2001}, "longer than"),
                            ({"kode_desa": 5303, "status": "lemah"}, "kode_desa must be text"),
                            ({"kode_desa": code, "status": "lemah", "operators": 3}, "operators must be text")):
        with pytest.raises(ValueError, match=message):
            mark_from_fields(ttu, fields, "ani")


# ------------------------------------------------------------------------------------------- uncovered area

UTM51S = "EPSG:32751"  # TTU's zone
X0, Y0 = 600_000.0, 8_950_000.0


def squares(*specs: tuple[str, float, float, float]) -> gpd.GeoDataFrame:
    """Square polygons given (kode, x, y, side in m) in UTM 51S, returned in EPSG:4326 as the region is."""
    geoms = [shapely.box(X0 + x, Y0 + y, X0 + x + side, Y0 + y + side) for _, x, y, side in specs]
    frame = gpd.GeoDataFrame({"kode": [s[0] for s in specs], "nama": [s[0] for s in specs]}, geometry=geoms,
                             crs=UTM51S)
    # densify so the square's edges stay straight lines in UTM after the round trip through lat/lon
    frame["geometry"] = frame.geometry.segmentize(100.0)
    return frame.to_crs("EPSG:4326")


def towers_at(*specs: tuple[float, float, float | None]) -> pd.DataFrame:
    pts = gpd.GeoSeries(gpd.points_from_xy([X0 + x for x, _, _ in specs], [Y0 + y for _, y, _ in specs]),
                        crs=UTM51S).to_crs("EPSG:4326")
    return pd.DataFrame({"lat": pts.y, "lon": pts.x, "range_m": [r for _, _, r in specs]})


def test_uncovered_area_against_a_case_computed_by_hand() -> None:
    # two 10 km x 10 km kecamatan side by side: A at x 0..10 km, B at x 10..20 km
    areas = squares(("A", 0, 0, 10_000), ("B", 10_000, 0, 10_000))
    # a 2 km tower in the middle of A; a tower without range (default 1 km) on the A|B border, half in each;
    # a 3 km tower at B's far corner: a quarter of its disc lies in B
    towers = towers_at((5_000, 5_000, 2_000.0), (10_000, 5_000, None), (20_000, 10_000, 3_000.0))
    got = uncovered_area(areas, towers, default_range_m=1_000.0, crs=UTM51S).set_index("kode")
    disc = math.pi  # km2 of a 1 km disc
    expected_a = 100 - 4 * disc - disc / 2
    expected_b = 100 - disc / 2 - 9 * disc / 4
    assert got.loc["A", "luas_km2"] == pytest.approx(100, rel=1e-6)
    assert got.loc["A", "tak_terjangkau_km2"] == pytest.approx(expected_a, rel=5e-4)
    assert got.loc["B", "tak_terjangkau_km2"] == pytest.approx(expected_b, rel=5e-4)
    assert got.loc["A", "porsi_tak_terjangkau"] == pytest.approx(expected_a / 100, rel=5e-4)
    assert got.loc["B", "terjangkau_km2"] == pytest.approx(disc / 2 + 9 * disc / 4, rel=5e-4)
    assert got["menara_rentang_bawaan"].tolist() == [1, 1]
    # the default CRS is the polygons' UTM zone: the same answer
    again = uncovered_area(areas, towers, default_range_m=1_000.0).set_index("kode")
    np.testing.assert_allclose(again["tak_terjangkau_km2"], got["tak_terjangkau_km2"], rtol=1e-6)


def test_overlapping_discs_count_once_and_ranges_are_capped() -> None:
    areas = squares(("A", 0, 0, 10_000))
    twice = towers_at((5_000, 5_000, 2_000.0), (5_000, 5_000, 2_000.0))
    got = uncovered_area(areas, twice, default_range_m=1_000.0, crs=UTM51S)
    assert got["tak_terjangkau_km2"].iloc[0] == pytest.approx(100 - 4 * math.pi, rel=5e-4)
    huge = towers_at((5_000, 5_000, 10 * MAX_RANGE_M))
    assert uncovered_area(areas, huge, 1_000.0, crs=UTM51S)["tak_terjangkau_km2"].iloc[0] == pytest.approx(0,
                                                                                                           abs=1e-9)
    none = uncovered_area(areas, None, 1_000.0, crs=UTM51S)
    assert none["porsi_tak_terjangkau"].iloc[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positive"):
        uncovered_area(areas, twice, default_range_m=0, crs=UTM51S)


def test_uncovered_area_of_the_real_region_adds_up(ttu) -> None:
    towers = pd.DataFrame({"lat": [-9.45], "lon": [124.48], "range_m": [5_000.0]})
    got = uncovered_area(ttu.kecamatan, towers, 3_000.0)
    assert len(got) == len(ttu.kecamatan)
    assert got["terjangkau_km2"].sum() <= math.pi * 25 * (1 + 1e-3)
    assert got["terjangkau_km2"].sum() > 0 and (got["porsi_tak_terjangkau"].between(0, 1)).all()
    kab_km2 = float(ttu.kabkota["area_km2"].iloc[0]) if "area_km2" in ttu.kabkota else None
    if kab_km2:
        assert got["luas_km2"].sum() == pytest.approx(kab_km2, rel=0.1)
