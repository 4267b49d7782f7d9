"""CoverageStore, on every backend: the trail of marks, undo, signal samples."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from ntpd_map.domain import (
    CoverageMark,
    SignalStatus,
)
from tests.store.fixtures import BIG_H3, T0


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
