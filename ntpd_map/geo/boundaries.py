"""Regions (a kab/kota or a provinsi) built from the upstream dumps: kab/kota, kecamatan and desa layers.

The list of kecamatan and desa and their names come from ``wilayah/db/wilayah.sql`` (read in
``ntpd_map.geo.codes``); polygons come from ``wilayah_boundaries``. Desa polygons exist upstream only for
provinsi 35, 53 and 74 (see ``KEL_PROVINCES``); elsewhere desa are points. A kecamatan is the dissolve of its
desa when every desa has a polygon (finer than the simplified upstream kecamatan), else the upstream
kecamatan polygon; ``geometry_source`` says which.

``load_region`` is what the app calls: it returns the GeoPackage cache built earlier when its source files
are unchanged, and builds (and caches) the region otherwise.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ntpd_map.geo.codes import (
    code_level,
    desa_kind,
    names_and_errors_from_wilayah,
    normalise_code,
    region_code_from_names,
    resolve_region_code,
    timezone_for_code,
)
from ntpd_map.geo.mirror import UPSTREAMS, DataSource, sha256_of
from ntpd_map.geo.sqldump import DumpParseError, DumpParseResult, geometry_from_path, parse_sql_dump, repair_polygon

if TYPE_CHECKING:
    import geopandas as gpd
    from shapely.geometry.base import BaseGeometry

log = logging.getLogger(__name__)

# Provinsi whose desa/kelurahan polygons exist at the pinned wilayah_boundaries commit (db/kel/<PP>/).
KEL_PROVINCES = frozenset({"35", "53", "74"})
CACHE_FORMAT = 1
CRS = "EPSG:4326"

PENDUDUK_SQL = "wilayah/db/wilayah_penduduk.sql"
LUAS_SQL = "wilayah/db/wilayah_luas.sql"


# --------------------------------------------------------------------------------------------- region


@dataclass
class Region:
    """One region's layers (GeoDataFrames in EPSG:4326) and what was wrong in the data they came from.

    - ``kabkota``: kode, nama, kode_prov, population, area_km2, geometry_source
      ("kecamatan_dissolved" | "upstream_kabkota"), geometry (MultiPolygon)
    - ``kecamatan``: kode, nama, kode_kab, desa_count, geometry_source ("desa_dissolved" |
      "upstream_kecamatan"; "desa_dissolved_partial" | "missing" only if upstream lacks the kecamatan)
    - ``desa``: kode, nama, kode_kec, kode_kab, kind ("desa" | "kelurahan"), has_polygon, geometry_source
      ("upstream_desa": MultiPolygon; "upstream_centroid": upstream lat/lng Point, path unusable;
      "kecamatan_point": no upstream row, a Point inside its kecamatan), geometry
    """

    code: str
    name: str
    level: str
    kabkota: gpd.GeoDataFrame
    kecamatan: gpd.GeoDataFrame
    desa: gpd.GeoDataFrame
    parse_errors: list[DumpParseError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def timezone(self) -> str:
        return timezone_for_code(self.code)

    def summary(self) -> dict[str, Any]:
        """Counts for logs, the health page and tests."""
        desa = self.desa
        missing = desa.loc[~desa["has_polygon"].astype(bool), ["kode", "nama"]]
        sources = self.kecamatan["geometry_source"]
        return {
            "code": self.code,
            "name": self.name,
            "level": self.level,
            "kecamatan": len(self.kecamatan),
            "desa": len(desa),
            "desa_with_polygon": int(desa["has_polygon"].astype(bool).sum()),
            "desa_without_polygon": [
                {"kode": str(k), "nama": str(n)} for k, n in missing.itertuples(index=False)
            ],
            "kecamatan_from_desa": int((sources == "desa_dissolved").sum()),
            "kecamatan_upstream": int((sources == "upstream_kecamatan").sum()),
            "parse_errors": len(self.parse_errors),
        }


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        out = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


@dataclass
class _Upstream:
    """Rows of one boundary dump, for the codes of the region only."""

    relpath: str
    rows: dict[str, tuple[Any, ...]]
    lines: dict[str, int]
    others: list[str]  # codes in the dump that were not asked for


class _Builder:
    def __init__(self, source: DataSource) -> None:
        self.source = source
        self.errors: list[DumpParseError] = []
        self.notes: list[str] = []

    def parse(self, relpath: str) -> DumpParseResult:
        result = parse_sql_dump(self.source.read(relpath), source=relpath)
        self.errors.extend(result.errors)
        return result

    def boundary_rows(self, relpath: str, wanted: Iterable[str]) -> _Upstream:
        wanted_set = set(wanted)
        rows: dict[str, tuple[Any, ...]] = {}
        lines: dict[str, int] = {}
        others: list[str] = []
        result = self.parse(relpath)
        for row, line in zip(result.rows, result.lines, strict=True):
            if len(row) != 5 or not isinstance(row[0], str):
                self.errors.append(
                    DumpParseError(
                        line, f"expected (kode, nama, lat, lng, path), got {len(row)} values", relpath
                    )
                )
                continue
            kode = row[0].strip()
            if kode in wanted_set:
                if kode in rows:
                    self.notes.append(f"{relpath} line {line}: {kode} appears twice; the later row is used")
                rows[kode] = row
                lines[kode] = line
            else:
                others.append(kode)
        return _Upstream(relpath, rows, lines, others)

    def note_strays(
        self, up: _Upstream, prefixes: Iterable[str], dots: int, names: Mapping[str, str]
    ) -> None:
        """Note upstream rows of the region that wilayah.sql does not list (renamed or retired codes)."""
        starts = tuple(p + "." for p in prefixes)
        stray = sorted(
            c for c in up.others if c.startswith(starts) and c.count(".") == dots and c not in names
        )
        if stray:
            self.notes.append(
                f"{up.relpath}: {len(stray)} row(s) with codes not in wilayah.sql, ignored: "
                f"{', '.join(stray[:10])}{' ...' if len(stray) > 10 else ''}"
            )

    def shapes(self, up: _Upstream) -> tuple[dict[str, BaseGeometry], dict[str, tuple[float, float]]]:
        """Polygons by code, and the upstream centroid (lng, lat) of every row whose polygon is unusable."""
        polys: dict[str, BaseGeometry] = {}
        points: dict[str, tuple[float, float]] = {}
        for kode, row in up.rows.items():
            try:
                polys[kode] = geometry_from_path(row[4] if isinstance(row[4], str) else "")
            except ValueError as exc:
                self.errors.append(DumpParseError(up.lines[kode], f"{kode} {row[1]}: {exc}", up.relpath))
                lat, lng = _float(row[2]), _float(row[3])
                if lat is not None and lng is not None and abs(lat) <= 90 and abs(lng) <= 180:
                    points[kode] = (lng, lat)
        return polys, points


def _empty_or(geom: BaseGeometry | None) -> BaseGeometry | None:
    return None if geom is None or geom.is_empty else geom


def as_multipolygon(geom: BaseGeometry | None) -> BaseGeometry | None:
    """Polygons as MultiPolygon, so a layer has one geometry type and survives a GeoPackage round trip."""
    from shapely.geometry import MultiPolygon, Polygon

    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    return geom


class _GapFiller:
    """Dissolves polygons and fills the holes that are gaps between them rather than enclaves.

    Upstream desa polygons do not tile exactly: a dissolved kecamatan of Jawa Timur has ~35 sliver holes
    (median ~200 m2) where no desa is. A hole is kept only when the polygons of other units (``neighbours``,
    by code) cover at least half of it, i.e. when it is a real enclave (Kota Malang inside Kab. Malang).
    """

    def __init__(self, neighbours: Mapping[str, BaseGeometry]) -> None:
        import numpy as np
        import shapely

        self.codes = np.array(list(neighbours), dtype=object)
        self.geoms = np.array(list(neighbours.values()), dtype=object)
        self.tree = shapely.STRtree(self.geoms)

    def dissolve(self, geoms: Sequence[BaseGeometry], owner: str) -> BaseGeometry | None:
        import numpy as np
        import shapely


        merged = repair_polygon(shapely.union_all(list(geoms)))
        if merged is None:
            return None
        polys = list(shapely.get_parts(merged))
        holes = [(i, ring) for i, poly in enumerate(polys) for ring in poly.interiors]
        if not holes:
            return as_multipolygon(merged)
        hole_polys = shapely.polygons([ring for _, ring in holes])
        left, right = self.tree.query(hole_polys, predicate="intersects")
        # Polygons of another unit: neither the owner itself nor below it.
        inside = owner + "."
        other = np.array(
            [c != owner and not str(c).startswith(inside) for c in self.codes[right]], dtype=bool
        )
        left, right = left[other], right[other]
        covered = np.bincount(
            left,
            weights=shapely.area(shapely.intersection(hole_polys[left], self.geoms[right])),
            minlength=len(hole_polys),
        )
        keep = covered >= 0.5 * shapely.area(hole_polys)
        kept: dict[int, list[Any]] = {i: [] for i in range(len(polys))}
        for (i, ring), k in zip(holes, keep, strict=True):
            if k:
                kept[i].append(ring)
        filled = [shapely.Polygon(poly.exterior, kept[i]) for i, poly in enumerate(polys)]
        return as_multipolygon(repair_polygon(shapely.MultiPolygon(filled)))


def build_region(
    code: str,
    *,
    search_dirs: Sequence[str | Path],
    cache_dir: str | Path | None,
    allow_download: bool = True,
) -> Region:
    """Build a provinsi ("35") or kab/kota ("53.03", or its exact name) from the upstream dumps.

    Writes the GeoPackage cache into ``cache_dir`` (when given); ``load_region`` reuses it.
    Raises UnknownRegion for an unknown code and MirrorNotFound when a dump can be found nowhere.
    """
    started = time.perf_counter()
    source = DataSource(search_dirs, cache_dir, allow_download)
    region = _build(code, source)
    region.source["build_seconds"] = round(time.perf_counter() - started, 3)
    if cache_dir is not None:
        try:
            write_region_cache(region, cache_dir)
        except OSError as exc:
            # A read-only data folder must not stop the dashboard; the region is rebuilt next start.
            log.warning("could not cache region %s in %s: %s", region.code, cache_dir, exc)
    return region


def _build(code_or_name: str, source: DataSource) -> Region:
    """The region from the upstream dumps, step by step; what was wrong or guessed ends in errors and notes.

    The steps run in the order the dumps are read, which is the order of the parse errors, of the notes and of
    ``source["paths"]`` in the cache sidecar: reordering them changes the cache files.
    """
    b = _Builder(source)
    codes = _region_codes(code_or_name, b)
    population, area = _kabkota_figures(b, codes)
    province_kab_poly, kec_poly = _upstream_kabkota_and_kecamatan(b, codes)
    desa_poly, desa_point = _upstream_desa(b, codes)
    kec_filler, kab_filler = _gap_fillers(province_kab_poly, desa_poly)
    kecamatan = _kecamatan_layer(codes, desa_poly, kec_poly, kec_filler, b.notes)
    kabkota = _kabkota_layer(codes, province_kab_poly, kecamatan, population, area, kab_filler, b.notes)
    desa = _desa_layer(codes, desa_poly, desa_point, kecamatan, kabkota)
    return Region(
        codes.code,
        codes.names[codes.code],
        codes.level,
        kabkota,
        kecamatan,
        desa,
        b.errors,
        b.notes,
        _region_source(source),
    )


@dataclass(frozen=True)
class _RegionCodes:
    """The region's code and the codes of its kab/kota, kecamatan and desa, with every name by code."""

    code: str
    level: str
    names: Mapping[str, str]
    kab_codes: list[str]
    kec_codes: list[str]
    desa_codes: list[str]

    @property
    def prov(self) -> str:
        return self.code[:2]

    @functools.cached_property
    def kab_set(self) -> frozenset[str]:
        return frozenset(self.kab_codes)


def _codes_under(names: Mapping[str, str], prefix: str, dots: int) -> list[str]:
    """The codes below ``prefix`` at one level (``dots`` dots: 1 kab/kota, 2 kecamatan, 3 desa), sorted."""
    return sorted(c for c in names if c.count(".") == dots and c.startswith(prefix + "."))


def _region_codes(code_or_name: str, b: _Builder) -> _RegionCodes:
    """Resolve the region and list what it holds, from wilayah.sql.

    wilayah.sql is the list of record: a unit is in the region when wilayah.sql lists it, whether or not the
    boundary dumps have a row for it (they miss some desa and hold some retired codes). Raises UnknownRegion.
    """
    names, name_errors = names_and_errors_from_wilayah(b.source)
    code = region_code_from_names(code_or_name, names)
    level = code_level(code)
    prov = code[:2]
    b.errors.extend(name_errors)
    kab_codes = [code] if level == "kabkota" else _codes_under(names, code, 1)
    kab_set = set(kab_codes)
    kec_codes = [c for c in _codes_under(names, prov, 2) if c[:5] in kab_set]
    desa_codes = [c for c in _codes_under(names, prov, 3) if c[:5] in kab_set]
    return _RegionCodes(code, level, names, kab_codes, kec_codes, desa_codes)


def _kabkota_figures(b: _Builder, codes: _RegionCodes) -> tuple[dict[str, int], dict[str, float]]:
    """Population (total) and area (km2) by kab/kota code; rows without a readable number are left out.

    These dumps go no lower than kab/kota, so the kecamatan and desa layers carry no population.
    """
    population: dict[str, int] = {}
    for row in b.parse(PENDUDUK_SQL).rows:
        if len(row) == 5 and str(row[0]) in codes.kab_set and (total := _int(row[4])) is not None:
            population[str(row[0])] = total
    area: dict[str, float] = {}
    for row in b.parse(LUAS_SQL).rows:
        if len(row) == 3 and str(row[0]) in codes.kab_set and (luas := _float(row[2])) is not None:
            area[str(row[0])] = luas
    return population, area


def _upstream_kabkota_and_kecamatan(
    b: _Builder, codes: _RegionCodes
) -> tuple[dict[str, BaseGeometry], dict[str, BaseGeometry]]:
    """The upstream polygons of every kab/kota of the provinsi (as given) and of the region's kecamatan.

    Every kab/kota of the provinsi, not only the region's: the neighbours tell an enclave from a gap when the
    kab/kota is dissolved from its kecamatan (``_gap_fillers``). The kecamatan come as MultiPolygon.
    """
    prov = codes.prov
    kab_up = b.boundary_rows(
        f"wilayah_boundaries/db/kab/wilayah_boundaries_kab_{prov}.sql", _codes_under(codes.names, prov, 1)
    )
    kec_up = b.boundary_rows(f"wilayah_boundaries/db/kec/wilayah_boundaries_kec_{prov}.sql", codes.kec_codes)
    b.note_strays(kab_up, [prov], 1, codes.names)
    b.note_strays(kec_up, codes.kab_codes, 2, codes.names)
    province_kab_poly, _ = b.shapes(kab_up)
    kec_poly, _ = b.shapes(kec_up)
    return province_kab_poly, {k: as_multipolygon(g) for k, g in kec_poly.items()}


def _upstream_desa(
    b: _Builder, codes: _RegionCodes
) -> tuple[dict[str, BaseGeometry], dict[str, tuple[float, float]]]:
    """The region's desa polygons (MultiPolygon) and the centroids (lng, lat) of desa whose polygon is unusable.

    Only the provinsi of ``KEL_PROVINCES`` have desa polygons upstream (one dump per kab/kota); elsewhere
    both are empty and every desa becomes a point inside its kecamatan (``_desa_layer``).
    """
    desa_poly: dict[str, BaseGeometry] = {}
    desa_point: dict[str, tuple[float, float]] = {}
    if codes.prov in KEL_PROVINCES:
        desa_set = set(codes.desa_codes)
        for kab in codes.kab_codes:
            relpath = f"wilayah_boundaries/db/kel/{codes.prov}/wilayah_boundaries_kel_{kab}.sql"
            up = b.boundary_rows(relpath, desa_set)
            b.note_strays(up, [kab], 3, codes.names)
            polys, points = b.shapes(up)
            desa_poly.update(polys)
            desa_point.update(points)
    return {k: as_multipolygon(g) for k, g in desa_poly.items()}, desa_point


def _gap_fillers(
    province_kab_poly: Mapping[str, BaseGeometry], desa_poly: Mapping[str, BaseGeometry]
) -> tuple[_GapFiller, _GapFiller]:
    """The gap fillers for dissolving kecamatan (from desa) and kab/kota (from kecamatan).

    A hole in a dissolved kecamatan is an enclave when other desa cover it; a hole in a dissolved kab/kota
    when another kab/kota of the provinsi or other desa do. Without desa polygons nothing is dissolved from
    desa and both are the same empty filler: the kab/kota fall-back dissolve (no upstream kab/kota polygon)
    then fills every hole.
    """
    kec_filler = _GapFiller(desa_poly)
    kab_filler = _GapFiller({**province_kab_poly, **desa_poly}) if desa_poly else kec_filler
    return kec_filler, kab_filler


def _kecamatan_layer(
    codes: _RegionCodes,
    desa_poly: Mapping[str, BaseGeometry],
    kec_poly: Mapping[str, BaseGeometry],
    filler: _GapFiller,
    notes: list[str],
) -> gpd.GeoDataFrame:
    """Each kecamatan as the dissolve of its desa when all of them have polygons, else the upstream polygon.

    The desa are finer than the simplified upstream kecamatan, and a dissolve shares their edges. Without an
    upstream polygon the desa that have one are dissolved ("desa_dissolved_partial"), else the kecamatan has
    no geometry ("missing"); both are noted in ``notes``.
    """
    import geopandas as gpd

    names = codes.names
    desa_by_kec: dict[str, list[str]] = {k: [] for k in codes.kec_codes}
    for d in codes.desa_codes:
        desa_by_kec.setdefault(d[:8], []).append(d)
    kec_rows = []
    for k in codes.kec_codes:
        members = desa_by_kec.get(k, [])
        geom: BaseGeometry | None = None
        if members and all(d in desa_poly for d in members):
            geom, how = filler.dissolve([desa_poly[d] for d in members], k), "desa_dissolved"
        if geom is None and k in kec_poly:
            geom, how = kec_poly[k], "upstream_kecamatan"
        if geom is None and any(d in desa_poly for d in members):
            parts = [desa_poly[d] for d in members if d in desa_poly]
            geom, how = filler.dissolve(parts, k), "desa_dissolved_partial"
            notes.append(f"kecamatan {k} {names[k]}: no upstream polygon; dissolved from the desa that have one")
        if geom is None:
            how = "missing"
            notes.append(f"kecamatan {k} {names[k]}: no polygon upstream at all")
        kec_rows.append(
            {
                "kode": k,
                "nama": names[k],
                "kode_kab": k[:5],
                "desa_count": len(members),
                "geometry_source": how,
                "geometry": geom,
            }
        )
    kecamatan = gpd.GeoDataFrame(
        kec_rows,
        columns=["kode", "nama", "kode_kab", "desa_count", "geometry_source", "geometry"],
        geometry="geometry",
        crs=CRS,
    )
    kecamatan["desa_count"] = kecamatan["desa_count"].astype("int64")
    return kecamatan


def _kabkota_layer(
    codes: _RegionCodes,
    province_kab_poly: Mapping[str, BaseGeometry],
    kecamatan: gpd.GeoDataFrame,
    population: Mapping[str, int],
    area: Mapping[str, float],
    filler: _GapFiller,
    notes: list[str],
) -> gpd.GeoDataFrame:
    """Each kab/kota as the dissolve of its kecamatan when they all come from desa, else the upstream polygon.

    Dissolved, the kab/kota has the same edges as the desa and kecamatan layers. Of ``province_kab_poly`` (the
    provinsi's upstream kab/kota) only the region's are used. Without an upstream polygon the kecamatan that
    have a geometry are dissolved, else the kab/kota is "missing"; a kab/kota without population gets 0. Both
    are noted in ``notes``.
    """
    import geopandas as gpd

    names = codes.names
    kab_poly = {k: as_multipolygon(g) for k, g in province_kab_poly.items() if k in codes.kab_set}
    kec_geom = dict(zip(kecamatan["kode"], kecamatan.geometry, strict=True))
    kec_how = dict(zip(kecamatan["kode"], kecamatan["geometry_source"], strict=True))
    kab_rows = []
    for kab in codes.kab_codes:
        members = [k for k in codes.kec_codes if k[:5] == kab]
        geom: BaseGeometry | None = None
        if members and all(kec_how[k] == "desa_dissolved" for k in members):
            geom, how = filler.dissolve([kec_geom[k] for k in members], kab), "kecamatan_dissolved"
        if geom is None and kab in kab_poly:
            geom, how = kab_poly[kab], "upstream_kabkota"
        if geom is None:
            parts = [kec_geom[k] for k in members if _empty_or(kec_geom[k]) is not None]
            geom, how = (filler.dissolve(parts, kab), "kecamatan_dissolved") if parts else (None, "missing")
            notes.append(f"kab/kota {kab} {names[kab]}: no upstream polygon; {how}")
        if kab not in population:
            notes.append(f"kab/kota {kab} {names[kab]}: no population in wilayah_penduduk.sql (0 used)")
        kab_rows.append(
            {
                "kode": kab,
                "nama": names[kab],
                "kode_prov": codes.prov,
                "population": population.get(kab, 0),
                "area_km2": area.get(kab, math.nan),
                "geometry_source": how,
                "geometry": geom,
            }
        )
    kabkota = gpd.GeoDataFrame(
        kab_rows,
        columns=["kode", "nama", "kode_prov", "population", "area_km2", "geometry_source", "geometry"],
        geometry="geometry",
        crs=CRS,
    )
    kabkota["population"] = kabkota["population"].astype("int64")
    kabkota["area_km2"] = kabkota["area_km2"].astype("float64")
    return kabkota


def _desa_layer(
    codes: _RegionCodes,
    desa_poly: Mapping[str, BaseGeometry],
    desa_point: Mapping[str, tuple[float, float]],
    kecamatan: gpd.GeoDataFrame,
    kabkota: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    """Every desa of wilayah.sql: its upstream polygon, else the upstream centroid, else a point in its area.

    A desa without any upstream row still counts (calls are attributed to it), so it is placed at a point
    surely inside its kecamatan (or kab/kota), and ``geometry_source`` says so.
    """
    import geopandas as gpd
    from shapely.geometry import Point

    kec_geom = dict(zip(kecamatan["kode"], kecamatan.geometry, strict=True))
    kab_geom = dict(zip(kabkota["kode"], kabkota.geometry, strict=True))
    desa_rows = []
    for d in codes.desa_codes:
        geom: BaseGeometry | None
        if d in desa_poly:
            geom, how = desa_poly[d], "upstream_desa"
        elif d in desa_point:
            geom, how = Point(desa_point[d]), "upstream_centroid"
        else:
            area_geom = _empty_or(kec_geom.get(d[:8])) or _empty_or(kab_geom.get(d[:5]))
            geom = area_geom.representative_point() if area_geom is not None else None
            how = "kecamatan_point"
        desa_rows.append(
            {
                "kode": d,
                "nama": codes.names[d],
                "kode_kec": d[:8],
                "kode_kab": d[:5],
                "kind": desa_kind(d),
                "has_polygon": how == "upstream_desa",
                "geometry_source": how,
                "geometry": geom,
            }
        )
    desa = gpd.GeoDataFrame(
        desa_rows,
        columns=["kode", "nama", "kode_kec", "kode_kab", "kind", "has_polygon", "geometry_source", "geometry"],
        geometry="geometry",
        crs=CRS,
    )
    desa["has_polygon"] = desa["has_polygon"].astype(bool)
    return desa


def _region_source(source: DataSource) -> dict[str, Any]:
    """Where the region came from: the pinned upstream commits, each file read (path and sha256), and when.

    ``_cache_is_fresh`` compares these with the files found at the next start.
    """
    used = {rel: str(path) for rel, path in source.used.items()}
    return {
        "upstream": {u.folder: {"repo": u.repo, "commit": u.commit} for u in UPSTREAMS.values()},
        "files": source.fingerprint(),
        "paths": used,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# --------------------------------------------------------------------------------------------- cache

_LAYERS = ("kabkota", "kecamatan", "desa")


def cache_paths(code: str, cache_dir: str | Path) -> tuple[Path, Path]:
    """The GeoPackage and its JSON sidecar for a region code."""
    # Not Path.with_suffix: "region_53.03" would lose its ".03".
    stem = f"region_{normalise_code(code)}"
    return Path(cache_dir) / f"{stem}.gpkg", Path(cache_dir) / f"{stem}.json"


def write_region_cache(region: Region, cache_dir: str | Path) -> Path:
    """Write ``region_<code>.gpkg`` (layers kabkota, kecamatan, desa) and its JSON sidecar atomically."""
    gpkg, sidecar = cache_paths(region.code, cache_dir)
    gpkg.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=gpkg.parent, prefix=f".{gpkg.stem}.", suffix=".gpkg")
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        for layer in _LAYERS:
            frame: gpd.GeoDataFrame = getattr(region, layer)
            # The desa layer mixes polygons and points, so its geometry type is left generic.
            frame.to_file(
                tmp,
                layer=layer,
                driver="GPKG",
                engine="pyogrio",
                geometry_type="Unknown",
                promote_to_multi=False,
            )
        os.replace(tmp, gpkg)
    finally:
        tmp.unlink(missing_ok=True)
    meta = {
        "format": CACHE_FORMAT,
        "code": region.code,
        "name": region.name,
        "level": region.level,
        "summary": region.summary(),
        "source": region.source,
        "parse_errors": [dataclasses.asdict(e) for e in region.parse_errors],
        "notes": region.notes,
    }
    tmp_side = sidecar.with_name(f".{sidecar.name}.part")
    tmp_side.write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp_side, sidecar)
    return gpkg


def _cache_is_fresh(meta: Mapping[str, Any], source: DataSource) -> str | None:
    """None when the cache may be used, else why not."""
    if meta.get("format") != CACHE_FORMAT:
        return f"cache format {meta.get('format')} is not {CACHE_FORMAT}"
    pinned = {u.folder: {"repo": u.repo, "commit": u.commit} for u in UPSTREAMS.values()}
    src = meta.get("source", {})
    if src.get("upstream") != pinned:
        return "built from other upstream commits"
    for relpath, digest in src.get("files", {}).items():
        path = source.locate(relpath)
        # A file that is nowhere locally cannot have changed: it was read at the pinned commit.
        if path is not None and sha256_of(path) != digest:
            return f"{relpath} changed since the cache was built"
    return None


def read_region_cache(code: str, cache_dir: str | Path) -> Region:
    """The region cached by ``write_region_cache`` (no freshness check)."""
    import geopandas as gpd

    gpkg, sidecar = cache_paths(code, cache_dir)
    meta = json.loads(sidecar.read_text(encoding="utf-8"))
    frames = {layer: gpd.read_file(gpkg, layer=layer, engine="pyogrio") for layer in _LAYERS}
    frames["desa"]["has_polygon"] = frames["desa"]["has_polygon"].astype(bool)
    errors = [DumpParseError(**e) for e in meta.get("parse_errors", [])]
    return Region(
        meta["code"],
        meta["name"],
        meta["level"],
        frames["kabkota"],
        frames["kecamatan"],
        frames["desa"],
        errors,
        list(meta.get("notes", [])),
        dict(meta.get("source", {})),
    )


def load_region(
    code: str,
    *,
    search_dirs: Sequence[str | Path],
    cache_dir: str | Path | None,
    allow_download: bool = True,
    rebuild: bool = False,
) -> Region:
    """The cached region when present and built from the same source files, else ``build_region``."""
    if cache_dir is not None and not rebuild:
        source = DataSource(search_dirs, cache_dir, allow_download=False)
        try:
            resolved = normalise_code(code)
        except ValueError:
            resolved = resolve_region_code(
                code, search_dirs=search_dirs, cache_dir=cache_dir, allow_download=allow_download
            )
        gpkg, sidecar = cache_paths(resolved, cache_dir)
        if gpkg.is_file() and sidecar.is_file():
            try:
                meta = json.loads(sidecar.read_text(encoding="utf-8"))
                stale = _cache_is_fresh(meta, source)
                if stale is None:
                    return read_region_cache(resolved, cache_dir)
                log.info("rebuilding region %s: %s", resolved, stale)
            except Exception as exc:  # a damaged cache (any GDAL or JSON error) must only cost a rebuild
                log.warning("region cache %s is unreadable (%s); rebuilding", gpkg, exc)
    return build_region(code, search_dirs=search_dirs, cache_dir=cache_dir, allow_download=allow_download)
