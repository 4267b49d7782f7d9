"""One contract, every backend: what the app relies on from a Store (issue 2)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from ntpd_map.domain import (
    INCIDENT_COLUMNS,
    AgencyKind,
    CoverageMark,
    ResponderPosition,
    SignalStatus,
    Unit,
    UnitStatus,
)
from ntpd_map.store import IncidentQuery

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


def test_migrate_is_versioned_and_idempotent(store) -> None:
    version = store.schema_version()
    assert version >= 1
    assert store.migrate() == version


def test_write_is_idempotent_and_counts_changes(store) -> None:
    first = store.write_incidents(frame(20))
    assert (first.inserted, first.updated, first.unchanged) == (20, 0, 0)
    v1 = store.data_version()
    again = store.write_incidents(frame(20))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 20)
    assert store.data_version() == v1, "a batch that changed nothing must not bump the version"
    assert store.count_incidents() == 20

    changed = frame(20)
    changed.loc[3, "outcome"] = "resolved"
    changed.loc[5, "resolved_at"] = T0 + 999
    result = store.write_incidents(pd.concat([changed, frame(2, source="other")], ignore_index=True))
    assert (result.inserted, result.updated, result.unchanged) == (2, 2, 18)
    assert store.data_version() > v1
    assert store.count_incidents() == 22


def test_round_trip_keeps_every_value(store) -> None:
    store.write_incidents(frame(4))
    got = store.incidents(IncidentQuery()).sort_values("external_id").reset_index(drop=True)
    first = got.iloc[0]
    assert first["external_id"] == "E0"
    assert int(first["received_at"]) == T0
    assert int(first["h3"]) == BIG_H3
    assert int(first["dispatched_at"]) == T0 + 120
    assert pd.isna(first["arrived_at"])
    assert first["attrs"] == {"operator": "A"}
    assert first["notes"] == "Kebakaran rumah warga, Desa Sa'u"
    assert first["lat"] == pytest.approx(-9.45)
    assert not bool(first["simulated"])
    assert pd.isna(got.iloc[1]["category"])
    assert pd.isna(got.iloc[1]["h3"])
    assert int(got.iloc[3]["h3"]) == BIG_H3 + 4096 * 3  # exact: never through float64
    assert got.iloc[1]["attrs"] == {}


def test_queries_filter_and_order_newest_first(store) -> None:
    store.write_incidents(frame(40))
    window = IncidentQuery(start=T0 + 600, end=T0 + 1200)  # rows 10..19
    got = store.incidents(window)
    assert list(got["external_id"]) == [f"E{i}" for i in range(19, 9, -1)]
    assert store.count_incidents(window) == 10
    genuine = IncidentQuery(call_types=("genuine",))
    assert store.count_incidents(genuine) == 10
    assert store.count_incidents(IncidentQuery(call_types=("genuine", "prank"), kode_kec=("53.03.06",))) == 10
    assert store.count_incidents(IncidentQuery(outcomes=("resolved",), agency_kinds=("medical",))) == 10
    assert len(store.incidents(IncidentQuery(limit=5))) == 5
    assert store.incidents(IncidentQuery(limit=1))["external_id"].iloc[0] == "E39"


def test_since_rev_returns_only_what_changed(store) -> None:
    store.write_incidents(frame(10))
    v = store.data_version()
    assert store.incidents(IncidentQuery(since_rev=v)).empty
    store.write_incidents(frame(1, source="live"))
    new = store.incidents(IncidentQuery(since_rev=v))
    assert list(new["source"]) == ["live"]


def test_count_by_groups_and_rejects_unknown_columns(store) -> None:
    store.write_incidents(frame(10))
    assert store.count_by("kode_kec") == {"53.03.06": 5, "53.03.01": 5}
    assert store.count_by("call_type", IncidentQuery(end=T0 + 240)) == {
        "genuine": 1, "prank": 1, "ghost": 1, "dropped": 1,
    }
    assert store.count_by("category")[""] == 7
    with pytest.raises(ValueError, match="cannot group"):
        store.count_by("caller_hash; DROP TABLE incidents")


def test_filter_values_are_parameters_not_sql(store) -> None:
    store.write_incidents(frame(3))
    evil = "x' OR '1'='1"
    assert store.count_incidents(IncidentQuery(kode_kec=(evil,))) == 0
    assert store.count_incidents() == 3


def test_responder_positions_latest_per_device(store) -> None:
    store.upsert_units([Unit("dev-1", "Ambulans RSUD 1", "RSUD Kefamenanu", AgencyKind.MEDICAL)])
    store.upsert_units([Unit("dev-1", "Ambulans RSUD 1", "RSUD Kefamenanu", AgencyKind.MEDICAL,
                             UnitStatus.DISPATCHED)])
    units = store.units()
    assert list(units["status"]) == ["dispatched"]
    t = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    store.write_positions([
        ResponderPosition("dev-1", t, -9.45, 124.48),
        ResponderPosition("dev-1", t.replace(minute=5), -9.46, 124.49, speed_kmh=40.0),
        ResponderPosition("dev-2", t, -9.30, 124.60, source="traccar"),
    ])
    latest = store.latest_positions().set_index("device_id")
    assert list(latest.index) == ["dev-1", "dev-2"]
    assert latest.loc["dev-1", "lat"] == pytest.approx(-9.46)
    assert int(latest.loc["dev-1", "recorded_at"]) == int(t.replace(minute=5).timestamp())
    assert latest.loc["dev-2", "source"] == "traccar"


def test_coverage_marks_keep_history_newest_is_current(store) -> None:
    store.add_coverage_marks([CoverageMark("53.03.06.2001", SignalStatus.WEAK, author="planner1")])
    store.add_coverage_marks([CoverageMark("53.03.06.2001", SignalStatus.NONE, surveyed_on="2025-06-01",
                                           evidence="survei lapangan", author="planner1"),
                              CoverageMark("53.03.01.2005", SignalStatus.GOOD)])
    current = store.coverage_marks().set_index("kode_desa")
    assert current.loc["53.03.06.2001", "status"] == "none"
    assert current.loc["53.03.06.2001", "evidence"] == "survei lapangan"
    assert len(current) == 2
    assert len(store.coverage_marks(current_only=False)) == 3


def test_rejects_are_kept_for_review(store) -> None:
    store.add_rejects("b1", [{"row_number": 7, "reason": "row 7: time missing", "original": {"id": "X", "lat": "?"}}])
    store.add_rejects("b2", [{"row_number": 2, "reason": "bad", "original": {}}])
    got = store.rejects("b1")
    assert list(got["row_number"]) == [7]
    assert got["original"].iloc[0] == {"id": "X", "lat": "?"}
    assert len(store.rejects()) == 2


def test_meta(store) -> None:
    assert store.get_meta("scenario") is None
    store.set_meta("scenario", "simulated")
    store.set_meta("scenario", "real")
    assert store.get_meta("scenario") == "real"


def test_api_keys_store_only_hashes_and_revoke(store) -> None:
    key_id = store.add_api_key("simrs-rsud", "ingest", "a" * 64)
    store.add_api_key("dashboard-bpbd", "read", "b" * 64)
    assert store.find_api_key("a" * 64) == {"id": key_id, "name": "simrs-rsud", "role": "ingest"}
    assert store.find_api_key("c" * 64) is None
    assert store.revoke_api_key(key_id) is True
    assert store.revoke_api_key(key_id) is False  # already revoked
    assert store.find_api_key("a" * 64) is None
    keys = store.api_keys()
    assert list(keys["name"]) == ["simrs-rsud", "dashboard-bpbd"]
    assert "key_hash" not in keys.columns and pd.notna(keys["revoked_at"].iloc[0])


def test_query_by_ids(store) -> None:
    store.write_incidents(frame(5))
    ids = sorted(store.incidents(IncidentQuery())["id"].tolist())
    got = store.incidents(IncidentQuery(ids=(ids[1], ids[3])))
    assert sorted(got["id"].tolist()) == [ids[1], ids[3]]


def test_query_reads_only_the_columns_asked_for(store) -> None:
    store.write_incidents(frame(3))
    got = store.incidents(IncidentQuery(columns=("id", "lat", "call_type"), limit=2))
    assert list(got.columns) == ["id", "lat", "call_type"] and len(got) == 2
    with pytest.raises(ValueError, match="cannot read"):
        store.incidents(IncidentQuery(columns=("id", "lat; DROP TABLE incidents")))
