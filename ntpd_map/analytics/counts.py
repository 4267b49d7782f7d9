"""Counting a window of incidents into clipped hexagons, kecamatan, desa and kab/kota (issue 5). Pure numpy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ntpd_map.analytics.columns import CALL_TYPES, CATEGORIES

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.analytics.columns import Snapshot
    from ntpd_map.geo.boundaries import Region
    from ntpd_map.geo.hexes import HexPieces

N_TYPES = len(CALL_TYPES)
N_CATS = len(CATEGORIES)
GENUINE = CALL_TYPES.index("genuine")
MISUSE = tuple(CALL_TYPES.index(c) for c in ("prank", "ghost"))
DROPPED_GHOST = tuple(CALL_TYPES.index(c) for c in ("dropped", "ghost"))


@dataclass(frozen=True)
class WindowCounts:
    """Counts of the incidents received in [start, end). Rows of each matrix are pieces / kecamatan / desa
    (in region order), columns are CALL_TYPES (``*_type``) or CATEGORIES (``*_cat``)."""

    start: int
    end: int
    version: int
    piece_type: np.ndarray  # (pieces, types); empty when counted without pieces
    kec_type: np.ndarray  # (kecamatan, types)
    kec_cat: np.ndarray  # (kecamatan, categories)
    kec_imprecise: np.ndarray  # (kecamatan,) calls without a measured position
    desa_type: np.ndarray  # (desa, types)
    desa_imprecise: np.ndarray  # (desa,)
    unplaced_type: np.ndarray  # (types,) calls in no kecamatan of the region (outside it, or no location)

    @property
    def total(self) -> int:
        return int(self.kec_type.sum() + self.unplaced_type.sum())


def _bincount2(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    ok = (rows >= 0) & (cols >= 0)
    flat = rows[ok].astype("int64") * n_cols + cols[ok]
    return np.bincount(flat, minlength=n_rows * n_cols).reshape(n_rows, n_cols)


def count_window(snap: Snapshot, start: int, end: int, n_kec: int, n_desa: int,
                 pieces: HexPieces | None = None) -> WindowCounts:
    """Count the snapshot's incidents received in [start, end); with ``pieces``, also per clipped hexagon
    (the snapshot must hold cells at ``pieces.res``)."""
    sel = snap.window(start, end)
    kec = snap.kec[sel].astype("int64")
    desa = snap.desa[sel].astype("int64")
    ctype = snap.call_type[sel].astype("int64")
    cat = snap.category[sel].astype("int64")
    imprecise = snap.imprecise[sel]
    if pieces is not None:
        piece = pieces.assign(snap.cells[pieces.res][sel], kec, desa)
        piece_type = _bincount2(piece, ctype, len(pieces), N_TYPES)
    else:
        piece_type = np.zeros((0, N_TYPES), dtype="int64")
    unplaced = np.bincount(ctype[(kec < 0) & (ctype >= 0)], minlength=N_TYPES)
    return WindowCounts(
        start=start, end=end, version=snap.version,
        piece_type=piece_type,
        kec_type=_bincount2(kec, ctype, n_kec, N_TYPES),
        kec_cat=_bincount2(kec, cat, n_kec, N_CATS),
        kec_imprecise=np.bincount(kec[(kec >= 0) & imprecise], minlength=n_kec),
        desa_type=_bincount2(desa, ctype, n_desa, N_TYPES),
        desa_imprecise=np.bincount(desa[(desa >= 0) & imprecise], minlength=n_desa),
        unplaced_type=unplaced,
    )


def kecamatan_table(counts: WindowCounts, region: Region) -> pd.DataFrame:
    """One row per kecamatan of the region (zeros where nothing came in): kode, nama, kode_kab, a column per
    call type and per category, total."""
    import pandas as pd

    kec = region.kecamatan
    out = pd.DataFrame({"kode": kec["kode"].to_numpy(), "nama": kec["nama"].to_numpy(),
                        "kode_kab": kec["kode_kab"].to_numpy()})
    for j, name in enumerate(CALL_TYPES):
        out[name] = counts.kec_type[:, j]
    for j, name in enumerate(CATEGORIES):
        out[f"kategori_{name}"] = counts.kec_cat[:, j]
    out["total"] = counts.kec_type.sum(axis=1)
    return out


def kabkota_table(counts: WindowCounts, region: Region) -> pd.DataFrame:
    """One row per kab/kota: the sum of its kecamatan (so the two tables always agree)."""
    kec = kecamatan_table(counts, region)
    numeric = [c for c in kec.columns if c not in ("kode", "nama", "kode_kab")]
    summed = kec.groupby("kode_kab", sort=True)[numeric].sum().reset_index().rename(columns={"kode_kab": "kode"})
    names = dict(zip(region.kabkota["kode"], region.kabkota["nama"], strict=True))
    summed.insert(1, "nama", [names.get(k, k) for k in summed["kode"]])
    return summed


def hexes_geojson(counts: WindowCounts, pieces: HexPieces, names: dict[str, str], *,
                  include_empty: bool = False) -> dict[str, Any]:
    """The clipped pieces as a GeoJSON FeatureCollection, properties ``h3``, ``kode_kecamatan``, ``kecamatan``,
    a count per call type and ``total``; only pieces with calls unless ``include_empty``."""
    totals = counts.piece_type.sum(axis=1)
    keep = np.arange(len(pieces)) if include_empty else np.flatnonzero(totals > 0)
    geometries, cells = pieces.geojson_geometries, pieces.h3_strings
    kode = pieces.kode_kec[pieces.kec]
    by_type = counts.piece_type.tolist()
    features = []
    for i in keep.tolist():
        props: dict[str, Any] = {"h3": cells[i], "kode_kecamatan": str(kode[i]),
                                 "kecamatan": names.get(str(kode[i]), str(kode[i]))}
        props.update(zip(CALL_TYPES, by_type[i], strict=True))
        props["total"] = int(totals[i])
        features.append({"type": "Feature", "id": i, "properties": props, "geometry": geometries[i]})
    return {"type": "FeatureCollection", "features": features}
