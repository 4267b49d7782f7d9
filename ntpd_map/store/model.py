"""The store's value types, errors and frame helpers, shared by every concern and both backends.

Times are int64 Unix seconds (UTC) so both backends and numpy agree.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


class StoreUnavailable(RuntimeError):
    """The database cannot be reached. Pages show a banner; ingest answers 503 (never a 200 that loses data)."""

class UnknownChange(LookupError):
    """No change in the coverage audit trail has this id (the API answers 404)."""

class StaleChange(ValueError):
    """A coverage change that is no longer the current state of its desa or cell: the later change must be
    undone first (the API answers 409)."""

@dataclass(frozen=True)
class WriteResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: WriteResult) -> WriteResult:
        return WriteResult(
            self.inserted + other.inserted, self.updated + other.updated, self.unchanged + other.unchanged
        )

@dataclass(frozen=True)
class IncidentQuery:
    """A filter on incidents. Empty tuples mean "any"; times are Unix seconds, start inclusive, end exclusive."""

    start: int | None = None
    end: int | None = None
    call_types: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    agency_kinds: tuple[str, ...] = ()
    kode_kec: tuple[str, ...] = ()
    since_rev: int | None = None
    ids: tuple[int, ...] = ()
    limit: int | None = None
    columns: tuple[str, ...] = ()  # read only these (of "id", "rev" and INCIDENT_COLUMNS); empty: all

#: Columns a query may group by. A whitelist, so a filter value never becomes SQL.
GROUPABLE = ("kode_kec", "kode_desa", "kode_kab", "call_type", "category", "outcome", "agency", "agency_kind")

#: What a map layer needs: reading 6 columns instead of 28 makes a 100k-incident window three times faster.
POINT_COLUMNS = ("id", "lat", "lon", "call_type", "category", "outcome")


def now_s() -> int:
    return int(time.time())


INT_COLUMNS = ("received_at", "dispatched_at", "arrived_at", "resolved_at", "h3", "recorded_at", "created_at",
               "revoked_at", "status_at", "first_seen", "last_seen", "reports")


def frame_from_rows(rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A frame from fetched rows. Integer columns with missing values become Int64 straight from the
    Python ints: going through float64 would corrupt 64-bit H3 cells (2**53 is exact, they are not)."""
    import pandas as pd

    rows = list(rows)
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    data: dict[str, Any] = {}
    for name, values in zip(columns, cols, strict=True):
        if name in INT_COLUMNS:
            data[name] = pd.array(list(values), dtype="Int64")
        elif name == "attrs":
            data[name] = [json.loads(v) if isinstance(v, str) else (v if isinstance(v, dict) else {}) for v in values]
        elif name == "simulated":
            data[name] = pd.array([bool(v) for v in values], dtype=bool)
        else:
            data[name] = list(values)
    return pd.DataFrame(data, columns=list(columns))


def typed_frame(rows: Iterable[Sequence[Any]], dtypes: dict[str, str]) -> pd.DataFrame:
    """A frame of fetched rows with fixed dtypes, the same on both backends and when empty. Int64 columns are
    built from the Python ints (never through float64)."""
    import pandas as pd

    rows = list(rows)
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in dtypes]
    data: dict[str, Any] = {}
    for (name, dtype), values in zip(dtypes.items(), cols, strict=True):
        if dtype == "bool":
            data[name] = pd.array([bool(v) for v in values], dtype=bool)
        else:
            data[name] = pd.array(list(values), dtype=dtype)
    return pd.DataFrame(data, columns=list(dtypes))


def row_id(value: int) -> int | None:
    """An id as a bigint can hold it, else None (an id from a cookie or a URL must not overflow the query)."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if 0 < n < 2**63 else None


Rows = list[tuple[Any, ...]]
