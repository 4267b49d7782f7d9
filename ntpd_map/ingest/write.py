"""Writing incidents: locate every row in its desa and H3 cell, then hand the batch to the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ntpd_map.domain import LocationFlag

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.geo.locate import Locator
    from ntpd_map.store.base import Store, WriteResult


def locate_frame(frame: pd.DataFrame, locator: Locator) -> pd.DataFrame:
    """Fill kode_desa/kode_kec/kode_kab, h3 (res 9) and location flags from lat/lon.

    Rows that already name their desa (placed at a desa centroid by ingest, flagged approximate) keep it;
    coordinates outside the region are kept as given and flagged, never moved (issue 4).
    """
    import pandas as pd

    out = frame.copy(deep=False)  # copy-on-write: the caller's frame is never changed, nothing is copied
    lat = out["lat"].to_numpy(dtype="float64", na_value=np.nan)
    lon = out["lon"].to_numpy(dtype="float64", na_value=np.nan)
    located = locator.locate(lat, lon)
    desa, kec, kab = locator.codes_for(located)
    given = out["kode_desa"].notna().to_numpy() if "kode_desa" in out else np.zeros(len(out), dtype=bool)
    if given.any():
        known = out.loc[given, "kode_desa"].astype(str)
        desa[given] = known.to_numpy(dtype=object)
        kec[given] = known.str.slice(0, 8).to_numpy(dtype=object)
        kab[given] = known.str.slice(0, 5).to_numpy(dtype=object)
    out["kode_desa"], out["kode_kec"], out["kode_kab"] = desa, kec, kab
    h3 = pd.array(located.h3.astype("int64"), dtype="Int64")  # res-9 cells are below 2**63: exact
    h3[located.h3 == 0] = pd.NA
    out["h3"] = h3
    flags = out["flags"].fillna(0).to_numpy(dtype="int64") if "flags" in out else np.zeros(len(out), "int64")
    new_flags = located.flags.copy()
    # a row placed by its desa name is in the region even when its centroid fell outside every polygon
    new_flags[given] &= ~(LocationFlag.OUT_OF_REGION | LocationFlag.OFFSHORE_SNAPPED | LocationFlag.NO_LOCATION)
    out["flags"] = flags | new_flags
    return out


def write_incidents(store: Store, locator: Locator, frame: pd.DataFrame) -> WriteResult:
    """Locate and write one batch."""
    return store.write_incidents(locate_frame(frame, locator))
