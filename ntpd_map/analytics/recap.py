"""The recap a call center reports to its Bupati: one function, used by the API, the CLI, the wall and the
briefing, so they can never disagree (issues 4 and 9).

Dates are the center's local dates, inclusive. Percentiles use linear interpolation (Excel PERCENTILE.INC),
so a Dinas can check every number in its own spreadsheet.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from ntpd_map.domain import ACTIVE_OUTCOMES, CallType
from ntpd_map.store.model import IncidentQuery
from ntpd_map.views import window_bounds

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.store.base import Store

NO_AGENCY = "(tanpa instansi)"
GHOST_DROPPED = (CallType.GHOST.value, CallType.DROPPED.value)
#: what the recap reads of each incident: a third of the columns, so a quarter of 600k calls reads in a third of
#: the time
RECAP_COLUMNS = ("received_at", "call_type", "outcome", "agency", "category", "kode_kec", "dispatched_at",
                 "arrived_at", "resolved_at")
#: counts per kecamatan and per week
KECAMATAN_COLUMNS = ("calls", "genuine", "prank", "ghost_dropped", "resolved", "not_followed_up")


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


def _minutes(genuine: pd.DataFrame, column: str) -> np.ndarray:
    """Minutes from the call to ``column`` (dispatch, arrival, resolution) of each genuine call; NaN when unknown."""
    received = genuine["received_at"].to_numpy(dtype="float64", na_value=np.nan)
    return (genuine[column].to_numpy(dtype="float64", na_value=np.nan) - received) / 60.0


def _outcomes(genuine: pd.DataFrame) -> dict[str, int]:
    outcome = genuine["outcome"]
    return {
        "resolved": int((outcome == "resolved").sum()),
        "not_followed_up": int((outcome == "not_followed_up").sum()),
        "open": int(outcome.isin([str(o) for o in ACTIVE_OUTCOMES]).sum()),
    }


def _kecamatan(frame: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per kecamatan with located calls: all calls, genuine, prank, ghost + dropped, resolved, not followed up."""
    located = frame[frame["kode_kec"].notna()]
    if not len(located):
        return {}
    kind = located["call_type"]
    genuine = kind == CallType.GENUINE.value
    table = located.assign(
        calls=1, genuine=genuine, prank=kind == CallType.PRANK.value, ghost_dropped=kind.isin(GHOST_DROPPED),
        resolved=genuine & (located["outcome"] == "resolved"),
        not_followed_up=genuine & (located["outcome"] == "not_followed_up"),
    ).groupby("kode_kec")[list(KECAMATAN_COLUMNS)].sum().sort_index()
    return {str(k): {c: int(v) for c, v in row.items()} for k, row in table.iterrows()}


def _weekly(frame: pd.DataFrame, date_from: date, date_to: date, tz: str) -> list[dict[str, Any]]:
    """Per local calendar week (Monday to Sunday) that overlaps the period, clipped to it: the headline counts.
    Weeks without calls are listed with zeros, so a chart's gaps are real."""
    import pandas as pd

    first = date_from - timedelta(days=date_from.weekday())
    weeks = [first + timedelta(weeks=i) for i in range((date_to - first).days // 7 + 1)]
    local_day = (pd.to_datetime(frame["received_at"].astype("int64"), unit="s", utc=True).dt.tz_convert(tz)
                 .dt.tz_localize(None).dt.normalize())
    week = (local_day - pd.Timestamp(first)).dt.days // 7  # vectorised: a quarter holds 600k calls
    kind = frame["call_type"]
    genuine = kind == CallType.GENUINE.value
    flags = pd.DataFrame({
        "week": week, "calls": 1, "genuine": genuine, "prank": kind == CallType.PRANK.value,
        "ghost_dropped": kind.isin(GHOST_DROPPED), "resolved": genuine & (frame["outcome"] == "resolved"),
        "not_followed_up": genuine & (frame["outcome"] == "not_followed_up"),
    })
    sums = flags.groupby("week").sum()
    out = []
    for i, monday in enumerate(weeks):
        row = sums.loc[i] if i in sums.index else None
        out.append({"week": monday.isoformat(), "from": max(monday, date_from).isoformat(),
                    "to": min(monday + timedelta(days=6), date_to).isoformat(),
                    **{c: int(row[c]) if row is not None else 0 for c in KECAMATAN_COLUMNS}})
    return out


def recap_from_frame(frame: pd.DataFrame) -> dict[str, Any]:
    """The recap of the incidents in ``frame`` (a Store.incidents result for the period)."""
    by_type = frame["call_type"].value_counts()
    genuine = frame[frame["call_type"] == CallType.GENUINE.value]
    agency = genuine["agency"].fillna(NO_AGENCY).replace("", NO_AGENCY)
    by_agency: dict[str, dict[str, Any]] = {}
    for name, group in genuine.groupby(agency, sort=True):
        by_agency[str(name)] = {
            "total": len(group), **_outcomes(group),
            "dispatch": minutes_summary(_minutes(group, "dispatched_at")),
            "arrival": minutes_summary(_minutes(group, "arrived_at")),
        }

    def minutes(column: str) -> np.ndarray:
        return _minutes(genuine, column)

    return {
        "calls": {
            "total": len(frame),
            "by_call_type": {str(c): int(by_type.get(str(c), 0)) for c in CallType},
        },
        "genuine": {
            "total": len(genuine),
            **_outcomes(genuine),
            "by_agency": by_agency,
            "by_category": {str(k): int(v) for k, v in genuine["category"].fillna("other").value_counts()
                            .sort_index().items()},
            "by_kecamatan": {str(k): int(v) for k, v in genuine["kode_kec"].dropna().value_counts()
                             .sort_index().items()},
            "without_location": int(genuine["kode_kec"].isna().sum()),
        },
        "kecamatan": _kecamatan(frame),
        "response_minutes": {
            "dispatch": minutes_summary(minutes("dispatched_at")),
            "arrival": minutes_summary(minutes("arrived_at")),
            "resolution": minutes_summary(minutes("resolved_at")),
        },
    }


def headline_counts(store: Store, date_from: date, date_to: date, tz: str) -> dict[str, int]:
    """The recap's headline numbers for a period, counted by the store (its covering index, as the wall counts)
    without reading any row: what the briefing compares a period against. Equal to the same numbers of
    ``recap`` (tested)."""
    start, end = recap_bounds(date_from, date_to, tz)
    query = IncidentQuery(start=start, end=end)
    by_type = store.count_by("call_type", query)
    outcome = store.count_by("outcome", IncidentQuery(start=start, end=end, call_types=(CallType.GENUINE.value,)))
    return {"calls": sum(by_type.values()), "genuine": by_type.get(CallType.GENUINE.value, 0),
            "prank": by_type.get(CallType.PRANK.value, 0),
            "ghost_dropped": sum(by_type.get(c, 0) for c in GHOST_DROPPED),
            "resolved": outcome.get("resolved", 0), "not_followed_up": outcome.get("not_followed_up", 0),
            "open": sum(outcome.get(str(o), 0) for o in ACTIVE_OUTCOMES)}


def recap(store: Store, date_from: date, date_to: date, tz: str) -> dict[str, Any]:
    start, end = recap_bounds(date_from, date_to, tz)
    frame = store.incidents(IncidentQuery(start=start, end=end, columns=RECAP_COLUMNS))
    return {"from": date_from.isoformat(), "to": date_to.isoformat(), "tz": tz, **recap_from_frame(frame),
            "weekly": _weekly(frame, date_from, date_to, tz)}
