"""Boundaries a center brings itself (GeoPackage, GeoJSON, Shapefile), shaped like the upstream layers."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ntpd_map.geo.boundaries import CRS, as_multipolygon
from ntpd_map.geo.codes import code_level, desa_kind, normalise_code
from ntpd_map.geo.sqldump import repair_polygon

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

_LEVEL_ALIASES = {
    "provinsi": "provinsi",
    "prov": "provinsi",
    "province": "provinsi",
    "kabkota": "kabkota",
    "kab/kota": "kabkota",
    "kab": "kabkota",
    "kota": "kabkota",
    "kabupaten": "kabkota",
    "kecamatan": "kecamatan",
    "kec": "kecamatan",
    "desa": "desa",
    "kelurahan": "desa",
    "kel": "desa",
    "desa/kelurahan": "desa",
}
_PARENTS = {
    "provinsi": (),
    "kabkota": ("kode_prov",),
    "kecamatan": ("kode_kab",),
    "desa": ("kode_kec", "kode_kab"),
}
_PARENT_LEN = {"kode_prov": 2, "kode_kab": 5, "kode_kec": 8}
_MAX_LISTED = 10


def _code_text(value: Any) -> str:
    """A code cell as text: integer-valued floats (5303062001.0, from spreadsheets) lose their ".0"."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _fail(path: Path, problems: list[str]) -> ValueError:
    more = f" (and {len(problems) - _MAX_LISTED} more)" if len(problems) > _MAX_LISTED else ""
    listed = "\n  ".join(problems[:_MAX_LISTED])
    return ValueError(f"{path}: {len(problems)} problem(s){more}:\n  {listed}")


def boundaries_from_user_file(
    path: str | Path,
    *,
    level: str,
    code_column: str,
    name_column: str,
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    """Read a boundary file into columns kode, nama, parent codes and geometry (EPSG:4326, valid polygons).

    ``level`` is provinsi, kabkota, kecamatan or desa; codes may be dotted or undotted ("5303062001" becomes
    "53.03.06.2001"). Features sharing a code are dissolved into one. Raises ValueError naming the available
    columns or layers, or listing the rows that are wrong.
    """
    import geopandas as gpd
    import pyogrio
    import shapely


    path = Path(path)
    want = _LEVEL_ALIASES.get(level.strip().lower())
    if want is None:
        raise ValueError(f"level {level!r} is not one of provinsi, kabkota, kecamatan, desa")
    if not path.exists():
        raise ValueError(f"{path}: no such file")
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends, not one base class
        raise ValueError(
            f"{path}: not a file GDAL can read as GeoPackage, GeoJSON or Shapefile ({exc})"
        ) from None
    if layer is None and len(layers) > 1:
        names = ", ".join(str(row[0]) for row in layers)
        raise ValueError(f"{path} holds {len(layers)} layers ({names}); pass layer= to choose one")
    frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    missing = [c for c in (code_column, name_column) if c not in frame.columns]
    if missing:
        available = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name)
        raise ValueError(f"{path}: no column {', '.join(map(repr, missing))}; the file has: {available}")

    if frame.crs is None:
        # GeoJSON is lon/lat by definition (RFC 7946); for other files only accept coordinates that fit.
        minx, miny, maxx, maxy = frame.total_bounds if len(frame) else (0.0, 0.0, 0.0, 0.0)
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise ValueError(
                f"{path} has no coordinate reference system and its coordinates are not lon/lat; "
                "add the .prj file (Shapefile) or save it with its CRS"
            )
        frame = frame.set_crs(CRS)
    elif not frame.crs.equals(CRS):
        frame = frame.to_crs(CRS)

    problems: list[str] = []
    rows: dict[str, dict[str, Any]] = {}
    for i, (raw_code, raw_name, geom) in enumerate(
        zip(frame[code_column], frame[name_column], frame.geometry, strict=True), start=1
    ):
        where = f"feature {i}"
        if raw_code is None or (isinstance(raw_code, float) and math.isnan(raw_code)):
            problems.append(f"{where}: {code_column} is empty")
            continue
        try:
            code = normalise_code(_code_text(raw_code))
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if code_level(code) != want:
            problems.append(f"{where}: {code} is a {code_level(code)} code, but level={want}")
            continue
        if geom is None or geom.is_empty:
            problems.append(f"{where} ({code}): no geometry")
            continue
        poly = repair_polygon(geom)
        if poly is None:
            problems.append(f"{where} ({code}): geometry is {geom.geom_type}; boundaries must be polygons")
            continue
        name = "" if raw_name is None else str(raw_name).strip()
        if code in rows:
            # Multi-part areas are often stored as one feature per part: dissolve them.
            rows[code]["parts"].append(poly)
        else:
            rows[code] = {"nama": name, "parts": [poly]}
    if problems:
        raise _fail(path, problems)
    if not rows:
        raise ValueError(f"{path}: no features")

    records = []
    for code, row in rows.items():
        parts = row["parts"]
        geom = parts[0] if len(parts) == 1 else repair_polygon(shapely.union_all(parts))
        record: dict[str, Any] = {"kode": code, "nama": row["nama"]}
        for parent in _PARENTS[want]:
            record[parent] = code[: _PARENT_LEN[parent]]
        if want == "desa":
            record["kind"] = desa_kind(code)
        record["geometry"] = as_multipolygon(geom)
        records.append(record)
    columns = ["kode", "nama", *_PARENTS[want], *(["kind"] if want == "desa" else []), "geometry"]
    out = gpd.GeoDataFrame(records, columns=columns, geometry="geometry", crs=CRS)
    log.info("%s: %d %s boundaries read", path, len(out), want)
    return out
