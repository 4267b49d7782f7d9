"""The simulated scenario: deterministic, labelled, in the proportions of the source documents (issue 2)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from ntpd_map.ingest.simulate import CALLS_PER_PERSON_DAY, load_scenario, short_name, simulate
from ntpd_map.store import open_store
from ntpd_map.store.model import IncidentQuery

END = datetime(2025, 10, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def scenario(ttu):
    return simulate(ttu, days=150, seed=1, end=END)


def test_same_seed_same_scenario_row_for_row(ttu, scenario) -> None:
    again = simulate(ttu, days=150, seed=1, end=END)
    pd.testing.assert_frame_equal(scenario.incidents, again.incidents)
    assert scenario.units == again.units and scenario.marks == again.marks
    assert scenario.towers == again.towers and scenario.towers
    other = simulate(ttu, days=150, seed=2, end=END)
    assert not scenario.incidents["lat"].equals(other.incidents["lat"])
    assert [(t.lat, t.lon) for t in other.towers] != [(t.lat, t.lon) for t in scenario.towers]


def test_towers_do_not_depend_on_the_days_or_end(ttu, scenario) -> None:
    """Towers have their own generator: the same seed gives the same towers for any window, and the calls
    (drawn before them from the scenario's generator) are what they were before towers existed."""
    assert simulate(ttu, days=7, seed=1, end=datetime(2026, 1, 1, tzinfo=UTC)).towers == scenario.towers


def test_simulated_towers_look_like_macro_sites_of_the_region(ttu, scenario) -> None:
    import shapely

    towers = scenario.towers
    n_kec = len(ttu.kecamatan)
    assert 0.4 * n_kec + 3 <= len(towers) <= 0.9 * n_kec + 3  # about 2/3 of the kecamatan, plus 3 at the centre
    assert all(t.simulated and t.source == "simulasi" for t in towers)
    assert {t.radio for t in towers} <= {"GSM", "LTE"} and {t.mcc for t in towers} == {510}
    assert {t.net for t in towers} <= {1, 10, 11}
    assert all(t.range_m is not None and 2000 <= t.range_m <= 8000 for t in towers)
    assert len({(t.radio, t.net, t.area, t.cell) for t in towers}) == len(towers)  # each its own tower
    outline = ttu.kabkota.geometry.union_all().buffer(0.03)  # a coastal site may stand just off the polygon
    assert shapely.contains_xy(outline, [t.lon for t in towers], [t.lat for t in towers]).all()
    # the sites drawn per kecamatan (all but the last 3) stand in distinct kecamatan, not piled in one
    kecamatan = ttu.kecamatan.set_index("kode").geometry
    homes = [next((k for k, g in kecamatan.items() if g.contains(shapely.Point(t.lon, t.lat))), None)
             for t in towers[:-3]]
    assert len({h for h in homes if h}) >= 0.8 * len(homes)


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
    towers = store.towers()
    assert len(towers) == first["towers"] > 0 and towers["simulated"].all()


def test_simulated_towers_never_join_real_ones(tmp_path, ttu, ttu_locator) -> None:
    from ntpd_map.domain import Tower

    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    store.migrate()
    store.add_towers([Tower(-9.45, 124.48, "opencellid", "LTE", 510, 10, 1, 2)])
    summary = load_scenario(store, ttu, ttu_locator, days=1, seed=5, end=END)
    assert summary["towers"] > 0
    assert store.towers()["source"].tolist() == ["opencellid"]


def test_short_names() -> None:
    assert short_name("Kabupaten Timor Tengah Utara") == "TTU"
    assert short_name("Kota Kendari") == "Kendari"
    assert short_name("Kabupaten Sumenep") == "Sumenep"


def test_simulated_fleet_keeps_reporting_and_leaves_real_units_alone(tmp_path, ttu, ttu_locator) -> None:
    import shapely

    from ntpd_map.domain import AgencyKind, ResponderPosition, Unit
    from ntpd_map.ingest.simulate import FLEET_EVERY_S, fleet_step

    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    store.migrate()
    load_scenario(store, ttu, ttu_locator, days=1, seed=5, end=END)
    store.upsert_units([Unit("real-1", "Ambulans RSUD 1", "RSUD", AgencyKind.MEDICAL)])
    store.write_positions([ResponderPosition("real-1", END, -9.45, 124.48)])
    sim = sorted(store.units().query("simulated")["device_id"])
    silent = frozenset(sim[:3])
    now = int(END.timestamp()) + 60
    assert fleet_step(store, ttu, now, seed=5, silent=silent) == len(sim) - 3
    latest = store.latest_positions().set_index("device_id")
    step_time = now // FLEET_EVERY_S * FLEET_EVERY_S
    moved = latest.loc[sorted(set(sim) - silent)]
    assert (moved["recorded_at"] == step_time).all() and (moved["source"] == "sim").all()
    assert moved["simulated"].all()
    assert (latest.loc[sorted(silent), "recorded_at"] < step_time).all()  # silent phones stay silent
    assert int(latest.loc["real-1", "recorded_at"]) == int(END.timestamp())  # a real unit is never moved
    area = ttu.kabkota.geometry.union_all()
    assert shapely.contains_xy(area, moved["lon"].to_numpy(), moved["lat"].to_numpy()).all()
    # deterministic: the same step again writes nothing new (same device and time), and moves nothing
    assert fleet_step(store, ttu, now, seed=5, silent=silent) == 0
    # dispatched units drive: over ten steps they cover ground at 20-60 km/h
    driving = sorted(set(sim) - silent)[:2]
    for device in driving:
        store.set_unit_status(device, "dispatched")
    start = latest.loc[driving, ["lat", "lon"]].copy()
    for k in range(1, 11):
        fleet_step(store, ttu, now + k * FLEET_EVERY_S, seed=5, silent=silent)
    end = store.latest_positions().set_index("device_id").loc[driving, ["lat", "lon"]]
    km = ((end - start) ** 2).sum(axis=1) ** 0.5 * 111
    assert (km > 0.1).all() and (km < 60 * 100 / 3600 + 0.1).all()
    idle = sorted(set(sim) - silent - set(driving) - set(store.units().query("status == 'returning'")["device_id"]))
    idle_km = ((store.latest_positions().set_index("device_id").loc[idle, ["lat", "lon"]]
                - latest.loc[idle, ["lat", "lon"]]) ** 2).sum(axis=1) ** 0.5 * 111
    assert (idle_km < 0.06).all()  # the others only jitter by metres
