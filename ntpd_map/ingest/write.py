"""The one write path: every way incidents come in (the API, files, the simulation) ends here. Each row is
located in its desa and H3 cell, the batch goes to the store, and the rejected rows are kept for review.
Responder positions keep their store bounded here too (``Retention``)."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ntpd_map.domain import LocationFlag
from ntpd_map.ingest.records import incidents_from_records
from ntpd_map.store.model import StoreUnavailable

if TYPE_CHECKING:
    from ntpd_map.geo.locate import Locator
    from ntpd_map.ingest.records import ParsedBatch
    from ntpd_map.runtime import Runtime
    from ntpd_map.store.base import Store
    from ntpd_map.store.model import WriteResult

log = logging.getLogger(__name__)

#: How often one process prunes positions past NTPD_POSITION_RETENTION_DAYS (in a background thread).
PRUNE_EVERY_S = 600


def locate_frame(frame: pd.DataFrame, locator: Locator) -> pd.DataFrame:
    """Fill kode_desa/kode_kec/kode_kab, h3 (res 9) and location flags from lat/lon.

    Rows that already name their desa (placed at a desa centroid by ingest, flagged approximate) keep it;
    coordinates outside the region are kept as given and flagged, never moved (issue 4).
    """
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


def ingest_records(runtime: Runtime, records: list[dict[str, Any]], *, source: str) -> dict[str, Any]:
    """Validate, locate and write records (the API's JSON objects); keep the rejects."""
    batch = incidents_from_records(records, source=source, tz=runtime.settings.tz, region=runtime.region,
                                   caller_key=runtime.secret_key)
    return write_batch(runtime, batch, source=source)


def write_batch(runtime: Runtime, batch: ParsedBatch, *, source: str) -> dict[str, Any]:
    """Write a parsed batch (API or file) and keep its rejects; the summary both report."""
    frame = batch.frame.drop(columns=["row_number"], errors="ignore")
    written = write_incidents(runtime.store, runtime.locator, frame)
    batch_id = f"{source}:{uuid.uuid4().hex[:12]}"
    if batch.rejects:
        runtime.store.add_rejects(batch_id, batch.rejects)
    return {
        "batch": batch_id,
        "accepted": written.inserted + written.updated,
        "inserted": written.inserted,
        "updated": written.updated,
        "duplicates": written.unchanged + batch.in_batch_duplicates,
        "rejected": len(batch.rejects),
        "errors": [{"row": r["row_number"], "reason": r["reason"]} for r in batch.rejects[:200]],
    }


class Retention:
    """Prunes old responder positions at most every PRUNE_EVERY_S, off the request thread, one prune at a time
    (``Runtime.retention``: one per process)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.next_at = 0.0
        self._lock = threading.Lock()

    def cutoff(self, now: float) -> int:
        return int(now) - self.runtime.settings.int("NTPD_POSITION_RETENTION_DAYS") * 86_400

    def tick(self, now: float) -> None:
        if now < self.next_at or not self._lock.acquire(blocking=False):
            return
        self.next_at = now + PRUNE_EVERY_S
        threading.Thread(target=self._run, args=(now,), name="ntpd-prune", daemon=True).start()

    def _run(self, now: float) -> None:
        try:
            deleted = self.runtime.store.prune_positions(self.cutoff(now))
            if deleted:
                log.info("pruned %d responder positions older than %d days", deleted,
                         self.runtime.settings.int("NTPD_POSITION_RETENTION_DAYS"))
        except StoreUnavailable as exc:
            log.warning("position pruning postponed: %s", exc)
            self.next_at = 0.0
        finally:
            self._lock.release()
