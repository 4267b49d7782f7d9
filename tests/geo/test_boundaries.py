"""Regions from the upstream dumps: a hand-written miniature mirror, downloads, the real mirror's truths."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import Point

from ntpd_map.geo import boundaries, mirror
from ntpd_map.geo.boundaries import Region, build_region, load_region
from ntpd_map.geo.mirror import BOUNDARIES, WILAYAH, DataSource, MirrorNotFound, read_upstream

FIXTURE_MIRROR = Path(__file__).resolve().parent.parent / "fixtures" / "geo" / "mirror"
LAYERS = ("kabkota", "kecamatan", "desa")


def assert_same_region(a: Region, b: Region) -> None:
    for layer in LAYERS:
        assert_geodataframe_equal(getattr(a, layer), getattr(b, layer))
    assert a.summary() == b.summary()
    assert a.parse_errors == b.parse_errors


# ------------------------------------------------------------------------ the miniature mirror (always runs)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Region:
    cache = tmp_path_factory.mktemp("tiny-cache")
    return build_region("53.99", search_dirs=[FIXTURE_MIRROR], cache_dir=cache, allow_download=False)


def test_tiny_summary(tiny: Region) -> None:
    assert tiny.summary() == {
        "code": "53.99",
        "name": "Kabupaten Contoh",
        "level": "kabkota",
        "kecamatan": 3,
        "desa": 8,
        "desa_with_polygon": 6,
        "desa_without_polygon": [
            {"kode": "53.99.02.2003", "nama": "Epsilon"},
            {"kode": "53.99.03.2002", "nama": "O'Eta"},
        ],
        "kecamatan_from_desa": 1,
        "kecamatan_upstream": 2,
        "parse_errors": 2,
    }


def test_tiny_layers_have_the_documented_columns(tiny: Region) -> None:
    assert list(tiny.kabkota.columns) == [
        "kode",
        "nama",
        "kode_prov",
        "population",
        "area_km2",
        "geometry_source",
        "geometry",
    ]
    assert list(tiny.kecamatan.columns) == [
        "kode",
        "nama",
        "kode_kab",
        "desa_count",
        "geometry_source",
        "geometry",
    ]
    assert list(tiny.desa.columns) == [
        "kode",
        "nama",
        "kode_kec",
        "kode_kab",
        "kind",
        "has_polygon",
        "geometry_source",
        "geometry",
    ]
    for layer in LAYERS:
        assert getattr(tiny, layer).crs.to_epsg() == 4326


def test_tiny_desa_sources_and_kinds(tiny: Region) -> None:
    desa = tiny.desa.set_index("kode")
    assert desa["geometry_source"].to_dict() == {
        "53.99.01.1003": "upstream_desa",
        "53.99.01.2001": "upstream_desa",
        "53.99.01.2002": "upstream_desa",
        "53.99.02.2001": "upstream_desa",  # a bow-tie, repaired
        "53.99.02.2002": "upstream_desa",
        "53.99.02.2003": "kecamatan_point",  # no upstream row at all
        "53.99.03.2001": "upstream_desa",  # a multipolygon
        "53.99.03.2002": "upstream_centroid",  # a row whose path is garbage
    }
    assert desa.loc["53.99.01.1003", "kind"] == "kelurahan"
    assert desa.loc["53.99.01.2001", "kind"] == "desa"
    assert desa.loc["53.99.02.2001", "geometry"].is_valid
    assert len(desa.loc["53.99.03.2001", "geometry"].geoms) == 2
    assert desa.loc["53.99.03.2002", "geometry"].equals(Point(124.33, -9.15))
    kec_dua = tiny.kecamatan.set_index("kode").loc["53.99.02", "geometry"]
    assert kec_dua.contains(desa.loc["53.99.02.2003", "geometry"])


def test_tiny_kecamatan_dissolve_fills_gaps_but_keeps_enclaves(tiny: Region) -> None:
    kec = tiny.kecamatan.set_index("kode")
    assert kec["geometry_source"].to_dict() == {
        "53.99.01": "desa_dissolved",
        "53.99.02": "upstream_kecamatan",  # Epsilon has no polygon
        "53.99.03": "upstream_kecamatan",  # O'Eta has no polygon
    }
    satu = kec.loc["53.99.01", "geometry"]
    assert satu.contains(Point(124.045, -9.055))  # the gap inside Alpha belongs to no desa: filled
    assert not satu.contains(Point(124.15, -9.05))  # Enklave belongs to kecamatan Dua: still a hole
    assert satu.area == pytest.approx(0.2 * 0.2 - 0.02 * 0.02)
    assert kec["desa_count"].to_dict() == {"53.99.01": 3, "53.99.02": 3, "53.99.03": 2}


def test_tiny_kabkota_population_area_and_source(tiny: Region) -> None:
    row = tiny.kabkota.iloc[0]
    assert (row["kode"], row["population"], row["area_km2"]) == ("53.99", 2100, 123.4)
    assert row["geometry_source"] == "upstream_kabkota"  # two kecamatan are not dissolved from desa


def test_tiny_parse_errors_name_file_line_and_code(tiny: Region) -> None:
    text = [str(e) for e in tiny.parse_errors]
    kel = "wilayah_boundaries/db/kel/53/wilayah_boundaries_kel_53.99.sql"
    assert any(t.startswith(f"{kel} line 9:") and "4 values" in t for t in text), text
    assert any(t.startswith(f"{kel} line 11:") and "53.99.03.2002" in t and "JSON" in t for t in text), text


def test_tiny_cache_round_trip_and_reuse(
    tiny: Region, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = build_region("53.99", search_dirs=[FIXTURE_MIRROR], cache_dir=tmp_path, allow_download=False)
    assert (tmp_path / "region_53.99.gpkg").is_file() and (tmp_path / "region_53.99.json").is_file()

    def no_build(*args: object, **kwargs: object) -> Region:
        raise AssertionError("load_region rebuilt a region whose cache is fresh")

    monkeypatch.setattr(boundaries, "build_region", no_build)
    loaded = load_region("53.99", search_dirs=[FIXTURE_MIRROR], cache_dir=tmp_path, allow_download=False)
    assert_same_region(built, loaded)
    assert_same_region(tiny, loaded)
    assert loaded.source["upstream"]["wilayah_boundaries"]["commit"] == BOUNDARIES.commit
    # names resolve to the same cache
    by_name = load_region(
        "Kabupaten Contoh", search_dirs=[FIXTURE_MIRROR], cache_dir=tmp_path, allow_download=False
    )
    assert by_name.code == "53.99"


def test_changed_source_is_rebuilt(tmp_path: Path) -> None:
    mirror_copy = tmp_path / "mirror"
    shutil.copytree(FIXTURE_MIRROR, mirror_copy)
    cache = tmp_path / "cache"
    first = build_region("53.99", search_dirs=[mirror_copy], cache_dir=cache, allow_download=False)
    kel = mirror_copy / "wilayah_boundaries/db/kel/53/wilayah_boundaries_kel_53.99.sql"
    fixed = kel.read_text(encoding="utf-8").replace("\t('53.99.03.2009','Rusak',-9.1,124.3),\n", "")
    kel.write_text(fixed, encoding="utf-8")
    again = load_region("53.99", search_dirs=[mirror_copy], cache_dir=cache, allow_download=False)
    assert first.summary()["parse_errors"] == 2
    assert again.summary()["parse_errors"] == 1  # rebuilt from the changed dump


def test_provinsi_without_a_kel_file_reports_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(MirrorNotFound) as info:
        build_region("53.98", search_dirs=[FIXTURE_MIRROR], cache_dir=tmp_path, allow_download=False)
    msg = str(info.value)
    assert "wilayah_boundaries/db/kel/53/wilayah_boundaries_kel_53.98.sql" in msg
    assert str(FIXTURE_MIRROR) in msg
    assert "downloads are switched off" in msg
    assert "NTPD_MIRROR_DIR" in msg and BOUNDARIES.commit in msg and "git clone" in msg


# ------------------------------------------------------------------------------------ mirror and downloads


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstream_server(tmp_path: Path) -> Iterator[str]:
    """The miniature mirror served in raw.githubusercontent.com's layout (<repo>/<commit>/<path>)."""
    www = tmp_path / "www"
    for up in (BOUNDARIES, WILAYAH):
        shutil.copytree(FIXTURE_MIRROR / up.folder, www / up.repo / up.commit)
    handler = functools.partial(_QuietHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_search_dirs_are_tried_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, text in ((first, "first"), (second, "second")):
        (folder / "wilayah/db").mkdir(parents=True)
        (folder / "wilayah/db/wilayah.sql").write_text(text)
    assert read_upstream("wilayah/db/wilayah.sql", [tmp_path / "none", first, second], False) == "first"
    assert read_upstream("wilayah/db/wilayah.sql", [second, first], False) == "second"


def test_download_is_cached_and_reused_offline(tmp_path: Path, upstream_server: str) -> None:
    cache = tmp_path / "cache"
    text = read_upstream(
        "wilayah/db/wilayah.sql", [tmp_path / "empty"], cache_dir=cache, base_url=upstream_server
    )
    assert "Kabupaten Contoh" in text
    source = DataSource([], cache, allow_download=False)
    cached = source.cached_path("wilayah/db/wilayah.sql")
    assert cached is not None and cached.is_file() and WILAYAH.commit in str(cached)
    # no server, no download allowed: the cache answers
    assert read_upstream("wilayah/db/wilayah.sql", [], False, cache_dir=cache) == text


def test_missing_upstream_file_lists_every_place(tmp_path: Path, upstream_server: str) -> None:
    relpath = "wilayah_boundaries/db/kec/wilayah_boundaries_kec_99.sql"
    with pytest.raises(MirrorNotFound) as info:
        read_upstream(
            relpath, [tmp_path / "one", tmp_path / "two"], cache_dir=tmp_path / "c", base_url=upstream_server
        )
    msg = str(info.value)
    assert str(tmp_path / "one" / relpath) in msg and str(tmp_path / "two" / relpath) in msg
    assert (
        f"{upstream_server}/{BOUNDARIES.repo}/{BOUNDARIES.commit}/db/kec/wilayah_boundaries_kec_99.sql" in msg
    )
    assert "HTTP 404" in msg and "NTPD_MIRROR_DIR" in msg


def test_unreachable_server_is_reported(tmp_path: Path) -> None:
    with pytest.raises(MirrorNotFound, match="download failed"):
        read_upstream(
            "wilayah/db/wilayah.sql", [], cache_dir=tmp_path, base_url="http://127.0.0.1:9", timeout=2
        )
    with pytest.raises(ValueError, match="not an upstream path"):
        read_upstream("../etc/passwd", [])


def test_region_built_entirely_from_downloads(
    tmp_path: Path, upstream_server: str, monkeypatch: pytest.MonkeyPatch, tiny: Region
) -> None:
    monkeypatch.setattr(mirror, "RAW_BASE_URL", upstream_server)
    region = build_region("53.99", search_dirs=[tmp_path / "no-mirror"], cache_dir=tmp_path / "cache")
    assert region.summary() == tiny.summary()
    assert (tmp_path / "cache" / "downloads" / f"wilayah_boundaries@{BOUNDARIES.commit}").is_dir()


# --------------------------------------------------------------------------------- the real upstream mirror

REAL = {
    # code: (kecamatan, desa, desa_with_polygon, desa without polygon)
    "53.03": (24, 193, 192, [{"kode": "53.03.06.1015", "nama": "Boronubaen Timur"}]),
    "74.71": (11, 65, 64, [{"kode": "74.71.04.1021", "nama": "Wundumbatu"}]),
    "35.29": (27, 334, 334, []),
    "35.79": (3, 24, 24, []),
}


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real-cache")


@pytest.fixture(scope="module")
def real(mirror_dirs: list[Path], real_cache: Path) -> dict[str, Region]:
    """Each region of the source documents, built once for the module (no downloads)."""
    return {
        code: build_region(code, search_dirs=mirror_dirs, cache_dir=real_cache, allow_download=False)
        for code in REAL
    }


@pytest.mark.parametrize("code", list(REAL))
def test_real_counts(real: dict[str, Region], code: str) -> None:
    kec, desa, with_polygon, without = REAL[code]
    s = real[code].summary()
    assert (s["kecamatan"], s["desa"], s["desa_with_polygon"]) == (kec, desa, with_polygon)
    assert s["desa_without_polygon"] == without
    assert s["kecamatan_from_desa"] + s["kecamatan_upstream"] == kec
    assert s["parse_errors"] == 0


@pytest.mark.parametrize("code", list(REAL))
def test_real_geometries(real: dict[str, Region], code: str) -> None:
    region = real[code]
    for layer in LAYERS:
        frame = getattr(region, layer)
        assert frame.geometry.notna().all() and not frame.geometry.is_empty.any(), layer
        assert frame.geometry.is_valid.all(), layer
    assert region.desa["kode"].str.startswith(code + ".").all()
    assert region.kecamatan["kode"].str.startswith(code + ".").all()
    assert (region.desa["has_polygon"] == region.desa.geom_type.isin(["Polygon", "MultiPolygon"])).all()


@pytest.mark.parametrize("code", list(REAL))
def test_real_dissolved_kecamatan_cover_their_desa(real: dict[str, Region], code: str) -> None:
    region = real[code]
    kec = region.kecamatan.set_index("kode")
    dissolved = set(kec.index[kec["geometry_source"] == "desa_dissolved"])
    assert dissolved
    desa = region.desa[region.desa["kode_kec"].isin(dissolved)]
    their_kec = kec.loc[desa["kode_kec"], "geometry"].to_numpy()
    outside = shapely.area(shapely.difference(desa.geometry.to_numpy(), their_kec))
    assert (outside < 1e-12).all(), desa.loc[outside >= 1e-12, "kode"].tolist()  # 1e-12 deg2 ~ 0.01 m2


def test_real_ttu(real: dict[str, Region]) -> None:
    ttu = real["53.03"]
    assert ttu.name == "Kabupaten Timor Tengah Utara"
    assert ttu.kabkota["population"].iloc[0] > 0
    assert ttu.kabkota["area_km2"].iloc[0] > 0
    lon, lat = (
        ttu.desa.geometry.representative_point().x.mean(),
        ttu.desa.geometry.representative_point().y.mean(),
    )
    assert lon == pytest.approx(124.5, abs=0.4) and lat == pytest.approx(
        -9.4, abs=0.4
    )  # lon/lat, not lat/lon
    assert ttu.timezone == "Asia/Makassar"
    boronubaen = ttu.desa.set_index("kode").loc["53.03.06.1015"]
    assert boronubaen["geometry_source"] == "kecamatan_point" and not boronubaen["has_polygon"]
    kec = ttu.kecamatan.set_index("kode")
    assert kec.loc["53.03.06", "geometry_source"] == "upstream_kecamatan"
    assert kec.loc["53.03.06", "geometry"].contains(boronubaen["geometry"])


@pytest.mark.parametrize("code", list(REAL))
def test_real_cache_round_trip(
    real: dict[str, Region], real_cache: Path, mirror_dirs: list[Path], code: str
) -> None:
    loaded = load_region(code, search_dirs=mirror_dirs, cache_dir=real_cache, allow_download=False)
    assert loaded.source["built_at"] == real[code].source["built_at"]  # from the cache, not rebuilt
    assert_same_region(real[code], loaded)


def test_real_provinsi_without_desa_polygons(mirror_dirs: list[Path], tmp_path: Path) -> None:
    aceh = build_region("11", search_dirs=mirror_dirs, cache_dir=None, allow_download=False)
    s = aceh.summary()
    assert (
        s["level"] == "provinsi" and s["desa_with_polygon"] == 0 and s["kecamatan_upstream"] == s["kecamatan"]
    )
    assert (aceh.desa.geom_type == "Point").all()
    assert (aceh.desa["geometry_source"] == "kecamatan_point").all()
    assert len(aceh.kabkota) == 23 and (aceh.kabkota["population"] > 0).all()


@pytest.mark.slow
def test_real_provinsi_jawa_timur(mirror_dirs: list[Path], tmp_path: Path) -> None:
    jatim = build_region("35", search_dirs=mirror_dirs, cache_dir=tmp_path, allow_download=False)
    s = jatim.summary()
    assert (s["kecamatan"], s["desa"], s["desa_with_polygon"], s["kecamatan_from_desa"]) == (
        666,
        8494,
        8494,
        666,
    )
    assert len(jatim.kabkota) == 38 and (jatim.kabkota["population"] > 0).all()
    assert jatim.kecamatan.geometry.is_valid.all() and jatim.kabkota.geometry.is_valid.all()
    assert set(jatim.kabkota["geometry_source"]) == {"kecamatan_dissolved"}


def test_real_enclave_kota_stays_out_of_its_kabupaten(mirror_dirs: list[Path]) -> None:
    # Kota Malang lies inside Kabupaten Malang: dissolving the kabupaten must leave it as a hole.
    kab = build_region("35.07", search_dirs=mirror_dirs, cache_dir=None, allow_download=False)
    kota = build_region("35.73", search_dirs=mirror_dirs, cache_dir=None, allow_download=False)
    kab_geom, kota_geom = kab.kabkota.geometry.iloc[0], kota.kabkota.geometry.iloc[0]
    assert kab.kabkota["geometry_source"].iloc[0] == "kecamatan_dissolved"
    assert kab_geom.intersection(kota_geom).area < 0.01 * kota_geom.area
    assert kab_geom.convex_hull.contains(kota_geom.representative_point())
