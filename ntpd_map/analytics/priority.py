"""Where to socialise 112 and where to ask Komdigi for a BTS: two explainable indices (issue 5).

Each index is a weighted sum of components between 0 and 1, scaled to 0-100; every component is returned
next to the score, so a planner can explain a rank to the Bupati. README.md ("Priority indices") documents the
formulas and why. Pure pandas/numpy: no Dash, no store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ntpd_map.analytics.counts import DROPPED_GHOST, GENUINE, MISUSE

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.analytics.counts import WindowCounts
    from ntpd_map.geo.boundaries import Region

#: weights of the socialisation index: under-use, misuse, worsening trend
SOCIALISATION_WEIGHTS = {"kurang_guna": 0.5, "salah_guna": 0.3, "tren_memburuk": 0.2}
#: weights of the BTS index: blank-spot marks, imprecise locations, dropped+ghost, tower distance, population
BTS_WEIGHTS = {"blank_spot": 0.30, "lokasi_tidak_tepat": 0.15, "putus_kosong": 0.20, "jarak_menara": 0.20,
               "penduduk": 0.15}
#: how strongly a share with few calls is pulled towards the region's share (calls' worth of prior)
PRIOR_CALLS = 10.0
#: how strongly the genuine-call ratio is pulled towards the region's rate (calls' worth of prior)
PRIOR_GENUINE = 2.0
#: tower distance at which the distance component saturates (a macro BTS reaches ~5-10 km in open land)
FAR_KM = 10.0
#: a desa's blank-spot component by its current signal mark (unmarked: 0)
SIGNAL_WEIGHT = {"none": 1.0, "weak": 0.6, "2g_only": 0.4, "good": 0.0}
METRICS = ("socialisation", "bts")


@dataclass(frozen=True)
class Population:
    """Population per kecamatan and desa of a region (region order), and whether each is an estimate."""

    kec: np.ndarray  # float
    kec_estimated: np.ndarray  # bool
    desa: np.ndarray
    desa_estimated: np.ndarray
    basis: str  # how estimates were made, for the footnote


def population(region: Region, imported: pd.DataFrame | None) -> Population:
    """Imported figures (Dukcapil, ``import population``) where a Dinas gave them; otherwise estimated.

    A kecamatan uses its own figure, else the sum of its desa when every desa has one, else an estimate: its
    kab/kota population (wilayah_penduduk) shared by number of desa, since rural desa are of similar size.
    A desa uses its own figure, else its kecamatan's divided among its desa.
    """
    kec, desa = region.kecamatan, region.desa
    figures: dict[str, float] = {}
    if imported is not None and len(imported):
        figures = dict(zip(imported["kode"].astype(str), imported["population"].astype(float), strict=True))
    desa_fig = np.array([figures.get(str(k), np.nan) for k in desa["kode"]], dtype="float64")
    kec_codes = kec["kode"].astype(str).to_numpy()
    desa_kec = desa["kode_kec"].astype(str).to_numpy()
    kec_pop = np.array([figures.get(k, np.nan) for k in kec_codes], dtype="float64")
    desa_count = np.array([(desa_kec == k).sum() for k in kec_codes], dtype="float64")
    for i, k in enumerate(kec_codes):
        mine = desa_fig[desa_kec == k]
        if np.isnan(kec_pop[i]) and len(mine) and not np.isnan(mine).any():
            kec_pop[i] = mine.sum()
    estimated = np.isnan(kec_pop)
    kab_pop = dict(zip(region.kabkota["kode"].astype(str), region.kabkota["population"].astype(float), strict=True))
    kec_kab = kec["kode_kab"].astype(str).to_numpy()
    for kab, total in kab_pop.items():
        in_kab = kec_kab == kab
        known = np.nansum(np.where(in_kab & ~estimated, kec_pop, 0.0))
        share = np.where(in_kab & estimated, np.maximum(desa_count, 1.0), 0.0)
        if share.sum():
            kec_pop[in_kab & estimated] = max(total - known, 0.0) * share[in_kab & estimated] / share.sum()
    kec_pop = np.nan_to_num(kec_pop)
    kec_of_desa = {k: i for i, k in enumerate(kec_codes)}
    desa_pop = desa_fig.copy()
    desa_est = np.isnan(desa_pop)
    for j in np.flatnonzero(desa_est):
        owner = kec_of_desa.get(desa_kec[j])
        if owner is not None:
            known = np.nansum(desa_fig[desa_kec == desa_kec[j]])
            unknown = int(np.isnan(desa_fig[desa_kec == desa_kec[j]]).sum())
            desa_pop[j] = max(kec_pop[owner] - known, 0.0) / max(unknown, 1)
    return Population(kec=kec_pop, kec_estimated=estimated, desa=np.nan_to_num(desa_pop), desa_estimated=desa_est,
                      basis="penduduk kab/kota (wilayah_penduduk) dibagi menurut jumlah desa")


def _smoothed_share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part/whole pulled towards the region's share by PRIOR_CALLS calls, so 1 prank out of 1 call is not 100%."""
    region_share = part.sum() / whole.sum() if whole.sum() else 0.0
    return (part + PRIOR_CALLS * region_share) / (whole + PRIOR_CALLS)


def _rank(score: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """1 = most needed; ties broken by code so the order is stable."""
    order = np.lexsort((codes.astype(str), -np.round(score, 9)))
    rank = np.empty(len(score), dtype="int64")
    rank[order] = np.arange(1, len(score) + 1)
    return rank


def socialisation(now: WindowCounts, before: WindowCounts, region: Region, pop: Population) -> pd.DataFrame:
    """The socialisation index per kecamatan: where people do not use 112 for real emergencies (relative to
    how many live there), misuse it (prank and ghost calls), and where that is getting worse."""
    import pandas as pd

    days = max((now.end - now.start) / 86400, 1e-9)
    g = now.kec_type[:, GENUINE].astype(float)
    n = now.kec_type.sum(axis=1).astype(float)
    m = now.kec_type[:, list(MISUSE)].sum(axis=1).astype(float)
    g0 = before.kec_type[:, GENUINE].astype(float)
    n0 = before.kec_type.sum(axis=1).astype(float)
    m0 = before.kec_type[:, list(MISUSE)].sum(axis=1).astype(float)
    per = 10_000 * 30 / days  # genuine calls per 10,000 people per 30 days
    rate = np.divide(g * per, pop.kec, out=np.zeros_like(g), where=pop.kec > 0)
    region_rate = g.sum() * per / pop.kec.sum() if pop.kec.sum() else 0.0
    # genuine calls against what the region's rate would give this many people, pulled towards "as expected"
    # by PRIOR_GENUINE calls, so 0 calls from a small kecamatan in one month does not read as "never uses 112"
    expected = g.sum() * pop.kec / pop.kec.sum() if pop.kec.sum() else np.zeros_like(g)
    ratio = (g + PRIOR_GENUINE) / (expected + PRIOR_GENUINE)
    under = 1.0 / (1.0 + ratio)
    misuse = _smoothed_share(m, n)
    misuse_before = _smoothed_share(m0, n0)
    use_change = (g - g0) / np.maximum(g + g0, 1.0)
    trend = np.clip(0.5 + ((misuse - misuse_before) - use_change) / 4.0, 0.0, 1.0)
    w = SOCIALISATION_WEIGHTS
    score = 100.0 * (w["kurang_guna"] * under + w["salah_guna"] * misuse + w["tren_memburuk"] * trend)
    codes = region.kecamatan["kode"].to_numpy()
    return pd.DataFrame({
        "kode": codes, "nama": region.kecamatan["nama"].to_numpy(),
        "rank": _rank(score, codes), "score": np.round(score, 1),
        "kurang_guna": np.round(under, 3), "salah_guna": np.round(misuse, 3), "tren_memburuk": np.round(trend, 3),
        "penduduk": np.round(pop.kec).astype("int64"), "penduduk_perkiraan": pop.kec_estimated,
        "darurat": g.astype("int64"), "darurat_harapan": np.round(expected, 1),
        "darurat_per_10rb_30hari": np.round(rate, 2),
        "darurat_per_10rb_30hari_wilayah": round(region_rate, 2),
        "iseng_kosong": m.astype("int64"), "semua_panggilan": n.astype("int64"),
        "darurat_sebelumnya": g0.astype("int64"), "salah_guna_sebelumnya": np.round(misuse_before, 3),
    }).sort_values("rank", kind="stable").reset_index(drop=True)


def tower_distance_km(lat: np.ndarray, lon: np.ndarray, towers: pd.DataFrame | None) -> np.ndarray:
    """Distance (km) from each point to the nearest known tower; NaN when no tower is known or no point."""
    import geopandas as gpd

    out = np.full(len(lat), np.nan)
    if towers is None or not len(towers) or not len(lat):
        return out
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        return out
    pts = gpd.GeoSeries(gpd.points_from_xy(lon[ok], lat[ok]), crs="EPSG:4326")
    utm = pts.estimate_utm_crs()
    tw = gpd.GeoDataFrame(geometry=gpd.points_from_xy(towers["lon"], towers["lat"]), crs="EPSG:4326").to_crs(utm)
    joined = gpd.sjoin_nearest(gpd.GeoDataFrame(geometry=pts.to_crs(utm)), tw, distance_col="d")
    out[ok] = joined.groupby(level=0)["d"].min().sort_index().to_numpy() / 1000.0
    return out


def bts(now: WindowCounts, region: Region, pop: Population, marks: pd.DataFrame | None,
        towers: pd.DataFrame | None, level: str = "kecamatan") -> pd.DataFrame:
    """The BTS index per kecamatan or desa: blank-spot marks, calls without a measured position, dropped and
    ghost calls, distance to the nearest known tower, and how many people live there."""
    import pandas as pd
    import shapely

    desa = region.desa
    status = pd.Series(dtype=object)
    if marks is not None and len(marks):
        status = marks.drop_duplicates("kode_desa", keep="last").set_index("kode_desa")["status"]
    desa_status = desa["kode"].map(status).to_numpy(dtype=object)
    desa_blank = np.array([SIGNAL_WEIGHT.get(str(s), 0.0) for s in desa_status])
    pts = shapely.point_on_surface(desa.geometry.to_numpy())
    desa_km = tower_distance_km(shapely.get_y(pts), shapely.get_x(pts), towers)
    if level == "desa":
        codes = desa["kode"].to_numpy()
        names = desa["nama"].to_numpy()
        counts, imprecise = now.desa_type, now.desa_imprecise
        blank, km, people, estimated = desa_blank, desa_km, pop.desa, pop.desa_estimated
        extra = {"kode_kecamatan": desa["kode_kec"].to_numpy(), "status_sinyal": desa_status}
    elif level == "kecamatan":
        codes = region.kecamatan["kode"].to_numpy()
        names = region.kecamatan["nama"].to_numpy()
        counts, imprecise = now.kec_type, now.kec_imprecise
        group = pd.Index(codes).get_indexer(desa["kode_kec"])
        frame = pd.DataFrame({"k": group, "blank": desa_blank, "km": desa_km, "marked": pd.notna(desa_status)})
        frame = frame[frame["k"] >= 0]
        by = frame.groupby("k")
        blank = by["blank"].mean().reindex(range(len(codes)), fill_value=0.0).to_numpy()
        km = by["km"].mean().reindex(range(len(codes))).to_numpy(dtype="float64")
        people, estimated = pop.kec, pop.kec_estimated
        extra = {"desa_ditandai": by["marked"].sum().reindex(range(len(codes)), fill_value=0).to_numpy("int64")}
    else:
        raise ValueError(f"level must be kecamatan or desa, not {level!r}")
    n = counts.sum(axis=1).astype(float)
    imprecise_share = _smoothed_share(imprecise.astype(float), n)
    dropped = _smoothed_share(counts[:, list(DROPPED_GHOST)].sum(axis=1).astype(float), n)
    distance = np.clip(np.nan_to_num(km, nan=0.0) / FAR_KM, 0.0, 1.0)
    people_c = people / people.max() if len(people) and people.max() > 0 else np.zeros(len(codes))
    w = BTS_WEIGHTS
    score = 100.0 * (w["blank_spot"] * blank + w["lokasi_tidak_tepat"] * imprecise_share
                     + w["putus_kosong"] * dropped + w["jarak_menara"] * distance + w["penduduk"] * people_c)
    out = pd.DataFrame({
        "kode": codes, "nama": names, "rank": _rank(score, codes), "score": np.round(score, 1),
        "blank_spot": np.round(blank, 3), "lokasi_tidak_tepat": np.round(imprecise_share, 3),
        "putus_kosong": np.round(dropped, 3), "jarak_menara": np.round(distance, 3),
        "penduduk": np.round(people_c, 3),
        "jarak_menara_km": np.round(km, 2), "jumlah_penduduk": np.round(people).astype("int64"),
        "penduduk_perkiraan": estimated, "semua_panggilan": n.astype("int64"),
        "tanpa_lokasi_tepat": imprecise.astype("int64"),
        "terputus_kosong": counts[:, list(DROPPED_GHOST)].sum(axis=1).astype("int64"), **extra,
    })
    return out.sort_values("rank", kind="stable").reset_index(drop=True)
