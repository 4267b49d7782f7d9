"""The simulated scenario: deterministic, labelled, in the proportions of the source documents (issue 2)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from ntpd_map.simulate import CALLS_PER_PERSON_DAY, load_scenario, short_name, simulate
from ntpd_map.store import IncidentQuery, open_store

END = datetime(2025, 10, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def scenario(ttu):
    return simulate(ttu, days=150, seed=1, end=END)


def test_same_seed_same_scenario_row_for_row(ttu, scenario) -> None:
    again = simulate(ttu, days=150, seed=1, end=END)
    pd.testing.assert_frame_equal(scenario.incidents, again.incidents)
    assert scenario.units == again.units and scenario.marks == again.marks
    other = simulate(ttu, days=150, seed=2, end=END)
    assert not scenario.incidents["lat"].equals(other.incidents["lat"])


def test_volumes_and_mix_follow_ttu_figures(ttu, scenario) -> None:
    inc = scenario.incidents
    population = int(ttu.kabkota["population"].sum())
    expected = CALLS_PER_PERSON_DAY * population * 150  # 4,428 calls in 153 days for TTU
    assert abs(len(inc) - expected) < 4 * expected**0.5
    shares = inc["call_type"].value_counts(normalize=True)
    assert 0.02 < shares["genuine"] < 0.06  # TTU: 167 of 4,428 (3.8%)
    assert shares[["prank", "ghost", "dropped"]].sum() > 0.8
    genuine = inc[inc["call_type"] == "genuine"]
    closed = genuine[genuine["outcome"].isin(["resolved", "not_followed_up"])]
    resolved_share = (closed["outcome"] == "resolved").mean()
    assert 0.75 < resolved_share < 0.95  # TTU: 144 of 167
    assert genuine["agency"].notna().all() and genuine["category"].notna().all()
    assert inc["received_at"].between(int(END.timestamp()) - 150 * 86400, int(END.timestamp())).all()


def test_every_record_is_labelled_simulated(scenario) -> None:
    assert scenario.incidents["simulated"].all()
    assert (scenario.incidents["source"] == "simulasi").all()
    assert all(u.simulated for u in scenario.units)
    assert all(m.simulated and "SIMULASI" in (m.evidence or "") for m in scenario.marks)


def test_points_fall_in_their_region(ttu, scenario) -> None:
    import shapely

    inc = scenario.incidents.dropna(subset=["lat"])
    outline = ttu.kabkota.geometry.union_all().buffer(0.05)  # cell fixes wander a few km
    assert shapely.contains_xy(outline, inc["lon"], inc["lat"]).mean() > 0.99


def test_load_scenario_labels_store_and_is_idempotent(tmp_path, ttu, ttu_locator) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    store.migrate()
    first = load_scenario(store, ttu, ttu_locator, days=30, seed=5, end=END)
    assert first["inserted"] == first["calls"] > 0
    assert store.get_meta("scenario") == "simulated"
    again = load_scenario(store, ttu, ttu_locator, days=30, seed=5, end=END)
    assert (again["inserted"], again["unchanged"]) == (0, first["calls"])
    located = store.count_incidents(IncidentQuery(kode_kec=tuple(ttu.kecamatan["kode"])))
    assert located > 0.8 * first["calls"]  # most calls have a place; unknown-location noise has none
    assert len(store.latest_positions()) == len(store.units()) == first["units"]


def test_short_names() -> None:
    assert short_name("Kabupaten Timor Tengah Utara") == "TTU"
    assert short_name("Kota Kendari") == "Kendari"
    assert short_name("Kabupaten Sumenep") == "Sumenep"
