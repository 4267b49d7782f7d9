"""Reference data (issue 5): population per kecamatan and desa, and known cell towers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ntpd_map.store import model
from ntpd_map.store.backend import SQLBackend
from ntpd_map.store.model import (
    WriteResult,
    typed_frame,
)

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.domain import PopulationFigure, Tower


# ------------------------------------------------------------------------------------ population and towers
# Both tables are small (a province has a few thousand desa and towers), so both backends upsert them the same
# way: read what is stored, compare in Python, then insert the new rows and update the changed ones. That gives
# exact inserted/updated/unchanged counts on both, and lets a tower without cell ids be matched by position,
# which a UNIQUE constraint cannot do (NULLs never conflict). Callers hold a write lock around it.

#: Columns of Store.population(), with the dtypes both backends return.
POPULATION_DTYPES = {"kode": "str", "level": "str", "population": "int64", "year": "Int64", "source": "str",
                     "updated_at": "int64"}

POPULATION_COLUMNS = tuple(POPULATION_DTYPES)

#: Columns of Store.towers(), with the dtypes both backends return.
TOWER_DTYPES = {"id": "int64", "source": "str", "radio": "str", "mcc": "Int64", "net": "Int64", "area": "Int64",
                "cell": "Int64", "lat": "float64", "lon": "float64", "range_m": "float64", "samples": "Int64",
                "updated_at": "Int64", "simulated": "bool"}

TOWER_COLUMNS = tuple(TOWER_DTYPES)

_TOWER_WRITTEN = TOWER_COLUMNS[1:]  # all but id

_TOWER_KEY = ("source", "radio", "mcc", "net", "area", "cell")

def write_population(cur: Any, figures: Sequence[PopulationFigure], placeholder: str) -> WriteResult:
    """Upsert figures by kode through a DB-API cursor; a figure equal to the stored one changes nothing (its
    updated_at stays). Of several figures for one kode the last is written, the earlier count as unchanged."""
    latest = {f.kode: (f.level, int(f.population), None if f.year is None else int(f.year), f.source)
              for f in figures}
    wanted = list(latest)
    stored = {row[0]: tuple(row[1:]) for row in cur.execute(
        "SELECT kode, level, population, year, source FROM population").fetchall()}
    now = model.now_s()
    inserts = [(kode, *latest[kode], now) for kode in wanted if kode not in stored]
    updates = [(*latest[kode], now, kode) for kode in wanted if kode in stored and stored[kode] != latest[kode]]
    p = placeholder
    if inserts:
        cur.executemany(f"INSERT INTO population ({', '.join(POPULATION_COLUMNS)}) VALUES ({', '.join([p] * 6)})",
                        inserts)
    if updates:
        cur.executemany(f"UPDATE population SET level = {p}, population = {p}, year = {p}, source = {p}, "
                        f"updated_at = {p} WHERE kode = {p}", updates)
    return WriteResult(inserted=len(inserts), updated=len(updates),
                       unchanged=len(figures) - len(inserts) - len(updates))

def _tower_values(t: Tower) -> tuple[Any, ...]:
    """A tower as plain Python values in _TOWER_WRITTEN order (numpy numbers would compare and bind badly)."""

    def whole(v: Any) -> int | None:
        return None if v is None else int(v)

    def real(v: Any) -> float | None:
        return None if v is None else float(v)

    return (str(t.source), None if t.radio is None else str(t.radio), whole(t.mcc), whole(t.net), whole(t.area),
            whole(t.cell), float(t.lat), float(t.lon), real(t.range_m), whole(t.samples), whole(t.updated_at),
            bool(t.simulated))

def _tower_identity(values: Sequence[Any]) -> tuple[Any, ...]:
    """(source, radio, mcc, net, area, cell) when all are known; else (source, lat, lon)."""
    key = tuple(values[: len(_TOWER_KEY)])
    if None in key:
        return ("at", values[0], values[6], values[7])
    return ("cell", *key)

def write_towers(cur: Any, towers: Sequence[Tower], placeholder: str) -> WriteResult:
    """Upsert towers through a DB-API cursor on their identity (see _tower_identity); an identical tower
    changes nothing. Of several towers with one identity the last is written, the earlier count as unchanged."""
    latest = {}
    for t in towers:
        values = _tower_values(t)
        latest[_tower_identity(values)] = values
    stored: dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]] = {}
    sources = sorted({v[0] for v in latest.values()})
    if sources:
        p = placeholder
        rows = cur.execute(f"SELECT {', '.join(TOWER_COLUMNS)} FROM towers WHERE source IN "
                           f"({', '.join([p] * len(sources))}) ORDER BY id", sources).fetchall()
        for row in rows:
            values = (*row[1:-1], bool(row[-1]))  # SQLite keeps booleans as 0/1
            stored.setdefault(_tower_identity(values), (int(row[0]), values))
    inserts = [v for k, v in latest.items() if k not in stored]
    updates = [(*v, stored[k][0]) for k, v in latest.items() if k in stored and stored[k][1] != v]
    p = placeholder
    if inserts:
        cur.executemany(f"INSERT INTO towers ({', '.join(_TOWER_WRITTEN)}) "
                        f"VALUES ({', '.join([p] * len(_TOWER_WRITTEN))})", inserts)
    if updates:
        cur.executemany(f"UPDATE towers SET {', '.join(f'{c} = {p}' for c in _TOWER_WRITTEN)} WHERE id = {p}",
                        updates)
    return WriteResult(inserted=len(inserts), updated=len(updates),
                       unchanged=len(towers) - len(inserts) - len(updates))


class ReferenceStore(Protocol):
    """Population figures and towers: small tables, compared then written."""

    def set_population(self, rows: Sequence[PopulationFigure]) -> WriteResult:
        """Insert or update by kode; a figure equal to the stored one (level, population, year, source) changes
        nothing. updated_at is when a row last changed."""

    def population(self) -> pd.DataFrame:
        """Columns kode, level, population (int64), year (Int64), source, updated_at (int64), by kode."""

    def add_towers(self, towers: Sequence[Tower]) -> WriteResult:
        """Insert or update on (source, radio, mcc, net, area, cell); a tower missing part of that key is matched
        on (source, lat, lon) among such towers. An identical tower changes nothing."""

    def towers(self) -> pd.DataFrame:
        """Columns id, source, radio, mcc, net, area, cell (Int64), lat, lon, range_m (float64), samples,
        updated_at (Int64), simulated (bool), by id."""


class ReferenceMethods(SQLBackend):
    """ReferenceStore on any SQL backend. The compare-then-write of write_population/write_towers needs writers
    one at a time (two concurrent imports would both insert the same new tower): ``_locked``."""

    def set_population(self, rows: Sequence[PopulationFigure]) -> WriteResult:
        with self._locked("population") as cur:
            return write_population(cur, rows, self._PH)

    def population(self) -> pd.DataFrame:
        rows = self._query(f"SELECT {', '.join(POPULATION_COLUMNS)} FROM population ORDER BY kode")
        return typed_frame(rows, POPULATION_DTYPES)

    def add_towers(self, towers: Sequence[Tower]) -> WriteResult:
        with self._locked("towers") as cur:
            return write_towers(cur, towers, self._PH)

    def towers(self) -> pd.DataFrame:
        return typed_frame(self._query(f"SELECT {', '.join(TOWER_COLUMNS)} FROM towers ORDER BY id"), TOWER_DTYPES)
