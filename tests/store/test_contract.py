"""One contract, every backend: what the app relies on from a Store (issue 2)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from ntpd_map.domain import (
    INCIDENT_COLUMNS,
    AgencyKind,
    CoverageMark,
    PopulationFigure,
    ResponderPosition,
    SignalStatus,
    Tower,
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


def test_incident_batches_are_the_query_in_its_order_a_batch_at_a_time(store) -> None:
    store.write_incidents(frame(40))
    window = IncidentQuery(start=T0 + 300, end=T0 + 2100, columns=("id", "external_id", "lat"))  # rows 5..34
    batches = list(store.incident_batches(window, size=7))
    assert [len(b) for b in batches] == [7, 7, 7, 7, 2]
    assert all(list(b.columns) == ["id", "external_id", "lat"] for b in batches)
    whole = store.incidents(window)
    assert pd.concat(batches, ignore_index=True).equals(whole)
    assert list(whole["external_id"]) == [f"E{i}" for i in range(34, 4, -1)]
    assert list(store.incident_batches(IncidentQuery(start=T0 + 10**6))) == []


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


def _fix(device: str, minute: int, lat: float = -9.45, **kw: object) -> ResponderPosition:
    at = datetime(2025, 6, 1, 8, 0, tzinfo=UTC).replace(minute=minute)
    return ResponderPosition(device, at, lat, 124.48, **kw)  # type: ignore[arg-type]


def test_a_repeated_fix_is_stored_once(store) -> None:
    assert store.write_positions([_fix("dev-1", 1), _fix("dev-1", 2)]) == 2
    # the phone lost our answer and sends both again, with one new fix
    assert store.write_positions([_fix("dev-1", 1), _fix("dev-1", 2), _fix("dev-1", 3)]) == 1
    assert list(store.track("dev-1", 0)["recorded_at"].diff().dropna()) == [60, 60]
    assert store.write_positions([]) == 0


def test_a_late_backlog_does_not_move_the_unit_back(store) -> None:
    store.write_positions([_fix("dev-1", 30, lat=-9.30)])
    # a phone out of signal sends its older fixes when it reconnects: history grows, the unit stays put
    store.write_positions([_fix("dev-1", 10, lat=-9.10), _fix("dev-1", 20, lat=-9.20)])
    latest = store.latest_positions()
    assert latest["lat"].tolist() == [pytest.approx(-9.30)]
    assert len(store.track("dev-1", 0)) == 3


def test_track_since_oldest_first(store) -> None:
    store.write_positions([_fix("dev-1", m, lat=-9.0 - m / 100, speed_kmh=30.0, bearing=90.0) for m in (5, 1, 3)]
                          + [_fix("dev-2", 4)])
    since = int(datetime(2025, 6, 1, 8, 2, tzinfo=UTC).timestamp())
    track = store.track("dev-1", since)
    assert list(track.columns) == ["recorded_at", "lat", "lon", "speed_kmh", "bearing", "source"]
    assert track["lat"].tolist() == pytest.approx([-9.03, -9.05])
    assert track["speed_kmh"].tolist() == [30.0, 30.0]
    assert store.track("nobody", 0).empty


def test_prune_deletes_old_fixes_in_batches_and_keeps_the_latest(store) -> None:
    store.write_positions([_fix("dev-1", m) for m in range(10)] + [_fix("dev-2", 3)])
    cutoff = int(datetime(2025, 6, 1, 8, 7, tzinfo=UTC).timestamp())
    assert store.prune_positions(cutoff, batch=2) == 8  # minutes 0-6 of dev-1 and dev-2's only fix
    assert store.track("dev-1", 0)["recorded_at"].min() == cutoff
    # dev-2 has no history left, but the map still knows where it was last seen
    assert sorted(store.latest_positions()["device_id"]) == ["dev-1", "dev-2"]
    assert store.prune_positions(cutoff) == 0


def test_unit_status_is_checked_and_timed(store) -> None:
    store.upsert_units([Unit("dev-1", "Ambulans RSUD 1", "RSUD Kefamenanu", AgencyKind.MEDICAL)])
    assert store.set_unit_status("dev-1", "on_scene") is True
    units = store.units().set_index("device_id")
    assert units.loc["dev-1", "status"] == "on_scene"
    assert int(units.loc["dev-1", "status_at"]) > 0
    assert store.set_unit_status("dev-9", "available") is False
    with pytest.raises(ValueError, match="not one of"):
        store.set_unit_status("dev-1", "lunch")
    assert store.units().loc[0, "status"] == "on_scene"


def test_remove_unit_keeps_its_history(store) -> None:
    store.upsert_units([Unit("dev-1", "Damkar 1", "Damkar", AgencyKind.FIRE)])
    store.write_positions([_fix("dev-1", 1)])
    assert store.remove_unit("dev-1") is True
    assert store.remove_unit("dev-1") is False
    assert store.units().empty
    assert len(store.track("dev-1", 0)) == 1


def test_unknown_devices_are_counted(store) -> None:
    store.note_unknown_device("123456", "osmand", 1000)
    store.note_unknown_device("123456", "osmand", 1010)
    store.note_unknown_device("123456", "osmand", 1005)  # out of order: last_seen stays the latest
    store.note_unknown_device("truck-9", "traccar", 900)
    unknown = store.unknown_devices()
    assert unknown[["device_id", "source", "first_seen", "last_seen", "reports"]].values.tolist() == [
        ["123456", "osmand", 1000, 1010, 3], ["truck-9", "traccar", 900, 900, 1]]
    store.prune_positions(950)  # counts of devices silent since before the cutoff go with the old fixes
    assert store.unknown_devices()["device_id"].tolist() == ["123456"]


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


def test_marking_keeps_an_audit_trail_with_old_and_new(store) -> None:
    desa = "53.03.06.2001"
    first = store.mark_coverage(CoverageMark(desa, SignalStatus.WEAK, operators="Telkomsel", author="budi"))
    second = store.mark_coverage(CoverageMark(desa, SignalStatus.NONE, surveyed_on="2025-06-01",
                                              evidence="survei: 0 bar di dusun 2", author="ani"))
    other = store.mark_coverage(CoverageMark("53.03.01.2005", SignalStatus.GOOD, author="ani"))
    assert first < second < other
    trail = store.coverage_history(desa)
    assert list(trail.columns) == ["id", "kode_desa", "h3", "action", "author", "created_at", "status",
                                   "surveyed_on", "operators", "evidence", "simulated", "previous_id", "undoes",
                                   "old_status", "old_surveyed_on", "old_operators", "old_evidence"]
    assert trail["id"].tolist() == [second, first]  # newest first
    newest, oldest = trail.iloc[0], trail.iloc[1]
    assert (newest["author"], newest["action"], newest["old_status"], newest["status"]) == ("ani", "mark", "weak",
                                                                                          "none")
    assert newest["old_operators"] == "Telkomsel" and newest["evidence"] == "survei: 0 bar di dusun 2"
    assert int(newest["previous_id"]) == first and pd.isna(newest["undoes"])
    assert pd.isna(oldest["old_status"]) and pd.isna(oldest["previous_id"])  # from "no mark"
    assert abs(int(newest["created_at"]) - int(datetime.now(UTC).timestamp())) < 60
    assert len(store.coverage_history()) == 3
    assert len(store.coverage_history(limit=2)) == 2


def test_undo_appends_a_change_restoring_the_state_before(store) -> None:
    desa = "53.03.06.2001"
    first = store.mark_coverage(CoverageMark(desa, SignalStatus.WEAK, operators="XL", author="budi"))
    second = store.mark_coverage(CoverageMark(desa, SignalStatus.NONE, evidence="tidak ada sinyal", author="ani"))
    undo = store.undo_coverage_change(second, "kepala bidang")
    current = store.coverage_marks().set_index("kode_desa")
    assert current.loc[desa, "status"] == "weak" and current.loc[desa, "operators"] == "XL"
    assert pd.isna(current.loc[desa, "evidence"])
    row = store.coverage_history(desa).iloc[0]
    assert (int(row["id"]), row["action"], int(row["undoes"]), row["author"]) == (undo, "undo", second,
                                                                                 "kepala bidang")
    assert (row["old_status"], row["status"]) == ("none", "weak")
    assert len(store.coverage_marks(current_only=False)) == 3  # append-only: nothing was deleted or changed

    # the first mark undone: the desa has no mark at all again
    with pytest.raises(ValueError, match=f"change {undo} by kepala bidang came after"):
        store.undo_coverage_change(first, "budi")  # not the current change any more
    undo_undo = store.undo_coverage_change(undo, "ani")  # an undo can be undone: "none" is back
    assert store.coverage_marks().set_index("kode_desa").loc[desa, "status"] == "none"
    back = store.undo_coverage_change(undo_undo, "ani")
    again = store.undo_coverage_change(back, "ani")
    assert store.coverage_marks().set_index("kode_desa").loc[desa, "status"] == "none"
    store.undo_coverage_change(store.mark_coverage(CoverageMark("53.03.01.2005", SignalStatus.GOOD, author="x")),
                               "x")
    assert "53.03.01.2005" not in set(store.coverage_marks()["kode_desa"])  # its first mark undone: no mark
    cleared = store.coverage_history("53.03.01.2005").iloc[0]
    assert pd.isna(cleared["status"]) and cleared["old_status"] == "good"
    assert again > back
    for unknown in (99999, 0, -1, 2**70):  # never an overflow or a database error
        with pytest.raises(LookupError, match=f"no coverage change has id {unknown}"):
            store.undo_coverage_change(unknown, "x")
    with pytest.raises(ValueError, match="author"):
        store.undo_coverage_change(again, " ")


def test_cell_marks_are_their_own_targets_kept_with_their_desa(store) -> None:
    desa, cell = "53.03.06.2001", "8994214a2c3ffff"
    whole = store.mark_coverage(CoverageMark(desa, SignalStatus.GOOD, author="budi"))
    part = store.mark_coverage(CoverageMark(desa, SignalStatus.NONE, h3=cell, author="budi"))
    current = store.coverage_marks()
    assert sorted(current["id"].tolist()) == [whole, part]
    assert current.set_index("id").loc[part, "h3"] == cell
    undone = store.undo_coverage_change(part, "budi")  # the cell's first mark: the desa-wide one stays
    assert store.coverage_marks()["id"].tolist() == [whole]
    assert store.coverage_history(desa).iloc[0]["h3"] == cell and undone > part


def test_add_marks_can_skip_what_is_already_current(store) -> None:
    marks = [CoverageMark("53.03.06.2001", SignalStatus.NONE, evidence="daftar BAKTI", author="import:a.csv"),
             CoverageMark("53.03.06.2002", SignalStatus.WEAK, author="import:a.csv")]
    assert store.add_coverage_marks(marks, skip_unchanged=True) == 2
    assert store.add_coverage_marks(marks, skip_unchanged=True) == 0  # the same list again: nothing
    changed = [CoverageMark("53.03.06.2002", SignalStatus.NONE, author="import:b.csv"), marks[0]]
    assert store.add_coverage_marks(changed, skip_unchanged=True) == 1
    assert store.add_coverage_marks(marks) == 2  # without the flag every mark is a change
    assert len(store.coverage_history()) == 5
    with pytest.raises(ValueError, match="status 'pizza'"):
        CoverageMark("53.03.06.2001", "pizza")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a desa code"):
        CoverageMark("53.03.06", SignalStatus.NONE)
    with pytest.raises(ValueError, match="not a date"):
        CoverageMark("53.03.06.2001", SignalStatus.NONE, surveyed_on="31/02/2025")


def test_signal_samples_round_trip_and_reimport_changes_nothing(store) -> None:
    from ntpd_map.domain import SignalSample

    assert list(store.signal_samples().columns) == ["id", "source", "recorded_at", "lat", "lon", "operator", "dbm",
                                                    "bars", "network", "kode_desa", "h3", "simulated",
                                                    "created_at"]
    samples = [
        SignalSample(-9.45, 124.48, T0, "survey:a.csv", dbm=-113.0, operator="Telkomsel", network="4G",
                     kode_desa="53.03.06.2001", h3=BIG_H3),
        SignalSample(-9.46, 124.49, T0 + 60, "survey:a.csv", bars=0, kode_desa="53.03.06.2001"),
        SignalSample(-9.30, 124.60, T0, "survey:a.csv", dbm=-85.5, bars=4, operator="XL"),
    ]
    result = store.add_signal_samples(samples)
    assert (result.inserted, result.updated, result.unchanged) == (3, 0, 0)
    again = store.add_signal_samples(samples)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    fixed = store.add_signal_samples([SignalSample(-9.45, 124.48, T0, "survey:a.csv", dbm=-109.0,
                                                   operator="Telkomsel", network="4G", kode_desa="53.03.06.2001",
                                                   h3=BIG_H3)])
    assert (fixed.inserted, fixed.updated) == (0, 1)
    got = store.signal_samples()
    assert got["dbm"].tolist()[0] == -109.0 and int(got["h3"].iloc[0]) == BIG_H3
    assert got["operator"].tolist() == ["Telkomsel", "", "XL"]
    assert pd.isna(got["dbm"].iloc[1]) and int(got["bars"].iloc[1]) == 0 and pd.isna(got["bars"].iloc[0])
    assert pd.isna(got["kode_desa"].iloc[2]) and not got["simulated"].any()
    assert len(store.signal_samples("53.03.06.2001")) == 2
    with pytest.raises(ValueError, match="dBm or bars"):
        SignalSample(-9.45, 124.48, T0, "survey:a.csv")
    with pytest.raises(ValueError, match="outside"):
        SignalSample(-9.45, 124.48, T0, "survey:a.csv", dbm=-300.0)


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


# accounts, display tokens and the audit log (issue 8) ---------------------------------------------------------
def test_users_are_found_in_any_case_and_unique(store) -> None:
    ana = store.add_user("Ana", "operator", "hash-ana")
    budi = store.add_user("budi", "planner", "hash-budi")
    assert ana != budi
    expected = {"id": ana, "username": "ana", "role": "operator", "password_hash": "hash-ana", "disabled": False,
                "session_version": 1}
    assert store.find_user("ANA") == expected
    assert store.find_user("ana") == expected
    assert store.get_user(ana) == expected
    assert store.find_user("budi")["role"] == "planner"
    assert store.find_user("citra") is None
    assert store.get_user(budi + 100) is None
    assert store.get_user(2**70) is None  # an id from a forged cookie must not overflow the query
    with pytest.raises(ValueError, match="user ana exists"):
        store.add_user("aNA", "admin", "other")
    assert store.find_user("ana")["role"] == "operator", "a refused duplicate must not change the user"
    assert list(store.users()["username"]) == ["ana", "budi"]


def test_password_role_and_disabled_changes_bump_the_session_version(store, monkeypatch) -> None:
    ana = store.add_user("ana", "operator", "hash-1")
    assert store.set_user_password("Ana", "hash-2") is True
    assert store.get_user(ana)["password_hash"] == "hash-2"
    assert store.get_user(ana)["session_version"] == 2
    assert store.set_user_role("ANA", "planner") is True
    assert (store.get_user(ana)["role"], store.get_user(ana)["session_version"]) == ("planner", 3)

    monkeypatch.setattr("ntpd_map.store._common.now_s", lambda: T0)
    assert store.set_user_disabled("ana", True) is True
    got = store.find_user("ana")  # a disabled user is still found (sign-in tells "disabled" from "unknown")
    assert (got["disabled"], got["session_version"]) == (True, 4)
    monkeypatch.setattr("ntpd_map.store._common.now_s", lambda: T0 + 100)
    assert store.set_user_disabled("ana", True) is True
    assert int(store.users()["disabled_at"].iloc[0]) == T0, "disabling again keeps when it was first disabled"
    assert store.get_user(ana)["session_version"] == 5
    assert store.set_user_disabled("ana", False) is True
    got = store.get_user(ana)
    assert (got["disabled"], got["session_version"]) == (False, 6)
    assert pd.isna(store.users()["disabled_at"].iloc[0])

    assert store.set_user_password("nobody", "h") is False
    assert store.set_user_role("nobody", "admin") is False
    assert store.set_user_disabled("nobody", True) is False
    assert list(store.users()["username"]) == ["ana"]


def test_users_never_carry_the_password_hash(store) -> None:
    store.add_user("ana", "admin", "$argon2id$secret-hash")
    users = store.users()
    assert list(users.columns) == ["id", "username", "role", "created_at", "disabled_at", "session_version"]
    assert not users.astype(str).apply(lambda c: c.str.contains("secret-hash")).to_numpy().any()
    assert (int(users["session_version"].iloc[0]), users["role"].iloc[0]) == (1, "admin")
    assert int(users["created_at"].iloc[0]) > T0


@pytest.mark.parametrize("role", ["ingest", "read", "Admin", ""])
def test_unknown_user_role_is_rejected(store, role) -> None:
    with pytest.raises(ValueError, match="role"):
        store.add_user("ana", role, "h")
    assert store.find_user("ana") is None
    store.add_user("budi", "wall", "h")
    with pytest.raises(ValueError, match="role"):
        store.set_user_role("budi", role)
    assert store.find_user("budi")["role"] == "wall"
    assert store.find_user("budi")["session_version"] == 1


def test_display_tokens_store_only_hashes_and_revoke(store) -> None:
    hall = store.add_display_token("Ruang 112", "a" * 64)
    lobby = store.add_display_token("Lobi", "b" * 64)
    assert store.find_display_token("a" * 64) == {"id": hall, "name": "Ruang 112"}
    assert store.find_display_token("c" * 64) is None
    assert store.display_token_active(hall) and store.display_token_active(lobby)
    assert not store.display_token_active(lobby + 100)
    assert not store.display_token_active(2**70)

    store.touch_display_token(hall, T0 + 60)
    store.touch_display_token(hall, T0)  # another worker's older touch lands late: last seen never moves back
    tokens = store.display_tokens().set_index("id")
    assert int(tokens.loc[hall, "last_seen_at"]) == T0 + 60
    assert pd.isna(tokens.loc[lobby, "last_seen_at"])

    assert store.revoke_display_token(hall) is True
    assert store.revoke_display_token(hall) is False  # already revoked
    assert store.revoke_display_token(lobby + 100) is False
    assert store.find_display_token("a" * 64) is None
    assert not store.display_token_active(hall)
    assert store.display_token_active(lobby), "revoking one token leaves the others"
    tokens = store.display_tokens()
    assert list(tokens.columns) == ["id", "name", "created_at", "revoked_at", "last_seen_at"]
    assert list(tokens["name"]) == ["Ruang 112", "Lobi"]
    assert pd.notna(tokens["revoked_at"].iloc[0]) and pd.isna(tokens["revoked_at"].iloc[1])


def test_audit_log_is_newest_first_and_filters(store, monkeypatch) -> None:
    import json

    entries = [
        (T0, "cli:ana", "import.incidents", "kejadian.csv", {"inserted": 3, "updated": 1, "rejected": 0}),
        (T0 + 10, "api:simrs", "api.incidents", None, {"inserted": 2}),
        (T0 + 20, "cli:ana", "unit.add", "hp-01", None),
        (T0 + 20, "user:budi", "coverage.mark", "53.03.06.2001", {"change": 7, "status": "none"}),
    ]
    ids = []
    for at, actor, action, target, detail in entries:
        monkeypatch.setattr("ntpd_map.store._common.now_s", lambda at=at: at)
        ids.append(store.audit(actor, action, target, detail))
    assert ids == sorted(ids) and len(set(ids)) == 4

    log = store.audit_log()
    assert list(log.columns) == ["id", "at", "actor", "action", "target", "detail"]
    assert list(log["id"]) == ids[::-1]
    assert list(log["at"]) == [T0 + 20, T0 + 20, T0 + 10, T0]
    assert list(log["action"]) == ["coverage.mark", "unit.add", "api.incidents", "import.incidents"]
    first = log.iloc[-1]
    assert (first["actor"], first["target"]) == ("cli:ana", "kejadian.csv")
    assert json.loads(first["detail"]) == {"inserted": 3, "updated": 1, "rejected": 0}
    assert first["detail"] == '{"inserted": 3, "rejected": 0, "updated": 1}', "detail is JSON with sorted keys"
    assert pd.isna(log.iloc[1]["detail"]) and pd.isna(log.iloc[2]["target"])

    assert list(store.audit_log(since=T0 + 10)["id"]) == ids[:0:-1]
    assert list(store.audit_log(action="unit.add")["id"]) == [ids[2]]
    assert list(store.audit_log(actor="cli:ana")["id"]) == [ids[2], ids[0]]
    assert list(store.audit_log(actor="cli:ana", since=T0 + 1)["id"]) == [ids[2]]
    assert list(store.audit_log(actor="cli:ana", action="api.incidents")["id"]) == []
    assert list(store.audit_log(limit=2)["id"]) == [ids[3], ids[2]]
    assert store.audit_log(limit=0).empty
    assert store.audit_log(actor="x' OR '1'='1").empty  # filter values are parameters, never SQL

    monkeypatch.setattr("ntpd_map.store._common.now_s", lambda: T0 - 3600)  # a clock set back
    late = store.audit("cli:ana", "unit.remove", "hp-01", {})
    assert store.audit_log(limit=1)["id"].tolist() == [late], "newest is the last appended, whatever the clock"
    assert store.audit_log(limit=1)["detail"].iloc[0] == "{}"


@pytest.mark.parametrize("kind", ["sqlite", "postgis"])
def test_account_and_audit_calls_raise_store_unavailable(kind, tmp_path) -> None:
    import sqlite3

    from ntpd_map.store import StoreUnavailable, open_store

    if kind == "sqlite":
        from ntpd_map.store.sqlite import SQLiteStore

        path = tmp_path / "locked.sqlite"
        open_store(f"sqlite:///{path}").migrate()
        store = SQLiteStore(path, busy_timeout_ms=50)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # a writer that does not take our lock (another program) holds the file
        calls = [lambda: store.audit("cli:ana", "unit.add", "hp-01", None),
                 lambda: store.add_user("ana", "admin", "h"), lambda: store.touch_display_token(1, T0)]
    else:
        pytest.importorskip("psycopg_pool")
        from ntpd_map.store.postgis import PostGISStore

        store = PostGISStore("postgresql://ntpd@127.0.0.1:1/ntpd_test", timeout=1)
        other = None
        calls = [lambda: store.audit("cli:ana", "unit.add", "hp-01", None), lambda: store.find_user("ana"),
                 lambda: store.audit_log()]
    try:
        for call in calls:
            with pytest.raises(StoreUnavailable):
                call()
    finally:
        if other is not None:
            other.execute("ROLLBACK")
            other.close()
        store.close()

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


# population and towers (issue 5) ------------------------------------------------------------------------------


def test_population_round_trip_with_level_from_the_code(store) -> None:
    assert list(store.population().columns) == ["kode", "level", "population", "year", "source", "updated_at"]
    result = store.set_population([
        PopulationFigure("53.03.06.2001", 1_234, year=2024, source="Dukcapil 2024-S1"),
        PopulationFigure("53.03.06", 12_345, source="Dukcapil"),
        PopulationFigure("53.03.01.1001", 0),  # an empty desa is a figure, not a missing one
    ])
    assert (result.inserted, result.updated, result.unchanged) == (3, 0, 0)
    got = store.population()
    assert list(got["kode"]) == ["53.03.01.1001", "53.03.06", "53.03.06.2001"]
    assert list(got["level"]) == ["desa", "kecamatan", "desa"]
    assert got["population"].dtype == "int64" and list(got["population"]) == [0, 12_345, 1_234]
    assert got["year"].dtype == "Int64" and got["year"].isna().tolist() == [True, True, False]
    assert int(got["year"].iloc[2]) == 2024
    assert list(got["source"]) == ["import", "Dukcapil", "Dukcapil 2024-S1"]
    assert got["updated_at"].dtype == "int64" and (got["updated_at"] > T0).all()


def test_population_upsert_counts_and_reimport_changes_nothing(store, monkeypatch) -> None:
    clock = iter(range(T0, T0 + 100))
    monkeypatch.setattr("ntpd_map.store._common.now_s", lambda: next(clock))
    figures = [PopulationFigure(f"53.03.06.20{i:02d}", 100 * i, year=2024) for i in range(1, 6)]
    store.set_population(figures)
    stamped = store.population()
    assert (stamped["updated_at"] == T0).all()
    again = store.set_population(figures)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    pd.testing.assert_frame_equal(store.population(), stamped)  # updated_at too: nothing was written

    changed = [
        PopulationFigure("53.03.06.2001", 999, year=2024),  # another number
        PopulationFigure("53.03.06.2002", 200, year=2025),  # another year only
        PopulationFigure("53.03.06.2003", 300, year=2024, source="survei"),  # another source only
        figures[3],  # as stored
        PopulationFigure("53.03.07", 5_000),  # new
    ]
    result = store.set_population(changed)
    assert (result.inserted, result.updated, result.unchanged) == (1, 3, 1)
    got = store.population().set_index("kode")
    assert len(got) == 6
    assert got.loc["53.03.06.2001", "population"] == 999
    assert got.loc["53.03.06.2002", "year"] == 2025
    assert got.loc["53.03.06.2003", "source"] == "survei"
    assert got["updated_at"].to_dict() == {**dict.fromkeys(got.index, T0 + 2), "53.03.06.2004": T0,
                                           "53.03.06.2005": T0}  # only rows written now are stamped now

    # one kode twice in a batch: the last figure is written, the earlier counts as unchanged
    result = store.set_population([PopulationFigure("53.03.07", 1), PopulationFigure("53.03.07", 5_001)])
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    assert store.population().set_index("kode").loc["53.03.07", "population"] == 5_001


def test_population_figure_checks_its_code_and_number() -> None:
    assert PopulationFigure("53.03.06", 1).level == "kecamatan"
    assert PopulationFigure("53.03.06.2001", 1).level == "desa"
    for kode in ("53.03", "5303062001", "53"):
        with pytest.raises(ValueError, match="kecamatan"):
            PopulationFigure(kode, 1)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="whole number"):
            PopulationFigure("53.03.06", bad)  # type: ignore[arg-type]


def opencellid(cell: int, **overrides: object) -> Tower:
    values: dict[str, object] = {"lat": -9.45, "lon": 124.48, "source": "opencellid", "radio": "LTE", "mcc": 510,
                                 "net": 10, "area": 12_345, "cell": cell, "range_m": 3_000.0, "samples": 12,
                                 "updated_at": T0}
    values.update(overrides)
    return Tower(**values)  # type: ignore[arg-type]


def test_towers_round_trip(store) -> None:
    assert list(store.towers().columns) == ["id", "source", "radio", "mcc", "net", "area", "cell", "lat", "lon",
                                            "range_m", "samples", "updated_at", "simulated"]
    big = 2**35 + 7  # a 5G NR cell id (36 bits) needs a 64-bit column
    result = store.add_towers([
        opencellid(big, radio="NR"),
        Tower(-9.50, 124.60, "simulasi", "GSM", 510, 11, 501, 77, range_m=2_500.5, simulated=True),
        Tower(-9.40, 124.70, "survey"),  # a mast seen in the field, no cell ids
    ])
    assert (result.inserted, result.updated, result.unchanged) == (3, 0, 0)
    got = store.towers()
    assert got["id"].is_unique and got["id"].is_monotonic_increasing
    assert list(got["source"]) == ["opencellid", "simulasi", "survey"]
    assert got["cell"].dtype == "Int64" and int(got["cell"].iloc[0]) == big
    assert got["radio"].iloc[0] == "NR" and pd.isna(got["radio"].iloc[2])
    assert got[["mcc", "net", "area", "cell", "samples", "updated_at"]].iloc[2].isna().all()
    assert list(got["simulated"]) == [False, True, False] and got["simulated"].dtype == bool
    assert list(got["lat"]) == [-9.45, -9.50, -9.40] and list(got["lon"]) == [124.48, 124.60, 124.70]
    assert got["range_m"].iloc[1] == 2_500.5 and pd.isna(got["range_m"].iloc[2])
    assert int(got["updated_at"].iloc[0]) == T0 and int(got["samples"].iloc[0]) == 12


def test_towers_upsert_on_the_cell_key(store) -> None:
    towers = [opencellid(c) for c in range(1, 5)]
    store.add_towers(towers)
    ids = store.towers()["id"].tolist()
    again = store.add_towers(towers)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)

    result = store.add_towers([
        opencellid(1, lat=-9.46, samples=40, updated_at=T0 + 86_400),  # measured again, moved a little
        opencellid(2),  # as stored
        opencellid(3, net=11),  # another operator's cell: another tower
        opencellid(3, radio="GSM"),  # same number on another radio: another tower
        opencellid(4, source="survey"),  # same cell from another source: kept apart
    ])
    assert (result.inserted, result.updated, result.unchanged) == (3, 1, 1)
    got = store.towers()
    assert len(got) == 7
    first = got[got["id"] == ids[0]].iloc[0]
    assert (first["lat"], first["samples"], first["cell"]) == (-9.46, 40, 1)  # updated in place, same id
    assert got["id"].tolist()[:4] == ids

    # the same key twice in one batch: the last one is written
    result = store.add_towers([opencellid(2, range_m=1.0), opencellid(2, range_m=2.0)])
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    assert store.towers().set_index("id").loc[ids[1], "range_m"] == 2.0


def test_towers_without_cell_ids_are_matched_by_position(store) -> None:
    masts = [Tower(-9.40, 124.70, "survey", radio="GSM"), Tower(-9.41, 124.71, "survey")]
    assert store.add_towers(masts).inserted == 2
    again = store.add_towers(masts)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    result = store.add_towers([Tower(-9.40, 124.70, "survey", radio="LTE"), Tower(-9.42, 124.72, "survey")])
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 0)
    got = store.towers()
    assert len(got) == 3 and got["radio"].iloc[0] == "LTE"


@pytest.mark.parametrize("kind", ["sqlite", "postgis"])
def test_migration_5_turns_earlier_marks_into_a_trail(kind, tmp_path, monkeypatch) -> None:
    """A store at schema 4 holding marks migrates to 5: same ids, each change linked to the one before it."""
    from ntpd_map.store import base
    from tests.conftest import _open_store

    every = base.migrations
    module = f"ntpd_map.store.{kind}"
    monkeypatch.setattr(f"{module}.migrations", lambda backend: [m for m in every(backend) if m[0] <= 4])
    opened = _open_store(kind, tmp_path, monkeypatch)
    store = next(opened)
    try:
        assert store.schema_version() == 4
        ph = "?" if kind == "sqlite" else "%s"
        for desa, status in (("53.03.06.2001", "weak"), ("53.03.06.2001", "none"), ("53.03.01.2005", "good")):
            store._query(f"INSERT INTO coverage_marks (kode_desa, status, author, created_at) "
                         f"VALUES ({ph}, {ph}, 'lama', {ph}) RETURNING id", (desa, status, T0))
        monkeypatch.setattr(f"{module}.migrations", every)
        assert store.migrate() >= 5
        trail = store.coverage_history().set_index("id")
        assert pd.isna(trail.loc[1, "previous_id"]) and int(trail.loc[2, "previous_id"]) == 1
        assert pd.isna(trail.loc[3, "previous_id"]) and trail.loc[2, "old_status"] == "weak"
        assert (trail["action"] == "mark").all()
        assert store.coverage_marks().set_index("kode_desa").loc["53.03.06.2001", "status"] == "none"
        store.undo_coverage_change(2, "baru")
        assert store.coverage_marks().set_index("kode_desa").loc["53.03.06.2001", "status"] == "weak"
    finally:
        opened.close()


def _write_fixes(path: str, worker: int, n: int) -> int:
    """In a separate process: n fixes from 2 threads, one transaction each, as gunicorn threads write them."""
    from concurrent.futures import ThreadPoolExecutor

    from ntpd_map.store import open_store

    store = open_store(f"sqlite:///{path}")

    def one(i: int) -> int:
        at = datetime.fromtimestamp(T0 + i, UTC)
        return store.write_positions([ResponderPosition(f"w{worker}-{i % 2}", at, -9.4, 124.5)])

    with ThreadPoolExecutor(2) as pool:
        return sum(pool.map(one, range(n)))


def test_sqlite_writers_in_several_processes_and_threads_lose_nothing(tmp_path) -> None:
    import multiprocessing

    from ntpd_map.store import open_store

    path = str(tmp_path / "w.sqlite")
    open_store(f"sqlite:///{path}").migrate()
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        written = pool.starmap(_write_fixes, [(path, w, 300) for w in range(3)])
    assert written == [300, 300, 300]
    store = open_store(f"sqlite:///{path}")
    assert sum(len(store.track(f"w{w}-{k}", 0)) for w in range(3) for k in range(2)) == 900
    assert len(store.latest_positions()) == 6
