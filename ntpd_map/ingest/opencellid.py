"""Known cell towers from an OpenCelliD export (issue 7): where BTS already stand, and how far they reach.

OpenCelliD's cell export (CSV, often gzipped: ``510.csv.gz`` is Indonesia) has the columns
``radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal``, with or without
that header row. Its data is licensed CC BY-SA 4.0 (attribution: OpenCelliD Project, opencellid.org).

- a row of another country (mcc other than 510) is skipped and counted;
- a row whose range disc (its ``range``, else the default range) does not reach the region is skipped and
  counted as outside the region; a tower just across the border whose range reaches in is kept (it serves desa
  inside) and counted as ``kept_beyond_border``;
- anything else unusable is rejected with its line number (line 1 is the header when there is one) and a reason
  naming the column and value: a row with the wrong number of fields, a missing or unknown radio, a cell key
  (mcc, net, area, cell) that is not a whole number, coordinates that are not numbers or out of range, a range,
  sample count or update time that is not a number;
- ``range`` 0 or empty means unknown (the tower gets the default range where one is needed).

Towers are keyed like OpenCelliD's cells (source, radio, mcc, net, area, cell), so importing the same file again
changes nothing and a newer export updates the towers it shares with the old one.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ntpd_map.domain import Tower
from ntpd_map.geo.coverage import metric_crs, tower_ranges_m

if TYPE_CHECKING:
    from ntpd_map.geo.boundaries import Region

COLUMNS = ("radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples", "changeable",
           "created", "updated", "averageSignal")
REQUIRED = ("radio", "mcc", "net", "area", "cell", "lon", "lat")
RADIOS = ("GSM", "UMTS", "LTE", "NR", "CDMA")
INDONESIA_MCC = 510
SOURCE = "opencellid"
LICENSE = "OpenCelliD Project (opencellid.org), CC BY-SA 4.0"
#: Towers are first filtered by the region's bounding box grown by this much (degrees), then by distance.
_BBOX_MARGIN_DEG = 0.5


class ParsedTowers(NamedTuple):
    towers: list[Tower]
    rejects: list[dict[str, Any]]  # row_number, code, reason, original
    rows: int  # data rows read (blank lines not counted)
    skipped_other_mcc: int
    skipped_outside_region: int
    kept_beyond_border: int  # outside the region's polygons, but their range reaches it
    without_range: int  # kept towers that will get the default range


def _open_text(path: Path) -> io.TextIOBase:
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return io.TextIOWrapper(path.open("rb"), encoding="utf-8-sig", newline="")


def rows_from_file(path: str | Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """(column names, iterator of (line number, fields)) of an OpenCelliD CSV, gzipped or not. The header row is
    used when there is one (its first cell is "radio"), else the standard 14 columns are assumed."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    text = _open_text(path)
    reader = csv.reader(text)
    try:
        first = next(reader)
    except StopIteration:
        text.close()
        raise ValueError(f"{path.name}: the file is empty") from None
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        text.close()
        raise ValueError(f"{path.name}: is not an OpenCelliD CSV (UTF-8 text, optionally gzipped): {exc}") from None
    header = [c.strip() for c in first]
    has_header = bool(header) and header[0].casefold() == "radio"
    if has_header:
        folded = [h.casefold() for h in header]
        missing = [c for c in REQUIRED if c.casefold() not in folded]
        if missing:
            text.close()
            raise ValueError(f"{path.name}: the header has no column {', '.join(missing)}; an OpenCelliD export has "
                             f"{','.join(COLUMNS)}")
        names = [next((c for c in COLUMNS if c.casefold() == h), h) for h in folded]
    else:
        names = list(COLUMNS)

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            if not has_header:
                yield 1, first
            line = reader.line_num
            for fields in reader:
                yield line + 1, fields
                line = reader.line_num
        except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, csv.Error) as exc:
            raise ValueError(f"{path.name}: cannot be read past line {reader.line_num}: {exc}") from None
        finally:
            text.close()

    return names, rows()


def _int(text: str) -> int | None:
    t = text.strip()
    if t.lstrip("-").isdigit():
        return int(t)
    try:
        value = float(t)
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


def _float(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def towers_from_rows(names: list[str], rows: Iterator[tuple[int, list[str]]], region: Region, *,
                     default_range_m: float, source: str = SOURCE) -> ParsedTowers:
    """Towers of the region (and just across its border) from OpenCelliD rows; see the module docstring."""
    n_cols = len(names)
    kept: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    other_mcc = far = total = 0
    # a national export holds millions of cells: those far outside the region's box are dropped at once
    minx, miny, maxx, maxy = region.kecamatan.total_bounds
    minx, miny, maxx, maxy = (minx - _BBOX_MARGIN_DEG, miny - _BBOX_MARGIN_DEG, maxx + _BBOX_MARGIN_DEG,
                              maxy + _BBOX_MARGIN_DEG)
    for line, fields in rows:
        if not fields or all(not f.strip() for f in fields):
            continue
        total += 1
        if len(fields) != n_cols and not (n_cols == len(COLUMNS) and len(fields) == n_cols - 1):
            rejects.append(_reject(line, "fields", f"line {line}: has {len(fields)} fields, an OpenCelliD row has "
                                   f"{n_cols} ({','.join(names)})", dict(zip(names, fields, strict=False))))
            continue
        row = dict(zip(names, fields, strict=False))
        problems: list[tuple[str, str]] = []
        mcc = _int(row.get("mcc", ""))
        if mcc is None:
            problems.append(("mcc_invalid", f"mcc {_q(row.get('mcc'))} is not a whole number"))
        elif mcc != INDONESIA_MCC:
            other_mcc += 1
            continue
        radio = row.get("radio", "").strip().upper()
        if not radio:
            problems.append(("radio_missing", "radio is missing"))
        elif radio not in RADIOS:
            problems.append(("radio_invalid", f"radio {_q(row['radio'])} is not one of {', '.join(RADIOS)}"))
        values: dict[str, Any] = {}
        for key in ("net", "area", "cell"):
            v = _int(row.get(key, ""))
            if v is None or v < 0:
                problems.append((f"{key}_invalid", f"{key} {_q(row.get(key))} is not a whole number >= 0"))
            values[key] = v
        lat, lon = _float(row.get("lat", "")), _float(row.get("lon", ""))
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            problems.append(("coordinates_invalid", f"lat {_q(row.get('lat'))}, lon {_q(row.get('lon'))} are not a "
                                                    "position (lat -90..90, lon -180..180)"))
        optional: dict[str, Any] = {}
        for key, parse, minimum in (("range", _float, 0), ("samples", _int, 0), ("updated", _int, 0)):
            raw = row.get(key, "").strip()
            number: Any = parse(raw) if raw else None
            if raw and (number is None or number < minimum):
                problems.append((f"{key}_invalid", f"{key} {_q(raw)} is not a number >= {minimum}"))
            optional[key] = number
        if problems:
            rejects.append(_reject(line, problems[0][0], f"line {line}: " + "; ".join(m for _, m in problems), row))
            continue
        assert lat is not None and lon is not None
        if not (minx <= lon <= maxx and miny <= lat <= maxy):
            far += 1
            continue
        range_m = optional["range"] if optional["range"] and optional["range"] > 0 else None
        kept.append({"radio": radio, "mcc": mcc, **values, "lat": lat, "lon": lon, "range_m": range_m,
                     "samples": optional["samples"], "updated_at": optional["updated"]})

    inside, beyond = _reaching(region, kept, default_range_m)
    towers = [Tower(source=source, **v) for v, ok in zip(kept, inside | beyond, strict=True) if ok]
    return ParsedTowers(
        towers=towers, rejects=rejects, rows=total, skipped_other_mcc=other_mcc,
        skipped_outside_region=far + int((~(inside | beyond)).sum()), kept_beyond_border=int(beyond.sum()),
        without_range=sum(1 for t in towers if t.range_m is None),
    )


def _reaching(region: Region, kept: list[dict[str, Any]], default_range_m: float) -> tuple[np.ndarray, np.ndarray]:
    """(inside the region, outside but within range of it) per kept row (all near the region's box)."""
    import geopandas as gpd
    import pandas as pd
    import shapely


    n = len(kept)
    if not n:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    crs = metric_crs(region.kecamatan)
    area = shapely.union_all(region.kecamatan.to_crs(crs).geometry.to_numpy())
    lon = np.array([v["lon"] for v in kept])
    lat = np.array([v["lat"] for v in kept])
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(crs).to_numpy()
    distance = shapely.distance(pts, area)
    ranges = tower_ranges_m(pd.DataFrame({"range_m": [v["range_m"] for v in kept]}, dtype="float64"),
                            default_range_m)
    return distance <= 0, (distance > 0) & (distance <= ranges)


def _q(value: Any) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return '"' + (text if len(text) <= 40 else text[:39] + "…") + '"'


def _reject(line: int, code: str, reason: str, original: dict[str, str]) -> dict[str, Any]:
    return {"row_number": line, "code": code, "reason": reason,
            "original": {k: v for k, v in original.items() if str(v).strip()}}
