"""Boundaries from a center's own files; each test writes its tiny file into tmp_path."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import MultiPolygon, Point, Polygon, box

from ntpd_map.geo.userfile import boundaries_from_user_file

# Two desa of TTU drawn as boxes (lon/lat), with undotted codes as many GIS exports have them.
DESA = gpd.GeoDataFrame(
    {
        "KODE_DESA": ["5303062001", "5303061015"],
        "NAMA": ["Boronubaen", "Boronubaen Timur"],
        "other": [1, 2],
    },
    geometry=[box(124.50, -9.30, 124.52, -9.28), box(124.52, -9.30, 124.54, -9.28)],
    crs="EPSG:4326",
)


def read(path: Path, **kwargs: object) -> gpd.GeoDataFrame:
    args: dict[str, object] = {"level": "desa", "code_column": "KODE_DESA", "name_column": "NAMA"}
    args.update(kwargs)
    return boundaries_from_user_file(path, **args)  # type: ignore[arg-type]


def test_geojson_codes_are_dotted(tmp_path: Path) -> None:
    path = tmp_path / "desa.geojson"
    DESA.to_file(path, driver="GeoJSON", engine="pyogrio")
    out = read(path)
    assert list(out.columns) == ["kode", "nama", "kode_kec", "kode_kab", "kind", "geometry"]
    assert out["kode"].tolist() == ["53.03.06.2001", "53.03.06.1015"]
    assert out["kind"].tolist() == ["desa", "kelurahan"]
    assert out["kode_kec"].tolist() == ["53.03.06", "53.03.06"]
    assert out.crs.to_epsg() == 4326
    assert (out.geom_type == "MultiPolygon").all()


def test_gpkg_in_utm_is_reprojected_to_lon_lat(tmp_path: Path) -> None:
    path = tmp_path / "desa.gpkg"
    DESA.to_crs("EPSG:32751").to_file(path, layer="desa", driver="GPKG", engine="pyogrio")  # UTM 51S (Timor)
    out = read(path)
    assert out.crs.to_epsg() == 4326
    minx, miny, maxx, maxy = out.total_bounds
    assert (minx, miny, maxx, maxy) == pytest.approx((124.50, -9.30, 124.54, -9.28), abs=1e-6)


def test_shapefile_with_integer_codes(tmp_path: Path) -> None:
    frame = DESA.copy()
    frame["KODE_DESA"] = frame["KODE_DESA"].astype("int64")
    path = tmp_path / "desa.shp"
    frame.to_file(path, engine="pyogrio")
    out = read(path)
    assert out["kode"].tolist() == ["53.03.06.2001", "53.03.06.1015"]


def test_missing_columns_name_the_available_ones(tmp_path: Path) -> None:
    path = tmp_path / "desa.geojson"
    DESA.to_file(path, driver="GeoJSON", engine="pyogrio")
    with pytest.raises(ValueError, match=r"no column 'KODE'.*the file has: KODE_DESA, NAMA, other"):
        read(path, code_column="KODE")


def test_several_layers_need_a_choice(tmp_path: Path) -> None:
    path = tmp_path / "two.gpkg"
    DESA.to_file(path, layer="desa", driver="GPKG", engine="pyogrio")
    kec = gpd.GeoDataFrame(
        {"KODE": ["53.03.06"], "NAMA": ["Biboki Utara"]},
        geometry=[box(124.5, -9.3, 124.54, -9.28)],
        crs="EPSG:4326",
    )
    kec.to_file(path, layer="kecamatan", driver="GPKG", engine="pyogrio")
    with pytest.raises(ValueError, match=r"2 layers.*desa, kecamatan.*layer="):
        read(path)
    out = boundaries_from_user_file(
        path, level="kecamatan", code_column="KODE", name_column="NAMA", layer="kecamatan"
    )
    assert out["kode"].tolist() == ["53.03.06"] and list(out.columns) == [
        "kode",
        "nama",
        "kode_kab",
        "geometry",
    ]


def test_invalid_polygons_are_repaired_and_parts_dissolved(tmp_path: Path) -> None:
    bowtie = Polygon([(124.50, -9.30), (124.52, -9.28), (124.52, -9.30), (124.50, -9.28)])
    frame = gpd.GeoDataFrame(
        {"KODE_DESA": ["53.03.06.2001", "53.03.06.2002", "53.03.06.2002"], "NAMA": ["A", "B", "B"]},
        geometry=[bowtie, box(124.6, -9.3, 124.61, -9.29), box(124.62, -9.3, 124.63, -9.29)],
        crs="EPSG:4326",
    )
    path = tmp_path / "desa.gpkg"
    frame.to_file(path, driver="GPKG", engine="pyogrio")
    out = read(path).set_index("kode")
    assert out.geometry.is_valid.all()
    assert isinstance(out.loc["53.03.06.2001", "geometry"], MultiPolygon)
    assert len(out.loc["53.03.06.2002", "geometry"].geoms) == 2  # two features, one desa


def test_bad_rows_are_listed(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"KODE_DESA": ["53.03", "abc", None, "5303062003"], "NAMA": ["kab", "x", "y", "titik"]},
        geometry=[box(0, 0, 1, 1), box(0, 0, 1, 1), box(0, 0, 1, 1), Point(124.5, -9.3)],
        crs="EPSG:4326",
    )
    path = tmp_path / "bad.geojson"
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    with pytest.raises(ValueError) as info:
        read(path)
    msg = str(info.value)
    assert "4 problem(s)" in msg
    assert "feature 1: 53.03 is a kabkota code, but level=desa" in msg
    assert "feature 2: 'abc' is not a Kemendagri code" in msg
    assert "feature 3: KODE_DESA is empty" in msg
    assert "feature 4 (53.03.06.2003): geometry is Point" in msg


def test_projected_file_without_crs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.shp"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        DESA.to_crs("EPSG:32751").set_crs(None, allow_override=True).to_file(path, engine="pyogrio")
    with pytest.raises(ValueError, match=r"no coordinate reference system.*\.prj"):
        read(path)


def test_level_and_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="level 'rt'"):
        read(tmp_path / "x.gpkg", level="rt")
    with pytest.raises(ValueError, match="no such file"):
        read(tmp_path / "x.gpkg")
    junk = tmp_path / "junk.geojson"
    junk.write_text("not geojson")
    with pytest.raises(ValueError, match="not a file GDAL can read"):
        read(junk)
