"""H3 hexagons clipped to kecamatan, and the priority indices (issue 5), checked against brute force."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from ntpd_map.analytics.counts import kabkota_table, kecamatan_table
from ntpd_map.domain import INCIDENT_COLUMNS, CoverageMark, PopulationFigure, SignalStatus, Tower
from ntpd_map.geo.hexes import build_pieces, load_pieces
from ntpd_map.ingest.write import locate_frame

T0 = 1_750_000_000
DAY = 86400


@pytest.fixture
def rt(runtime, tmp_path: Path):
    """A runtime on its own empty SQLite store, sharing the session's TTU boundaries and locator."""
    from ntpd_map.config import Settings
    from ntpd_map.runtime import Runtime

    fresh = Runtime(Settings.from_env(NTPD_DATA_DIR=str(tmp_path), NTPD_REGION="53.03", NTPD_SIMULATE="off",
                                      NTPD_DATABASE_URL=f"sqlite:///{tmp_path / 'a.sqlite'}"))
    fresh.__dict__["region"] = runtime.region
    fresh.__dict__["locator"] = runtime.locator
    return fresh


def incidents(lat: np.ndarray, lon: np.ndarray, call_types: list[str] | np.ndarray, *, t: int = T0,
              prefix: str = "A", **columns: object) -> pd.DataFrame:
    n = len(lat)
    frame = pd.DataFrame({c: None for c in INCIDENT_COLUMNS}, index=range(n))
    frame["source"] = "test"
    frame["external_id"] = [f"{prefix}{i}" for i in range(n)]
    frame["received_at"] = t + np.arange(n) % 1000
    frame["call_type"] = list(call_types)
    frame["outcome"] = "resolved"
    frame["lat"], frame["lon"] = lat, lon
    frame["location_source"] = "gps"
    frame["flags"] = 0
    frame["simulated"] = False
    for key, value in columns.items():
        frame[key] = value
    return frame


def border_and_random_points(region, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random points over the region's bounding box (many outside it), points exactly on kecamatan
    borders (vertices and edge midpoints) and points a hair (1e-7 deg, ~1 cm) to either side of them."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = region.kecamatan.total_bounds
    lon = rng.uniform(minx, maxx, n)
    lat = rng.uniform(miny, maxy, n)
    rings = shapely.get_coordinates(region.kecamatan.boundary.to_numpy())
    pick = rng.choice(len(rings) - 1, n // 4, replace=False)
    vx, vy = rings[pick, 0], rings[pick, 1]
    mx, my = (rings[pick, 0] + rings[pick + 1, 0]) / 2, (rings[pick, 1] + rings[pick + 1, 1]) / 2
    jitter = rng.choice([-1e-7, 1e-7], (2, n // 4))
    lon = np.concatenate([lon, vx, mx, mx + jitter[0]])
    lat = np.concatenate([lat, vy, my, my + jitter[1]])
    return lat, lon


@pytest.mark.parametrize("res", [7, 8, 9])
def test_pieces_tile_each_kecamatan_exactly(ttu, res: int) -> None:
    pieces = build_pieces(ttu, res)
    kec = ttu.kecamatan.geometry.to_numpy()
    # every piece lies in its kecamatan, and one (cell, kecamatan) pair is one piece
    outside = shapely.area(shapely.difference(pieces.geometry, kec[pieces.kec]))
    assert outside.max() < 1e-12
    assert len(set(zip(pieces.cell.tolist(), pieces.kec.tolist(), strict=True))) == len(pieces)
    # the pieces of a kecamatan cover it: their areas add up to its area
    by_kec = np.bincount(pieces.kec, weights=shapely.area(pieces.geometry), minlength=len(kec))
    np.testing.assert_allclose(by_kec, shapely.area(kec), rtol=1e-9)
    # a cell split by a border is one piece per kecamatan it crosses, and those pieces make up the cell
    cells, n = np.unique(pieces.cell, return_counts=True)
    assert (n > 1).sum() > 10
    split = cells[n > 1][0]
    whole = shapely.area(shapely.from_wkt(shapely.Polygon([(b, a) for a, b in h3.cell_to_boundary(
        h3.int_to_str(int(split)))]).wkt))
    assert shapely.area(pieces.geometry[pieces.cell == split]).sum() <= whole * (1 + 1e-9)
    # anchors: every kecamatan has one, in itself
    assert (pieces.kec_anchor >= 0).all() and (pieces.kec[pieces.kec_anchor] == np.arange(len(kec))).all()


def test_pieces_are_cached_on_disk_and_rebuilt_when_stale(ttu, tmp_path: Path) -> None:
    first = load_pieces(ttu, 7, tmp_path)
    path = tmp_path / "hexes_53.03_r7.parquet"
    assert path.exists()
    again = load_pieces(ttu, 7, tmp_path)
    assert np.array_equal(first.cell, again.cell) and np.array_equal(first.desa_anchor, again.desa_anchor)
    assert all(a.equals(b) for a, b in zip(first.geometry, again.geometry, strict=True))
    path.write_bytes(b"not parquet")  # a damaged cache is rebuilt, never trusted
    assert np.array_equal(load_pieces(ttu, 7, tmp_path).cell, first.cell)


@pytest.mark.parametrize("res", [7, 8, 9])
def test_counts_match_brute_force_h3_and_point_in_polygon(rt, res: int) -> None:
    region = rt.region
    lat, lon = border_and_random_points(region, 4000, seed=res)
    types = np.random.default_rng(res).choice(["genuine", "prank", "ghost", "dropped"], len(lat))
    frame = locate_frame(incidents(lat, lon, types), rt.locator)
    rt.store.write_incidents(frame)
    counts = rt.analytics.counts(T0, T0 + DAY, res)
    pieces = rt.analytics.pieces(res)

    # the reference: h3 per point in a Python loop, kecamatan by a geopandas spatial join
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    joined = gpd.sjoin(points, region.kecamatan[["kode", "geometry"]], predicate="intersects", how="left")
    candidates = joined.groupby(level=0)["kode"].agg(lambda s: set(s.dropna()))
    # upstream desa polygons overlap a neighbouring kecamatan (or stick out of an upstream kecamatan polygon)
    # in places; a point there is rightly in either
    desa = region.desa[region.desa["has_polygon"]]
    in_desa = gpd.sjoin(points, desa[["kode_kec", "geometry"]], predicate="intersects", how="inner")
    for i, kode in zip(in_desa.index, in_desa["kode_kec"], strict=True):
        candidates.iloc[i].add(kode)
    snapped = frame["flags"].to_numpy() & 2 != 0
    piece_keys = set(zip(pieces.cell.tolist(), pieces.kode_kec[pieces.kec].tolist(), strict=True))
    elsewhere = 0
    expected: Counter[tuple[str, str, str]] = Counter()
    for i, (y, x) in enumerate(zip(lat, lon, strict=True)):
        ours = frame.at[i, "kode_kec"]
        ref = candidates.iloc[i]
        if not ref or snapped[i]:
            continue  # in no desa polygon: snapped to the nearest one (flagged) or out of the region; see below
        assert ours in ref, f"point {i} ({y}, {x}) put in {ours}, reference {ref}"
        cell = h3.latlng_to_cell(y, x, res)
        if (h3.str_to_int(cell), ours) in piece_keys:
            expected[(cell, ours, types[i])] += 1
        else:  # a desa overlapping the next kecamatan: the cell does not touch its own kecamatan's polygon
            elsewhere += 1

    got: Counter[tuple[str, str, str]] = Counter()
    for p in np.flatnonzero(counts.piece_type.sum(axis=1)):
        for j, name in enumerate(("genuine", "prank", "ghost", "dropped")):
            if counts.piece_type[p, j]:
                key = (h3.int_to_str(int(pieces.cell[p])), str(pieces.kode_kec[pieces.kec[p]]), name)
                got[key] = int(counts.piece_type[p, j])
    assert len(expected) > 500
    # every point the reference can place is in the same piece; the others (snapped, or in a desa polygon that
    # overlaps the next kecamatan) count in their kecamatan's piece nearest to them
    assert not expected - got
    assert sum(got.values()) == sum(expected.values()) + snapped.sum() + elsewhere
    assert elsewhere < 0.01 * len(lat)
    # sums per kecamatan equal the incident counts, and every kecamatan has a row (zeros included)
    table = kecamatan_table(counts, region).set_index("kode")
    assert len(table) == len(region.kecamatan)
    stored = rt.store.count_by("kode_kec")
    for kode, row in table.iterrows():
        assert row["total"] == stored.get(kode, 0)
    assert (counts.piece_type.sum(axis=0) == counts.kec_type.sum(axis=0)).all()
    assert counts.unplaced_type.sum() == stored.get("", 0)
    assert kabkota_table(counts, region)["total"].sum() == table["total"].sum()


def test_incident_known_only_by_desa_counts_in_its_kecamatan(rt) -> None:
    desa = rt.region.desa[rt.region.desa["has_polygon"]].iloc[[3, 40]]
    frame = incidents(np.array([np.nan, np.nan]), np.array([np.nan, np.nan]), ["genuine", "prank"],
                      kode_desa=desa["kode"].to_list(), location_source="address")
    rt.store.write_incidents(locate_frame(frame, rt.locator))
    counts = rt.analytics.counts(T0, T0 + DAY)
    pieces = rt.analytics.pieces()
    hit = np.flatnonzero(counts.piece_type.sum(axis=1))
    assert sorted(str(pieces.kode_kec[pieces.kec[p]]) for p in hit) == sorted(desa["kode_kec"])
    # in the piece at the desa's own representative point
    for p, (_, row) in zip(sorted(hit, key=lambda p: str(pieces.kode_kec[pieces.kec[p]])),
                           desa.sort_values("kode_kec").iterrows(), strict=True):
        assert pieces.geometry[p].intersects(row.geometry)
    assert counts.kec_imprecise.sum() == 2


def test_snapshot_follows_inserts_and_updates(rt) -> None:
    d = rt.region.desa[rt.region.desa["has_polygon"]].geometry.representative_point()
    lat, lon = d.y.to_numpy()[:50], d.x.to_numpy()[:50]
    rt.store.write_incidents(locate_frame(incidents(lat, lon, ["prank"] * 50), rt.locator))
    first = rt.analytics.counts(T0, T0 + DAY)
    assert first.kec_type[:, 1].sum() == 50 and first.kec_type[:, 0].sum() == 0
    # ten calls turn out genuine (same ids, updated), five new ones arrive
    update = incidents(lat[:10], lon[:10], ["genuine"] * 10)
    rt.store.write_incidents(locate_frame(update, rt.locator))
    rt.store.write_incidents(locate_frame(incidents(lat[:5], lon[:5], ["ghost"] * 5, prefix="B"), rt.locator))
    now = rt.analytics.counts(T0, T0 + DAY)
    assert now.version == rt.store.data_version() > first.version
    assert list(now.kec_type[:, :3].sum(axis=0)) == [10, 40, 5]
    assert now.piece_type.sum() == 55
    assert rt.analytics.counts(T0 + DAY, T0 + 2 * DAY).total == 0  # the window is honoured


def _seed_window(rt, per_kec: dict[str, list[str]], *, t: int, prefix: str) -> None:
    region = rt.region
    pts = region.desa[region.desa["has_polygon"]].drop_duplicates("kode_kec").set_index("kode_kec")
    lat, lon, types = [], [], []
    for kec, kinds in per_kec.items():
        p = pts.loc[kec].geometry.representative_point()
        lat += [p.y] * len(kinds)
        lon += [p.x] * len(kinds)
        types += kinds
    rt.store.write_incidents(locate_frame(incidents(np.array(lat), np.array(lon), types, t=t, prefix=prefix),
                                          rt.locator))


def test_socialisation_index_rises_with_under_use_misuse_and_trend(rt) -> None:
    from ntpd_map.analytics.priority import SOCIALISATION_WEIGHTS

    kec = rt.region.kecamatan["kode"].tolist()
    a, b, c = kec[0], kec[1], kec[2]
    _seed_window(rt, {a: ["genuine"] * 20 + ["prank"] * 2, b: ["prank"] * 20 + ["ghost"] * 10,
                      c: ["genuine"] * 5}, t=T0, prefix="N")
    _seed_window(rt, {c: ["genuine"] * 20}, t=T0 - 10 * DAY, prefix="P")  # c used 112 more before
    prio = rt.analytics.priorities("socialisation", T0 - 2 * DAY, T0 + 8 * DAY)
    rows = prio.rows.set_index("kode")
    assert len(rows) == len(kec) and sorted(rows["rank"]) == list(range(1, len(kec) + 1))
    assert prio.population_estimated and rows["penduduk_perkiraan"].all()
    assert rows.loc[a, "kurang_guna"] < rows.loc[kec[5], "kurang_guna"]  # calls for real emergencies
    assert rows.loc[b, "salah_guna"] > rows.loc[a, "salah_guna"]  # misuse
    assert rows.loc[c, "tren_memburuk"] > 0.5 > rows.loc[a, "tren_memburuk"] - 0.25  # fewer genuine than before
    assert rows.loc[b, "rank"] < rows.loc[a, "rank"]
    # the score is exactly its weighted components (a planner can recompute it)
    recomputed = 100 * sum(w * rows[name] for name, w in SOCIALISATION_WEIGHTS.items())
    np.testing.assert_allclose(rows["score"], recomputed, atol=0.11)
    # imported Dukcapil figures replace the estimate and change the under-use component
    rt.store.set_population([PopulationFigure(a, 500_000, 2025, "dukcapil")])
    again = rt.analytics.priorities("socialisation", T0 - 2 * DAY, T0 + 8 * DAY).rows.set_index("kode")
    assert not again.loc[a, "penduduk_perkiraan"] and again.loc[a, "penduduk"] == 500_000
    assert again.loc[a, "kurang_guna"] > rows.loc[a, "kurang_guna"]


def test_bts_index_rises_with_blank_spots_dropped_calls_and_tower_distance(rt) -> None:
    from ntpd_map.analytics.priority import BTS_WEIGHTS

    region = rt.region
    kec = region.kecamatan["kode"].tolist()
    a, b = kec[0], kec[1]
    _seed_window(rt, {a: ["dropped"] * 10 + ["genuine"] * 2, b: ["genuine"] * 12}, t=T0, prefix="N")
    before = rt.analytics.priorities("bts", T0, T0 + DAY).rows.set_index("kode")
    assert before["jarak_menara_km"].isna().all() and (before["jarak_menara"] == 0).all()
    assert before.loc[a, "putus_kosong"] > before.loc[b, "putus_kosong"]
    desa_a = region.desa[region.desa["kode_kec"] == a]["kode"].tolist()
    rt.store.add_coverage_marks([CoverageMark(d, SignalStatus.NONE, author="planner") for d in desa_a])
    centre = region.kecamatan.set_index("kode").loc[b].geometry.representative_point()
    rt.store.add_towers([Tower(lat=centre.y, lon=centre.x, source="test", radio="LTE", mcc=510, net=10, area=1,
                               cell=1)])
    after = rt.analytics.priorities("bts", T0, T0 + DAY).rows.set_index("kode")
    assert after.loc[a, "blank_spot"] == 1.0 and after.loc[b, "blank_spot"] == 0.0
    assert after.loc[b, "jarak_menara_km"] < after.loc[a, "jarak_menara_km"]
    assert after.loc[a, "rank"] == 1
    recomputed = 100 * sum(w * after[name] for name, w in BTS_WEIGHTS.items())
    np.testing.assert_allclose(after["score"], recomputed, atol=0.11)
    desa = rt.analytics.priorities("bts", T0, T0 + DAY, level="desa").rows
    assert len(desa) == len(region.desa) and set(desa.loc[desa["rank"] <= len(desa_a), "kode"]) == set(desa_a)


def test_api_priorities_and_hexes(rt) -> None:
    import io

    from ntpd_map.access.keys import create_api_key
    from ntpd_map.factory import create_app

    client = create_app(runtime=rt).server.test_client()
    read = {"Authorization": f"Bearer {create_api_key(rt.store, 'dinas', 'read')[1]}"}
    ingest = {"Authorization": f"Bearer {create_api_key(rt.store, 'simrs', 'ingest')[1]}"}
    kec = rt.region.kecamatan["kode"].tolist()
    _seed_window(rt, {kec[0]: ["genuine", "prank", "prank"], kec[3]: ["dropped"]}, t=T0, prefix="N")
    day = pd.Timestamp(T0, unit="s", tz="UTC").tz_convert(rt.settings.tz).date().isoformat()
    query = f"from={day}&to={day}"

    assert client.get(f"/api/priorities?{query}").status_code == 401
    assert client.get(f"/api/hexes?{query}", headers=ingest).status_code == 403
    assert client.get(f"/api/priorities?metric=pizza&{query}", headers=read).status_code == 400
    assert client.get("/api/priorities?metric=socialisation&level=desa", headers=read).status_code == 400
    assert client.get("/api/hexes?res=12", headers=read).status_code == 400
    assert client.get("/api/hexes?from=2025-02-30", headers=read).status_code == 400

    for metric in ("socialisation", "bts"):
        body = client.get(f"/api/priorities?metric={metric}&{query}", headers=read).get_json()
        assert (body["metric"], body["from"], body["to"]) == (metric, day, day)
        assert [r["kode"] for r in sorted(body["rows"], key=lambda r: r["kode"])] == sorted(kec)
        assert sorted(r["rank"] for r in body["rows"]) == list(range(1, len(kec) + 1))
        row = body["rows"][0]
        assert {"kode", "nama", "score", "rank", "components"} <= set(row) and row["components"]
        assert body["population_estimated"] is True
    desa = client.get(f"/api/priorities?metric=bts&level=desa&{query}", headers=read).get_json()
    assert len(desa["rows"]) == len(rt.region.desa)

    hexes = client.get(f"/api/hexes?{query}&res=8", headers=read)
    assert hexes.mimetype == "application/geo+json"
    features = hexes.get_json()["features"]
    assert sum(f["properties"]["total"] for f in features) == 4
    assert {f["properties"]["kode_kecamatan"] for f in features} == {kec[0], kec[3]}
    props = next(f["properties"] for f in features if f["properties"]["kode_kecamatan"] == kec[0])
    assert (props["genuine"], props["prank"], props["ghost"]) == (1, 2, 0)
    assert {"h3", "dropped", "wrong_number", "info", "test"} <= set(props)
    everything = client.get(f"/api/hexes?{query}&res=7&empty=1", headers=read).get_json()["features"]
    assert len(everything) == len(rt.analytics.pieces(7))

    # a new call changes the answer at once (the cache is keyed by the data version), and only then
    before = client.get(f"/api/priorities?metric=bts&{query}", headers=read).get_data()
    assert client.get(f"/api/priorities?metric=bts&{query}", headers=read).get_data() == before
    _seed_window(rt, {kec[3]: ["dropped"] * 5}, t=T0 + 60, prefix="M")
    after = client.get(f"/api/hexes?{query}&res=8", headers=read).get_json()["features"]
    assert sum(f["properties"]["total"] for f in after) == 9
    assert client.get(f"/api/priorities?metric=bts&{query}", headers=read).get_data() != before
    # so do new reference data (a tower) though no call changed
    again = client.get(f"/api/priorities?metric=bts&{query}", headers=read).get_data()
    rt.store.add_towers([Tower(lat=-9.45, lon=124.48, source="test")])
    assert client.get(f"/api/priorities?metric=bts&{query}", headers=read).get_data() != again

    csv = client.get(f"/api/priorities.csv?metric=bts&{query}", headers=read)
    table = pd.read_csv(io.BytesIO(csv.data), encoding="utf-8-sig")
    assert "Peringkat" in table.columns and "Komponen: tanda blank spot (0-1)" in table.columns
    assert len(table) == len(kec) and "attachment" in csv.headers["Content-Disposition"]
    xlsx = client.get(f"/api/priorities.xlsx?metric=socialisation&{query}", headers=read)
    sheets = pd.read_excel(io.BytesIO(xlsx.data), sheet_name=None)
    assert len(sheets["Peringkat"]) == len(kec)
    notes = dict(zip(sheets["Keterangan"]["Keterangan"], sheets["Keterangan"]["Isi"], strict=True))
    assert notes["Rumus"].startswith("skor = 100 x (0,5 x kurang_guna") and "PERKIRAAN" in notes["Penduduk"]
    assert "SIMULASI" not in notes


def test_api_answers_503_when_the_store_is_down(rt, monkeypatch: pytest.MonkeyPatch) -> None:
    from ntpd_map.access.keys import create_api_key
    from ntpd_map.factory import create_app
    from ntpd_map.store.model import StoreUnavailable

    client = create_app(runtime=rt).server.test_client()
    read = {"Authorization": f"Bearer {create_api_key(rt.store, 'dinas', 'read')[1]}"}

    def down(*_a: object, **_k: object) -> int:
        raise StoreUnavailable("database is locked")

    monkeypatch.setattr(rt.store, "data_version", down)
    for path in ("/api/hexes", "/api/priorities", "/api/priorities.csv"):
        answer = client.get(path, headers=read)
        assert answer.status_code == 503 and answer.headers["Retry-After"]
