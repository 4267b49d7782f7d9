"""Point -> desa assignment at a million points a second: an H3 lookup first, exact geometry only at borders.

Why not a plain spatial join: geopandas sjoin and PostGIS ST_Contains run at about 0.6M points/s on this
machine (issue 2). Most incidents fall in a res-9 H3 cell that lies wholly inside one desa, so a sorted
array of such cells answers them with one binary search. Only points in cells that touch a border (or lie
outside every desa) are tested against the polygons, with a shapely STRtree.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ntpd_map.domain import LocationFlag

if TYPE_CHECKING:
    import geopandas as gpd

    from ntpd_map.geo.boundaries import Region

#: Resolution of the stored cell; coarser ones derive from it with h3.cell_to_parent.
H3_RES = 9
#: Resolution of the lookup's finest cells (about 25 m edges): only points within a cell of a border
#: (about 1-2% of them) need the exact polygon test.
LOOKUP_RES = 11
_M_PER_DEG = 111_320.0
# Lookup cells must clear the desa border by this much (about 1 m), so H3's gnomonic cell edges and the
# polygon's straight lat/lng edges can never disagree about a point (they differ by far less on a 25 m edge).
_INTERIOR_MARGIN_DEG = 1e-5
_RES_SHIFT = 52


def parent_cells(cells: np.ndarray, res: int) -> np.ndarray:
    """Parents of H3 cells (uint64) at a coarser resolution, by bit arithmetic on the index layout
    (resolution in bits 52-55, one 3-bit digit per finer resolution, unused digits all ones)."""
    cells = np.asarray(cells, dtype="uint64")
    unused = np.uint64((1 << (3 * (15 - res))) - 1)
    cleared = cells & np.uint64(~(0xF << _RES_SHIFT) & 0xFFFFFFFFFFFFFFFF)
    out = cleared | np.uint64(res << _RES_SHIFT) | unused
    out[cells == 0] = 0
    return out


@dataclass(frozen=True)
class Located:
    """Per-point results, aligned with the input arrays. ``desa`` indexes ``Locator.codes`` (-1: none)."""

    desa: np.ndarray  # int32
    h3: np.ndarray  # uint64, 0 where there is no location
    flags: np.ndarray  # int64 LocationFlag bits


def cells_from_latlon(lat: np.ndarray, lon: np.ndarray, res: int = H3_RES) -> np.ndarray:
    """H3 cells (uint64) for coordinate arrays; 0 where a coordinate is missing. Vectorised (h3ronpy)."""
    from h3ronpy.vector import coordinates_to_cells

    lat = np.asarray(lat, dtype="float64")
    lon = np.asarray(lon, dtype="float64")
    ok = np.isfinite(lat) & np.isfinite(lon)
    out = np.zeros(len(lat), dtype="uint64")
    if ok.any():
        out[ok] = np.asarray(coordinates_to_cells(lat[ok], lon[ok], res), dtype="uint64")
    return out


class Locator:
    """Assigns points to the desa polygons of a region.

    Build once per region (``Locator.from_region(region)``); ``locate`` is then pure array work.
    """

    def __init__(
        self,
        codes: np.ndarray,
        kode_kec: np.ndarray,
        kode_kab: np.ndarray,
        polygons: np.ndarray,
        interior_cells: np.ndarray,
        interior_desa: np.ndarray,
        tolerance_m: float,
    ) -> None:
        import shapely

        self.codes = codes
        self.kode_kec = kode_kec
        self.kode_kab = kode_kab
        self.polygons = polygons
        import pandas as pd

        self._cells = interior_cells
        self._cell_desa = interior_desa
        # a hash index: four times faster than a binary search over the sorted cells (1M probes: 45 vs 200 ms)
        self._lookup = pd.Index(interior_cells)
        resolutions = {int(r) for r in np.unique((interior_cells >> np.uint64(_RES_SHIFT)) & np.uint64(0xF))}
        # res-9 cells cover most of the area, so probing them first settles most points in one pass
        self._resolutions = sorted(resolutions)
        self._tree = shapely.STRtree(polygons)
        # Snapping a point off the coast within kilometres: the nearest boundary vertex, with the boundary
        # segmentized to a vertex every ~200 m, is within ~100 m of the nearest edge, and point-to-point
        # distances are ten times cheaper than point-to-polygon ones.
        coords, owner = shapely.get_coordinates(shapely.segmentize(polygons, 0.002), return_index=True)
        self._vertex_tree = shapely.STRtree(shapely.points(coords))
        self._vertex_owner = owner.astype("int32")
        self._tolerance_deg = tolerance_m / _M_PER_DEG

    @classmethod
    def from_desa(
        cls, desa: gpd.GeoDataFrame, *, tolerance_m: float = 2000.0, cache_path: Path | None = None
    ) -> Locator:
        """Index the desa that have a polygon (columns kode, kode_kec, kode_kab, geometry).

        Building the cell index takes seconds per kab/kota; with ``cache_path`` it is kept in an .npz file
        keyed by a digest of the polygons, and rebuilt only when they change.
        """
        import shapely

        polys = desa[desa.geometry.geom_type.isin(["Polygon", "MultiPolygon"])].reset_index(drop=True)
        geoms = np.asarray(polys.geometry.values, dtype=object)
        digest = hashlib.sha256()
        digest.update(f"{LOOKUP_RES}:{_INTERIOR_MARGIN_DEG}".encode())
        for code, kec, wkb in zip(polys["kode"], polys["kode_kec"], shapely.to_wkb(geoms), strict=True):
            digest.update(f"{code}/{kec}".encode() + wkb)
        key = digest.hexdigest()
        cached = _read_index(cache_path, key) if cache_path else None
        if cached is not None:
            all_cells, all_owners = cached
        else:
            cells, owners = [], []
            for i, geom in enumerate(geoms):
                interior = _interior_cells(geom)
                cells.append(interior)
                owners.append(np.full(len(interior), i, dtype="int32"))
            all_cells = np.concatenate(cells) if cells else np.zeros(0, dtype="uint64")
            all_owners = np.concatenate(owners) if owners else np.zeros(0, dtype="int32")
            if cache_path:
                cache_path.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache_path.with_suffix(".tmp.npz")
                np.savez(tmp, cells=all_cells, owners=all_owners, key=np.array(key))
                tmp.replace(cache_path)
        # A cell can only be wholly inside one desa unless polygons overlap upstream; drop such cells
        # so the exact test decides them.
        order = np.argsort(all_cells, kind="stable")
        all_cells, all_owners = all_cells[order], all_owners[order]
        dup = np.zeros(len(all_cells), dtype=bool)
        if len(all_cells) > 1:
            same = all_cells[1:] == all_cells[:-1]
            dup[1:] |= same
            dup[:-1] |= same
        shapely.prepare(geoms)
        return cls(
            codes=polys["kode"].to_numpy(dtype=object),
            kode_kec=polys["kode_kec"].to_numpy(dtype=object),
            kode_kab=polys["kode_kab"].to_numpy(dtype=object),
            polygons=geoms,
            interior_cells=all_cells[~dup],
            interior_desa=all_owners[~dup],
            tolerance_m=tolerance_m,
        )

    @classmethod
    def from_region(cls, region: Region, *, tolerance_m: float = 2000.0, cache_path: Path | None = None) -> Locator:
        """Desa polygons where upstream has them; elsewhere (most provinsi have no desa dump) the kecamatan
        polygon, so a point still gets its kecamatan (and no desa)."""
        import geopandas as gpd
        import pandas as pd

        desa = region.desa[region.desa.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
        units = [desa[["kode", "kode_kec", "kode_kab", "geometry"]]]
        kec = region.kecamatan[~region.kecamatan["kode"].isin(set(desa["kode_kec"]))]
        if len(kec):
            units.append(gpd.GeoDataFrame(
                {"kode": None, "kode_kec": kec["kode"].to_numpy(), "kode_kab": kec["kode_kab"].to_numpy()},
                geometry=kec.geometry.to_numpy(), crs=region.desa.crs))
        frame = gpd.GeoDataFrame(pd.concat(units, ignore_index=True), geometry="geometry", crs=region.desa.crs)
        return cls.from_desa(frame, tolerance_m=tolerance_m, cache_path=cache_path)

    @property
    def interior_cell_count(self) -> int:
        return len(self._cells)

    def locate(self, lat: np.ndarray, lon: np.ndarray) -> Located:
        import shapely

        lat = np.asarray(lat, dtype="float64")
        lon = np.asarray(lon, dtype="float64")
        n = len(lat)
        fine = cells_from_latlon(lat, lon, LOOKUP_RES)
        cells = parent_cells(fine, H3_RES)
        desa = np.full(n, -1, dtype="int32")
        flags = np.zeros(n, dtype="int64")
        has = cells != 0
        flags[~has] |= LocationFlag.NO_LOCATION

        if len(self._cells):
            # lookup cells are res 9 (interior) or res 11 (near borders) and never overlap
            todo = np.flatnonzero(has)
            for res in self._resolutions:
                probe = fine[todo] if res == LOOKUP_RES else cells[todo]
                pos = self._lookup.get_indexer(probe)
                hit = pos >= 0
                desa[todo[hit]] = self._cell_desa[pos[hit]]
                todo = todo[~hit]
                if not len(todo):
                    break

        todo = np.flatnonzero(has & (desa < 0))
        if len(todo):
            desa[todo] = self._exact(lon[todo], lat[todo])
            rest = todo[desa[todo] < 0]
            if len(rest):
                near_p, near_v = self._vertex_tree.query_nearest(
                    shapely.points(lon[rest], lat[rest]), max_distance=self._tolerance_deg, all_matches=False
                )
                snapped = rest[near_p]
                desa[snapped] = self._vertex_owner[near_v]
                flags[snapped] |= LocationFlag.OFFSHORE_SNAPPED
                flags[rest[desa[rest] < 0]] |= LocationFlag.OUT_OF_REGION
        return Located(desa=desa, h3=cells, flags=flags)

    def _exact(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Exact point-in-polygon for points the lookup could not settle; -1 where no desa contains them.

        Candidates come from the tree's bounding boxes; each candidate desa then tests its own points at
        once against its prepared polygon. A point exactly on a shared border goes to the lower index.
        """
        import shapely

        out = np.full(len(x), -1, dtype="int32")
        p_idx, d_idx = self._tree.query(shapely.points(x, y))
        order = np.lexsort((d_idx, p_idx))
        p_idx, d_idx = p_idx[order], d_idx[order]
        for d in np.unique(d_idx):
            sel = p_idx[d_idx == d]
            sel = sel[out[sel] < 0]
            inside = shapely.intersects_xy(self.polygons[d], x[sel], y[sel])
            out[sel[inside]] = d
        return out

    def codes_for(self, located: Located) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(kode_desa, kode_kec, kode_kab) object arrays, None where no desa was found."""
        ok = located.desa >= 0
        out = []
        for table in (self.codes, self.kode_kec, self.kode_kab):
            col = np.full(len(located.desa), None, dtype=object)
            col[ok] = table[located.desa[ok]]
            out.append(col)
        return out[0], out[1], out[2]


def _read_index(path: Path, key: str) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        with np.load(path) as data:
            if str(data["key"]) == key:
                return data["cells"], data["owners"]
    except (OSError, KeyError, ValueError):
        pass
    return None


def _interior_cells(geom: object) -> np.ndarray:
    """Compacted H3 cells (finest LOOKUP_RES) lying inside ``geom`` with a margin, as uint64."""
    import h3
    import shapely

    shrunk = shapely.buffer(geom, -_INTERIOR_MARGIN_DEG)
    if shrunk.is_empty:
        return np.zeros(0, dtype="uint64")
    cells = h3.polygon_to_cells_experimental(
        h3.geo_to_h3shape(shapely.geometry.mapping(shrunk)), LOOKUP_RES, contain="full"
    )
    # Two levels only, so a point needs at most two probes: the stored res-9 cell (computed anyway) for the
    # interior, res-11 cells along the border.
    out: list[int] = []
    for cell in h3.compact_cells(cells):
        res = h3.get_resolution(cell)
        target = H3_RES if res <= H3_RES else LOOKUP_RES
        kids = h3.cell_to_children(cell, target) if res != target else [cell]
        out.extend(h3.str_to_int(k) for k in kids)
    return np.array(out, dtype="uint64")
