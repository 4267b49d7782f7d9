"""The locator against a brute-force reference (shapely point-in-polygon), on TTU's real desa (issue 2)."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely
from shapely.geometry import box

from ntpd_map.domain import LocationFlag
from ntpd_map.geo.locate import H3_RES, Locator, cells_from_latlon, parent_cells


def reference(desa: gpd.GeoDataFrame, lat: np.ndarray, lon: np.ndarray) -> list[set[str]]:
    """For each point, every desa whose polygon covers it (a point on a shared border has two)."""
    polys = desa[desa.geometry.geom_type != "Point"].reset_index(drop=True)
    tree = shapely.STRtree(polys.geometry.values)
    p_idx, d_idx = tree.query(shapely.points(lon, lat), predicate="intersects")
    out: list[set[str]] = [set() for _ in lat]
    for p, d in zip(p_idx, d_idx, strict=True):
        out[p].add(polys["kode"].iloc[d])
    return out


def border_points(desa: gpd.GeoDataFrame, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points exactly on desa boundaries and a few metres either side of them."""
    coords = shapely.get_coordinates(desa[desa.geometry.geom_type != "Point"].geometry.boundary.values)
    pick = coords[rng.integers(0, len(coords), n)]
    jitter = rng.normal(0, 3e-5, (n, 2)) * (rng.random((n, 1)) < 0.7)  # 30% exactly on a vertex
    pts = pick + jitter
    return pts[:, 1], pts[:, 0]


def test_matches_brute_force_inside_near_and_on_borders(ttu, ttu_locator) -> None:
    rng = np.random.default_rng(42)
    minx, miny, maxx, maxy = ttu.kabkota.total_bounds
    lat_u = rng.uniform(miny, maxy, 20_000)
    lon_u = rng.uniform(minx, maxx, 20_000)
    lat_b, lon_b = border_points(ttu.desa, 5_000, rng)
    lat = np.concatenate([lat_u, lat_b])
    lon = np.concatenate([lon_u, lon_b])

    located = ttu_locator.locate(lat, lon)
    desa_codes, kec_codes, _ = ttu_locator.codes_for(located)
    expected = reference(ttu.desa, lat, lon)
    inside = np.array([bool(e) for e in expected])
    assert inside.sum() > 10_000 and (~inside).sum() > 1_000  # the sample exercises both cases

    wrong = [i for i in np.flatnonzero(inside) if desa_codes[i] not in expected[i]]
    assert wrong == [], f"{len(wrong)} points assigned to a desa that does not contain them"
    assert all(k == d[:8] for k, d in zip(kec_codes[inside], desa_codes[inside], strict=True))
    # outside every polygon: either snapped to the nearest desa (flagged) or out of region (flagged)
    out_flags = located.flags[~inside]
    snapped = (out_flags & LocationFlag.OFFSHORE_SNAPPED) > 0
    oor = (out_flags & LocationFlag.OUT_OF_REGION) > 0
    assert np.all(snapped ^ oor)
    assert np.all((located.desa[~inside] >= 0) == snapped)
    assert not np.any(located.flags[inside] & (LocationFlag.OFFSHORE_SNAPPED | LocationFlag.OUT_OF_REGION))


def test_h3_cell_is_the_res9_cell_of_the_point(ttu_locator) -> None:
    lat = np.array([-9.45, -9.3, -9.6, 1.0])
    lon = np.array([124.48, 124.6, 124.3, 100.0])
    located = ttu_locator.locate(lat, lon)
    for la, lo, cell in zip(lat, lon, located.h3, strict=True):
        assert h3.int_to_str(int(cell)) == h3.latlng_to_cell(la, lo, H3_RES)


def test_missing_coordinates_and_far_points_are_flagged_never_moved(ttu_locator) -> None:
    located = ttu_locator.locate(np.array([np.nan, -6.2]), np.array([124.5, 106.8]))  # second: Jakarta
    assert located.flags[0] & LocationFlag.NO_LOCATION and located.h3[0] == 0
    assert located.flags[1] & LocationFlag.OUT_OF_REGION and located.desa[1] == -1
    assert located.h3[1] != 0


def test_offshore_point_within_tolerance_snaps_to_nearest_desa() -> None:
    desa = gpd.GeoDataFrame({"kode": ["53.99.01.2001", "53.99.01.2002"], "kode_kec": ["53.99.01"] * 2,
                             "kode_kab": ["53.99"] * 2},
                            geometry=[box(124.0, -9.1, 124.1, -9.0), box(124.1, -9.1, 124.2, -9.0)], crs=4326)
    locator = Locator.from_desa(desa, tolerance_m=2000)
    # 1.1 km south of the first desa; 5.5 km south of the second; inside the first
    located = locator.locate(np.array([-9.11, -9.15, -9.05]), np.array([124.05, 124.15, 124.05]))
    codes, _, _ = locator.codes_for(located)
    assert list(codes) == ["53.99.01.2001", None, "53.99.01.2001"]
    assert located.flags[0] == LocationFlag.OFFSHORE_SNAPPED
    assert located.flags[1] == LocationFlag.OUT_OF_REGION
    assert located.flags[2] == 0


def test_parent_cells_match_h3() -> None:
    rng = np.random.default_rng(3)
    fine = cells_from_latlon(rng.uniform(-11, 6, 500), rng.uniform(95, 141, 500), 11)
    for res in (7, 8, 9, 10):
        got = parent_cells(fine, res)
        want = [h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), res)) for c in fine]
        assert got.tolist() == want


def test_index_cache_is_reused_and_invalidated(tmp_path) -> None:
    desa = gpd.GeoDataFrame({"kode": ["a"], "kode_kec": ["k"], "kode_kab": ["x"]},
                            geometry=[box(124.0, -9.1, 124.05, -9.05)], crs=4326)
    path = tmp_path / "idx.npz"
    first = Locator.from_desa(desa, cache_path=path)
    assert path.exists()
    again = Locator.from_desa(desa, cache_path=path)
    assert again.interior_cell_count == first.interior_cell_count
    moved = desa.copy()
    moved["geometry"] = [box(124.0, -9.1, 124.02, -9.05)]
    smaller = Locator.from_desa(moved, cache_path=path)
    assert smaller.interior_cell_count < first.interior_cell_count
    codes, _, _ = smaller.codes_for(smaller.locate(np.array([-9.07]), np.array([124.04])))
    assert codes[0] is None or smaller.locate(np.array([-9.07]), np.array([124.04])).flags[0]


@pytest.mark.parametrize("n", [0, 1])
def test_empty_and_single_inputs(ttu_locator, n: int) -> None:
    located = ttu_locator.locate(np.full(n, -9.45), np.full(n, 124.48))
    assert len(located.desa) == n


def test_region_without_desa_polygons_locates_by_kecamatan(mirror_dirs, data_dir) -> None:
    from ntpd_map.geo.boundaries import load_region

    aceh_selatan = load_region("11.01", search_dirs=mirror_dirs, cache_dir=data_dir / "boundaries")
    assert not aceh_selatan.desa["has_polygon"].any()  # upstream has no desa dump outside 35, 53, 74
    locator = Locator.from_region(aceh_selatan)
    kec = aceh_selatan.kecamatan.iloc[0]
    point = kec.geometry.representative_point()
    located = locator.locate(np.array([point.y]), np.array([point.x]))
    desa, kecamatan, kab = locator.codes_for(located)
    assert (desa[0], kecamatan[0], kab[0]) == (None, kec["kode"], "11.01")
    assert located.flags[0] == 0
