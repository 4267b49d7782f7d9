"""IncidentStore, on every backend: upserts, filters, batches, counts, the data version."""

from __future__ import annotations

import pandas as pd
import pytest

from ntpd_map.store.model import IncidentQuery
from tests.store.fixtures import BIG_H3, T0, frame


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
