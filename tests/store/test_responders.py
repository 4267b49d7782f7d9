"""ResponderStore, on every backend: units, positions, tracks, pruning, unknown devices."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ntpd_map.domain import (
    AgencyKind,
    ResponderPosition,
    Unit,
    UnitStatus,
)
from tests.store.fixtures import fix_at


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

def test_a_repeated_fix_is_stored_once(store) -> None:
    assert store.write_positions([fix_at("dev-1", 1), fix_at("dev-1", 2)]) == 2
    # the phone lost our answer and sends both again, with one new fix
    assert store.write_positions([fix_at("dev-1", 1), fix_at("dev-1", 2), fix_at("dev-1", 3)]) == 1
    assert list(store.track("dev-1", 0)["recorded_at"].diff().dropna()) == [60, 60]
    assert store.write_positions([]) == 0

def test_a_late_backlog_does_not_move_the_unit_back(store) -> None:
    store.write_positions([fix_at("dev-1", 30, lat=-9.30)])
    # a phone out of signal sends its older fixes when it reconnects: history grows, the unit stays put
    store.write_positions([fix_at("dev-1", 10, lat=-9.10), fix_at("dev-1", 20, lat=-9.20)])
    latest = store.latest_positions()
    assert latest["lat"].tolist() == [pytest.approx(-9.30)]
    assert len(store.track("dev-1", 0)) == 3

def test_track_since_oldest_first(store) -> None:
    store.write_positions([fix_at("dev-1", m, lat=-9.0 - m / 100, speed_kmh=30.0, bearing=90.0) for m in (5, 1, 3)]
                          + [fix_at("dev-2", 4)])
    since = int(datetime(2025, 6, 1, 8, 2, tzinfo=UTC).timestamp())
    track = store.track("dev-1", since)
    assert list(track.columns) == ["recorded_at", "lat", "lon", "speed_kmh", "bearing", "source"]
    assert track["lat"].tolist() == pytest.approx([-9.03, -9.05])
    assert track["speed_kmh"].tolist() == [30.0, 30.0]
    assert store.track("nobody", 0).empty

def test_prune_deletes_old_fixes_in_batches_and_keeps_the_latest(store) -> None:
    store.write_positions([fix_at("dev-1", m) for m in range(10)] + [fix_at("dev-2", 3)])
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
    store.write_positions([fix_at("dev-1", 1)])
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
