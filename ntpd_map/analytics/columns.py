"""The few columns of every incident the hexagon analytics need, in memory, in step with the store.

Counting a month of a million incidents into hexagons must take well under a second, and a SQLite GROUP BY
over a million rows takes 1.3-2.6 s on our 2-core machine (bench/README.md). So each process keeps about
40 bytes per incident as numpy arrays (time, kecamatan, desa, call type, category, location quality and the
H3 cell at each resolution asked for) and brings them up to date with the rows changed since the version it
holds (``since_rev``), which costs milliseconds. A large city's year (about a million calls) is 40 MB.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ntpd_map.domain import CallType, Category, LocationFlag, LocationSource
from ntpd_map.geo.locate import cells_from_latlon
from ntpd_map.store.model import IncidentQuery

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.store.base import Store

CALL_TYPES = tuple(str(c) for c in CallType)
CATEGORIES = tuple(str(c) for c in Category)
_READ = ("id", "received_at", "lat", "lon", "kode_kec", "kode_desa", "call_type", "category", "flags",
         "location_source")
#: where a call was placed by its cell tower, by a told address or a desa name: not a measured position
_IMPRECISE_SOURCES = (LocationSource.CELL, LocationSource.ADDRESS, LocationSource.UNKNOWN)


def _codes(values: pd.Series, vocabulary: tuple[str, ...]) -> np.ndarray:
    """Index of each value in ``vocabulary``; -1 for missing or unknown."""
    import pandas as pd

    return pd.Index(vocabulary).get_indexer(values.astype(object).where(values.notna(), None)).astype("int16")


@dataclass(frozen=True)
class Snapshot:
    """Per-incident arrays aligned by position, sorted by id, as of one data version. Never changed in place:
    a sync builds a new snapshot, so a request that holds one counts a consistent state."""

    version: int
    id: np.ndarray  # int64
    received_at: np.ndarray  # int64 Unix seconds
    lat: np.ndarray  # float64, NaN: none
    lon: np.ndarray
    kec: np.ndarray  # int16 index into the region's kecamatan; -1: none (out of region, no location)
    desa: np.ndarray  # int32 index into the region's desa; -1: none
    call_type: np.ndarray  # int16 index into CALL_TYPES
    category: np.ndarray  # int16 index into CATEGORIES; -1: none
    imprecise: np.ndarray  # bool: no measured position (cell tower, address, desa name, none)
    cells: dict[int, np.ndarray] = field(default_factory=dict)  # res -> uint64 H3 cell, 0: no coordinates

    def __len__(self) -> int:
        return len(self.id)

    def window(self, start: int, end: int) -> np.ndarray:
        """Positions of the incidents received in [start, end)."""
        t = self.received_at
        return np.flatnonzero((t >= start) & (t < end))


_ARRAYS = ("id", "received_at", "lat", "lon", "kec", "desa", "call_type", "category", "imprecise")


def _empty() -> Snapshot:
    dtypes = ("int64", "int64", "float64", "float64", "int16", "int32", "int16", "int16", "bool")
    arrays: dict[str, Any] = {name: np.zeros(0, dtype=d) for name, d in zip(_ARRAYS, dtypes, strict=True)}
    return Snapshot(-1, **arrays)


class IncidentColumns:
    """The current snapshot of one region's incidents; ``snapshot(store, res)`` syncs and returns it."""

    def __init__(self, kode_kec: np.ndarray, kode_desa: np.ndarray) -> None:
        import pandas as pd

        self._kec_index = pd.Index(np.asarray(kode_kec, dtype=object))
        self._desa_index = pd.Index(np.asarray(kode_desa, dtype=object))
        self._lock = threading.Lock()
        self._snap = _empty()

    def snapshot(self, store: Store, res: int | None = None) -> Snapshot:
        """The arrays at the store's current data version, with cells at ``res`` (computed once per
        resolution and process, then kept up to date): the cell containing each point, as
        ``h3.latlng_to_cell`` gives it, not the parent of a finer cell (they differ near cell edges)."""
        version = store.data_version()
        snap = self._snap
        if snap.version == version and (res is None or res in snap.cells):
            return snap
        with self._lock:
            snap = self._snap
            if snap.version != version:
                since = None if snap.version < 0 else snap.version
                snap = self._merged(snap, store.incidents(IncidentQuery(since_rev=since, columns=_READ)), version)
            if res is not None and res not in snap.cells:
                snap = replace(snap, cells={**snap.cells, res: _cells(snap.lat, snap.lon, res)})
            self._snap = snap
        return snap

    def _merged(self, snap: Snapshot, frame: pd.DataFrame, version: int) -> Snapshot:
        if frame.empty:
            return replace(snap, version=version)
        frame = frame.sort_values("id", kind="stable")
        ids = frame["id"].to_numpy(dtype="int64")
        flags = frame["flags"].fillna(0).to_numpy(dtype="int64")
        lat = frame["lat"].to_numpy(dtype="float64", na_value=np.nan)
        lon = frame["lon"].to_numpy(dtype="float64", na_value=np.nan)
        new = {
            "id": ids,
            "received_at": frame["received_at"].to_numpy(dtype="int64"),
            "lat": lat,
            "lon": lon,
            "kec": self._kec_index.get_indexer(frame["kode_kec"].astype(object)).astype("int16"),
            "desa": self._desa_index.get_indexer(frame["kode_desa"].astype(object)).astype("int32"),
            "call_type": _codes(frame["call_type"], CALL_TYPES),
            "category": _codes(frame["category"], CATEGORIES),
            "imprecise": ((flags & (LocationFlag.APPROXIMATE | LocationFlag.NO_LOCATION)) != 0)
            | frame["location_source"].isin([str(s) for s in _IMPRECISE_SOURCES]).to_numpy(),
        }
        cells = {res: _cells(lat, lon, res) for res in snap.cells}
        # rows already held were updated (same id, a new rev): replaced; the others are appended
        pos = np.searchsorted(snap.id, ids)
        held = np.zeros(len(ids), dtype=bool)
        if len(snap.id):
            inside = pos < len(snap.id)
            held[inside] = snap.id[pos[inside]] == ids[inside]

        def merge(current: np.ndarray, values: np.ndarray) -> np.ndarray:
            if held.any():
                current = current.copy()
                current[pos[held]] = values[held]
            return np.concatenate([current, values[~held]])

        arrays = {name: merge(getattr(snap, name), new[name]) for name in _ARRAYS}
        merged_cells = {res: merge(snap.cells[res], cells[res]) for res in cells}
        if (~held).any() and len(snap.id) and ids[~held].min() < snap.id[-1]:
            order = np.argsort(arrays["id"], kind="stable")  # a concurrent writer committed a lower id late
            arrays = {k: v[order] for k, v in arrays.items()}
            merged_cells = {k: v[order] for k, v in merged_cells.items()}
        return Snapshot(version, **arrays, cells=merged_cells)


def _cells(lat: np.ndarray, lon: np.ndarray, res: int) -> np.ndarray:
    return cells_from_latlon(lat, lon, res)
