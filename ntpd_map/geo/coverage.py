"""Where no known tower reaches: the area of each kecamatan (or desa) outside every tower's range (issue 7).

Each tower covers a disc of its range (OpenCelliD's ``range``, an estimate from where phones saw the cell; a
tower without one gets ``default_range_m``; no range is taken above ``MAX_RANGE_M``, the 35 km a GSM timing
advance allows). The discs are unioned and intersected with each polygon in one metric CRS: the UTM zone of the
polygons (TTU: EPSG:32751), where areas are in square metres. It is an estimate of where a signal may reach,
not a measurement: hills, foliage and the operator's power matter, so field surveys and marks come first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

#: The longest range a tower is credited with (GSM timing advance: 63 steps of 550 m).
MAX_RANGE_M = 35_000.0
#: Vertices per quarter circle of a range disc: the disc's area is within 0.05% of pi r^2.
QUAD_SEGS = 64


def metric_crs(areas: gpd.GeoDataFrame) -> Any:
    """The UTM zone of the polygons (a metric CRS for areas and distances)."""
    return areas.to_crs("EPSG:4326").estimate_utm_crs()


def tower_ranges_m(towers: pd.DataFrame, default_range_m: float) -> np.ndarray:
    """Each tower's range in metres: its own when known and positive, else the default; at most MAX_RANGE_M."""
    if default_range_m <= 0:
        raise ValueError(f"the default tower range must be positive, not {default_range_m}")
    given = towers["range_m"].astype("float64").to_numpy() if "range_m" in towers else np.full(len(towers), np.nan)
    given = np.where(np.isfinite(given) & (given > 0), given, default_range_m)
    return np.minimum(given, MAX_RANGE_M)


def reach(towers: pd.DataFrame, default_range_m: float, crs: Any) -> Any:
    """The union of the towers' range discs in ``crs`` (a shapely geometry; empty without towers)."""
    import geopandas as gpd
    import shapely

    if towers is None or not len(towers):
        return shapely.Polygon()
    points = gpd.GeoSeries(gpd.points_from_xy(towers["lon"], towers["lat"]), crs="EPSG:4326").to_crs(crs)
    discs = shapely.buffer(points.to_numpy(), tower_ranges_m(towers, default_range_m), quad_segs=QUAD_SEGS)
    return shapely.union_all(discs)


def uncovered_area(areas: gpd.GeoDataFrame, towers: pd.DataFrame | None, default_range_m: float, *,
                   crs: Any = None) -> pd.DataFrame:
    """Per polygon of ``areas`` (columns kode, nama, geometry): ``luas_km2``, ``terjangkau_km2`` (inside some
    tower's range), ``tak_terjangkau_km2`` and ``porsi_tak_terjangkau`` (0-1; NaN for a polygon without area,
    e.g. a desa known only as a point), and ``menara_rentang_bawaan``: how many towers reaching it were given
    the default range. ``crs``: the metric CRS to measure in (default: the polygons' UTM zone)."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    crs = crs or metric_crs(areas)
    shapes = gpd.GeoSeries(areas.geometry.to_numpy(), crs=areas.crs).to_crs(crs).to_numpy()
    total = shapely.area(shapes)
    towers = towers if towers is not None else pd.DataFrame(columns=["lat", "lon", "range_m"])
    covered_geom = reach(towers, default_range_m, crs)
    covered = shapely.area(shapely.intersection(shapes, covered_geom)) if len(towers) else np.zeros(len(shapes))
    defaulted = np.zeros(len(shapes), dtype="int64")
    if len(towers):
        given = towers["range_m"].astype("float64").to_numpy() if "range_m" in towers else np.full(len(towers),
                                                                                                   np.nan)
        default = ~(np.isfinite(given) & (given > 0))
        if default.any():
            pts = gpd.GeoSeries(gpd.points_from_xy(towers["lon"], towers["lat"]), crs="EPSG:4326").to_crs(crs)
            discs = shapely.buffer(pts.to_numpy()[default], tower_ranges_m(towers, default_range_m)[default],
                                   quad_segs=8)
            tree = shapely.STRtree(discs)
            hit_area, _hit_disc = tree.query(shapes, predicate="intersects")
            defaulted = np.bincount(hit_area, minlength=len(shapes)).astype("int64")
    uncovered = np.clip(total - covered, 0.0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, uncovered / np.where(total > 0, total, 1.0), np.nan)
    return pd.DataFrame({
        "kode": areas["kode"].to_numpy(), "nama": areas["nama"].to_numpy() if "nama" in areas else None,
        "luas_km2": total / 1e6, "terjangkau_km2": covered / 1e6, "tak_terjangkau_km2": uncovered / 1e6,
        "porsi_tak_terjangkau": share, "menara_rentang_bawaan": defaulted,
    })
