"""H3 hexagons clipped to kecamatan: the pieces incidents are counted in (issue 5).

A hexagon that crosses a kecamatan border is split into one piece per kecamatan, so every count adds up per
kecamatan and per kab/kota. The pieces of a region depend only on its boundaries and the resolution: they are
built once, kept in ``data/boundaries/hexes_<code>_r<res>.parquet`` (keyed by a digest of the kecamatan
polygons) and in memory, never per request. Pure geometry: no Dash, no store.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ntpd_map.geo.locate import cells_from_latlon

if TYPE_CHECKING:
    import geopandas as gpd

    from ntpd_map.geo.boundaries import Region

log = logging.getLogger(__name__)

RESOLUTIONS = (7, 8, 9)
_VERSION = "1"  # bump when the way pieces are built changes, so caches rebuild


@dataclass(frozen=True)
class HexPieces:
    """The clipped pieces of one region at one resolution, and how incidents find theirs.

    Arrays are aligned by piece: ``cell`` (uint64 H3 index), ``kec`` (index into ``kode_kec``), ``geometry``
    (shapely, EPSG:4326), ``area_km2``. ``kec_anchor[k]`` / ``desa_anchor[d]`` is the piece holding the
    representative point of kecamatan k / desa d (-1 if it has no polygon).
    """

    code: str
    res: int
    kode_kec: np.ndarray  # object: the region's kecamatan codes, in region order
    kode_desa: np.ndarray  # object: the region's desa codes, in region order
    cell: np.ndarray
    kec: np.ndarray
    geometry: np.ndarray
    area_km2: np.ndarray
    kec_anchor: np.ndarray
    desa_anchor: np.ndarray

    def __len__(self) -> int:
        return len(self.cell)

    def assign(self, cells: np.ndarray, kec: np.ndarray, desa: np.ndarray | None = None) -> np.ndarray:
        """The piece of each incident (-1: none), from its H3 cell at ``res`` (0 = no coordinates), its
        kecamatan index (-1 = none) and its desa index (-1 = none).

        The piece is (cell, kecamatan) when the cell touches the kecamatan's polygon. Otherwise the incident
        still counts in its own kecamatan: in the piece of it nearest to its cell (a point snapped from just
        off the coast; a desa polygon upstream that overlaps the next kecamatan), else the piece at its desa's
        representative point (a desa named without coordinates), else at its kecamatan's.
        """
        import pandas as pd

        cells = np.asarray(cells, dtype="uint64")
        kec = np.asarray(kec, dtype="int64")
        out = np.full(len(cells), -1, dtype="int64")
        if not len(self.cell) or not len(cells):
            return out
        n_kec = max(len(self.kode_kec), 1)
        pos = self._cell_index.get_indexer(cells)
        ok = (pos >= 0) & (kec >= 0)
        out[ok] = self._piece_index.get_indexer(pos[ok].astype("int64") * n_kec + kec[ok])
        missing = (out < 0) & (kec >= 0) & (cells != 0)
        if missing.any():
            # few distinct (cell, kecamatan) pairs miss: settle each pair once
            pairs = pd.DataFrame({"cell": cells[missing], "kec": kec[missing]})
            uniq = pairs.drop_duplicates()
            found = self._nearest_in_kecamatan(uniq["cell"].to_numpy(dtype="uint64"), uniq["kec"].to_numpy())
            lookup = pd.MultiIndex.from_frame(uniq)
            out[missing] = found[lookup.get_indexer(pd.MultiIndex.from_frame(pairs))]
        missing = (out < 0) & (kec >= 0)
        if desa is not None and missing.any():
            desa = np.asarray(desa, dtype="int64")
            has = missing & (desa >= 0)
            anchor = np.full(len(cells), -1, dtype="int64")
            anchor[has] = self.desa_anchor[desa[has]]
            # a desa's anchor is in its own kecamatan; never move an incident to another kecamatan
            same = has & (anchor >= 0)
            same[same] = self.kec[anchor[same]] == kec[same]
            out[same] = anchor[same]
            missing = (out < 0) & (kec >= 0)
        out[missing] = self.kec_anchor[kec[missing]]
        return out

    @cached_property
    def _cell_index(self) -> Any:
        import pandas as pd

        return pd.Index(np.unique(self.cell))

    @cached_property
    def _piece_index(self) -> Any:
        import pandas as pd

        n_kec = max(len(self.kode_kec), 1)
        return pd.Index(self._cell_index.get_indexer(self.cell).astype("int64") * n_kec + self.kec)

    @cached_property
    def _trees(self) -> dict[int, tuple[Any, np.ndarray]]:
        """Per kecamatan: an STRtree of its pieces, and their piece numbers."""
        import shapely

        out = {}
        for k in np.unique(self.kec):
            mine = np.flatnonzero(self.kec == k)
            out[int(k)] = (shapely.STRtree(self.geometry[mine]), mine)
        return out

    @cached_property
    def geojson_geometries(self) -> list[dict[str, Any]]:
        """Each piece's geometry as a GeoJSON dict, coordinates rounded to 6 decimals (about 10 cm): made
        once, so an answer only adds the counts."""
        import shapely

        rounded = shapely.set_precision(self.geometry, 1e-6) if len(self.geometry) else []
        return [shapely.geometry.mapping(g) for g in rounded]

    @cached_property
    def h3_strings(self) -> list[str]:
        import h3

        return [h3.int_to_str(int(c)) for c in self.cell]

    def _nearest_in_kecamatan(self, cells: np.ndarray, kec: np.ndarray) -> np.ndarray:
        """The piece of kecamatan ``kec[i]`` nearest to the centre of ``cells[i]``; -1 if it has none."""
        import shapely
        from h3ronpy.vector import cells_to_coordinates

        out = np.full(len(cells), -1, dtype="int64")
        centres = cells_to_coordinates(cells)
        lat = np.asarray(centres.column("lat"), dtype="float64")
        lng = np.asarray(centres.column("lng"), dtype="float64")
        for k in np.unique(kec):
            if int(k) not in self._trees:
                continue
            tree, mine = self._trees[int(k)]
            sel = np.flatnonzero(kec == k)
            _, nearest = tree.query_nearest(shapely.points(lng[sel], lat[sel]), all_matches=False)
            out[sel] = mine[nearest]
        return out

    def frame(self) -> gpd.GeoDataFrame:
        """The pieces as a GeoDataFrame: piece, h3, kode_kecamatan, area_km2, geometry."""
        import geopandas as gpd
        import h3

        return gpd.GeoDataFrame(
            {
                "piece": np.arange(len(self.cell)),
                "h3": [h3.int_to_str(int(c)) for c in self.cell],
                "kode_kecamatan": self.kode_kec[self.kec] if len(self.cell) else np.array([], dtype=object),
                "area_km2": self.area_km2,
            },
            geometry=self.geometry,
            crs="EPSG:4326",
        )


def _digest(region: Region, res: int) -> str:
    import shapely

    h = hashlib.sha256(f"{_VERSION}:{res}".encode())
    for code, wkb in zip(region.kecamatan["kode"], shapely.to_wkb(region.kecamatan.geometry.to_numpy()),
                         strict=True):
        h.update(str(code).encode() + (wkb or b""))
    for code in region.desa["kode"]:
        h.update(str(code).encode())
    return h.hexdigest()


def build_pieces(region: Region, res: int) -> HexPieces:
    """Clip the H3 cells (``res`` 7-9) that touch each kecamatan polygon to that polygon."""
    import h3
    import shapely
    from h3ronpy.vector import cells_to_wkb_polygons

    if res not in RESOLUTIONS:
        raise ValueError(f"H3 resolution {res} is not one of {RESOLUTIONS}")
    kecs = region.kecamatan.geometry.to_numpy()
    cells_l, kec_l = [], []
    for k, geom in enumerate(kecs):
        if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        found = h3.polygon_to_cells_experimental(h3.geo_to_h3shape(shapely.geometry.mapping(geom)), res,
                                                 contain="overlap")
        cells_l.append(np.array([h3.str_to_int(c) for c in found], dtype="uint64"))
        kec_l.append(np.full(len(found), k, dtype="int64"))
    cell = np.concatenate(cells_l) if cells_l else np.zeros(0, dtype="uint64")
    kec = np.concatenate(kec_l) if kec_l else np.zeros(0, dtype="int64")
    hexes = shapely.from_wkb(np.asarray(cells_to_wkb_polygons(cell), dtype=object)) if len(cell) else np.array([])
    clipped = shapely.intersection(hexes, kecs[kec]) if len(cell) else np.array([], dtype=object)
    # keep areas only: a cell that merely touches the border (a shared edge or vertex) is no piece
    clipped = shapely.make_valid(clipped) if len(cell) else clipped
    polys = np.array([_polygonal(g) for g in clipped], dtype=object)
    keep = np.array([g is not None for g in polys], dtype=bool)
    cell, kec, polys = cell[keep], kec[keep], polys[keep]
    pieces = HexPieces(
        code=region.code, res=res,
        kode_kec=region.kecamatan["kode"].to_numpy(dtype=object),
        kode_desa=region.desa["kode"].to_numpy(dtype=object),
        cell=cell, kec=kec, geometry=polys, area_km2=_area_km2(polys),
        kec_anchor=np.zeros(0, dtype="int64"), desa_anchor=np.zeros(0, dtype="int64"),
    )
    return _with_anchors(pieces, region)


def _polygonal(geom: Any) -> Any:
    import shapely

    if geom is None or geom.is_empty:
        return None
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom if geom.area > 0 else None
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon") and g.area > 0]
    if not parts:
        return None
    return shapely.union_all(parts)


def _area_km2(polys: np.ndarray) -> np.ndarray:
    if not len(polys):
        return np.zeros(0)
    import geopandas as gpd

    series = gpd.GeoSeries(polys, crs="EPSG:4326")
    return np.asarray(series.to_crs(series.estimate_utm_crs()).area / 1e6, dtype="float64")


def _with_anchors(pieces: HexPieces, region: Region) -> HexPieces:
    """Fill kec_anchor/desa_anchor: the piece at each kecamatan's and desa's representative point."""
    import shapely


    kode_index = {str(k): i for i, k in enumerate(region.kecamatan["kode"])}

    def anchors(geoms: np.ndarray, kec: np.ndarray) -> np.ndarray:
        out = np.full(len(geoms), -1, dtype="int64")
        ok = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool) & (kec >= 0)
        if not ok.any():
            return out
        pts = shapely.point_on_surface(geoms[ok])
        cells = cells_from_latlon(shapely.get_y(pts), shapely.get_x(pts), pieces.res)
        found = pieces.assign(cells, kec[ok])  # no anchors yet: exact (cell, kecamatan) pieces only
        out[ok] = found
        # a representative point on a sliver the clipping dropped: fall back to the kecamatan's largest piece
        for i in np.flatnonzero(ok & (out < 0)):
            mine = np.flatnonzero(pieces.kec == kec[i])
            if len(mine):
                out[i] = mine[np.argmax(pieces.area_km2[mine])]
        return out

    kec_geoms = region.kecamatan.geometry.to_numpy()
    kec_anchor = anchors(kec_geoms, np.arange(len(kec_geoms), dtype="int64"))
    desa_kec = np.array([kode_index.get(str(k), -1) for k in region.desa["kode_kec"]], dtype="int64")
    # only desa with a polygon: a desa known by a point has no area of its own to anchor in
    has_polygon = region.desa["has_polygon"].astype(bool).to_numpy()
    desa_geoms = np.asarray(np.where(has_polygon, region.desa.geometry.to_numpy(), None), dtype=object)
    desa_anchor = anchors(desa_geoms, desa_kec)
    return replace(pieces, kec_anchor=kec_anchor, desa_anchor=desa_anchor)


def load_pieces(region: Region, res: int, cache_dir: Path | None = None) -> HexPieces:
    """The region's pieces at ``res``, from the cache file when its digest matches, else built and cached."""
    import geopandas as gpd

    key = _digest(region, res)
    path = cache_dir / f"hexes_{region.code}_r{res}.parquet" if cache_dir else None
    if path is not None and path.exists():
        try:
            if _meta_key(path) == key:
                return _from_frame(region, res, gpd.read_parquet(path), path)
        except (OSError, ValueError) as exc:  # a damaged cache is rebuilt, never trusted
            log.warning("hexagon cache %s unreadable (%s): rebuilding", path, exc)
    pieces = build_pieces(region, res)
    if path is not None:
        _write(pieces, path, key)
    return pieces


def _meta_key(path: Path) -> str | None:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    value = meta.get(b"ntpd_key")
    return value.decode() if value else None


def _write(pieces: HexPieces, path: Path, key: str) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pieces.frame()
    frame["cell"] = pieces.cell.astype("int64")  # res 7-9 cells are below 2**63
    frame["kec"] = pieces.kec
    tmp = path.with_suffix(".tmp.parquet")
    frame.to_parquet(tmp)
    table = pq.read_table(tmp)
    extra = {b"ntpd_key": key.encode(),
             b"ntpd_kec_anchor": pieces.kec_anchor.astype("int64").tobytes(),
             b"ntpd_desa_anchor": pieces.desa_anchor.astype("int64").tobytes()}
    pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), **extra}), tmp)
    tmp.replace(path)


def _from_frame(region: Region, res: int, frame: gpd.GeoDataFrame, path: Path) -> HexPieces:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return HexPieces(
        code=region.code, res=res,
        kode_kec=region.kecamatan["kode"].to_numpy(dtype=object),
        kode_desa=region.desa["kode"].to_numpy(dtype=object),
        cell=frame["cell"].to_numpy(dtype="int64").astype("uint64"),
        kec=frame["kec"].to_numpy(dtype="int64"),
        geometry=frame.geometry.to_numpy(),
        area_km2=frame["area_km2"].to_numpy(dtype="float64"),
        kec_anchor=np.frombuffer(meta[b"ntpd_kec_anchor"], dtype="int64").copy(),
        desa_anchor=np.frombuffer(meta[b"ntpd_desa_anchor"], dtype="int64").copy(),
    )
