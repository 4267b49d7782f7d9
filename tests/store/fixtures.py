"""Shared test data of the contract suite: incident frames, fixes and towers."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from ntpd_map.domain import (
    INCIDENT_COLUMNS,
    ResponderPosition,
    Tower,
)

T0 = int(datetime(2025, 5, 1, tzinfo=UTC).timestamp())

BIG_H3 = 0x8994214A2C3FFFF  # a real res-9 cell in TTU, larger than 2**59

def frame(n: int, *, source: str = "test", start: int = T0, **overrides: object) -> pd.DataFrame:
    rows = []
    for i in range(n):
        row: dict[str, object] = {
            "source": source,
            "external_id": f"E{i}",
            "received_at": start + 60 * i,
            "call_type": ["genuine", "prank", "ghost", "dropped"][i % 4],
            "category": "medical" if i % 4 == 0 else None,
            "category_label": None,
            "outcome": "resolved" if i % 4 == 0 else "open",
            "agency": "RSUD Kefamenanu" if i % 4 == 0 else None,
            "agency_kind": "medical" if i % 4 == 0 else None,
            "lat": -9.45 + i * 1e-4,
            "lon": 124.48,
            "location_source": "gps",
            "kode_desa": "53.03.06.2001",
            "kode_kec": "53.03.06" if i % 2 == 0 else "53.03.01",
            "kode_kab": "53.03",
            "h3": None if i == 1 else BIG_H3 + 4096 * i,  # a missing cell beside 64-bit ones
            "flags": 0,
            "dispatched_at": start + 60 * i + 120 if i % 4 == 0 else None,
            "arrived_at": None,
            "resolved_at": None,
            "caller_hash": "h" * 64,
            "caller_last3": "123",
            "notes": "Kebakaran rumah warga, Desa Sa'u",
            "simulated": False,
            "attrs": {"operator": "A"} if i == 0 else {},
        }
        row.update(overrides)
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(INCIDENT_COLUMNS))
    out["h3"] = pd.array([r["h3"] for r in rows], dtype="Int64")  # 64-bit cells never pass through float64
    return out

def fix_at(device: str, minute: int, lat: float = -9.45, **kw: object) -> ResponderPosition:
    at = datetime(2025, 6, 1, 8, 0, tzinfo=UTC).replace(minute=minute)
    return ResponderPosition(device, at, lat, 124.48, **kw)  # type: ignore[arg-type]

def opencellid(cell: int, **overrides: object) -> Tower:
    values: dict[str, object] = {"lat": -9.45, "lon": 124.48, "source": "opencellid", "radio": "LTE", "mcc": 510,
                                 "net": 10, "area": 12_345, "cell": cell, "range_m": 3_000.0, "samples": 12,
                                 "updated_at": T0}
    values.update(overrides)
    return Tower(**values)  # type: ignore[arg-type]
