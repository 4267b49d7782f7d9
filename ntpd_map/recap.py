"""The recap a call center reports to its Bupati: one function, used by the API, the CLI, the wall and the
briefing, so they can never disagree (issues 4 and 9).

Dates are the center's local dates, inclusive. Percentiles use linear interpolation (Excel PERCENTILE.INC),
so a Dinas can check every number in its own spreadsheet.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from ntpd_map.domain import ACTIVE_OUTCOMES, CallType
from ntpd_map.views import window_bounds

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.store.base import Store

NO_AGENCY = "(tanpa instansi)"


def recap_bounds(date_from: date, date_to: date, tz: str) -> tuple[int, int]:
    if date_to < date_from:
        raise ValueError(f"'to' ({date_to}) is before 'from' ({date_from})")
    return window_bounds("custom", 0, date_from.isoformat(), date_to.isoformat(), tz)


def minutes_summary(values: np.ndarray) -> dict[str, float | int | None]:
    values = values[~np.isnan(values)]
    if not len(values):
        return {"n": 0, "median": None, "p90": None}
    return {"n": len(values), "median": round(float(np.percentile(values, 50)), 1),
            "p90": round(float(np.percentile(values, 90)), 1)}


def recap_from_frame(frame: pd.DataFrame) -> dict[str, Any]:
    """The recap of the incidents in ``frame`` (a Store.incidents result for the period)."""
    by_type = frame["call_type"].value_counts()
    genuine = frame[frame["call_type"] == CallType.GENUINE.value]
    outcome = genuine["outcome"]
    agency = genuine["agency"].fillna(NO_AGENCY).replace("", NO_AGENCY)
    by_agency: dict[str, dict[str, int]] = {}
    for name, group in genuine.groupby(agency, sort=True):
        by_agency[str(name)] = {
            "total": len(group),
            "resolved": int((group["outcome"] == "resolved").sum()),
            "not_followed_up": int((group["outcome"] == "not_followed_up").sum()),
        }
    received = genuine["received_at"].to_numpy(dtype="float64", na_value=np.nan)

    def minutes(column: str) -> np.ndarray:
        return (genuine[column].to_numpy(dtype="float64", na_value=np.nan) - received) / 60.0

    return {
        "calls": {
            "total": len(frame),
            "by_call_type": {str(c): int(by_type.get(str(c), 0)) for c in CallType},
        },
        "genuine": {
            "total": len(genuine),
            "resolved": int((outcome == "resolved").sum()),
            "not_followed_up": int((outcome == "not_followed_up").sum()),
            "open": int(outcome.isin([str(o) for o in ACTIVE_OUTCOMES]).sum()),
            "by_agency": by_agency,
            "by_category": {str(k): int(v) for k, v in genuine["category"].fillna("other").value_counts()
                            .sort_index().items()},
            "by_kecamatan": {str(k): int(v) for k, v in genuine["kode_kec"].dropna().value_counts()
                             .sort_index().items()},
            "without_location": int(genuine["kode_kec"].isna().sum()),
        },
        "response_minutes": {
            "dispatch": minutes_summary(minutes("dispatched_at")),
            "arrival": minutes_summary(minutes("arrived_at")),
            "resolution": minutes_summary(minutes("resolved_at")),
        },
    }


def recap(store: Store, date_from: date, date_to: date, tz: str) -> dict[str, Any]:
    from ntpd_map.store.base import IncidentQuery

    start, end = recap_bounds(date_from, date_to, tz)
    result = recap_from_frame(store.incidents(IncidentQuery(start=start, end=end)))
    return {"from": date_from.isoformat(), "to": date_to.isoformat(), "tz": tz, **result}
