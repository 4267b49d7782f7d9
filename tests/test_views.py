"""Counters, windows and list rows: what the screens show, computed without Dash."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from ntpd_map.views import duration_text, headline, list_rows, local_time, window_bounds

NOW = 1_750_000_000


def frame(rows: list[dict]) -> pd.DataFrame:
    base = {"id": 0, "received_at": NOW, "call_type": "prank", "category": None, "category_label": None,
            "outcome": "resolved", "agency": None, "kode_kec": None, "kode_desa": None, "flags": 0,
            "caller_last3": "987", "caller_hash": "x" * 64, "notes": "RAHASIA"}
    return pd.DataFrame([{**base, "id": i, **r} for i, r in enumerate(rows)])


def test_headline_counts_and_oldest_open() -> None:
    f = frame([
        {"call_type": "genuine", "outcome": "open", "received_at": NOW - 7200},
        {"call_type": "genuine", "outcome": "dispatched", "received_at": NOW - 600},
        {"call_type": "genuine", "outcome": "resolved"},
        {"call_type": "ghost"}, {"call_type": "dropped"}, {"call_type": "info"},
    ])
    h = headline(f, NOW)
    assert (h.calls, h.genuine, h.open) == (6, 3, 2)
    assert h.noise_share == 2 / 6
    assert h.oldest_open_s == 7200
    assert headline(f.iloc[0:0], NOW).calls == 0


def test_custom_window_is_local_dates_inclusive() -> None:
    start, end = window_bounds("custom", NOW, "2025-05-01", "2025-09-30", "Asia/Makassar")
    zone = ZoneInfo("Asia/Makassar")
    assert start == int(datetime(2025, 5, 1, tzinfo=zone).timestamp())
    assert end == int(datetime(2025, 10, 1, tzinfo=zone).timestamp())
    assert window_bounds("1h", NOW) == (NOW - 3600, NOW + 1)


def test_local_time_in_center_zone() -> None:
    ts = int(datetime(2025, 5, 1, 0, 30, tzinfo=ZoneInfo("UTC")).timestamp())
    assert local_time(ts, "Asia/Makassar", "%H:%M") == "08:30"  # WITA = UTC+8
    assert local_time(ts, "Asia/Jayapura", "%H:%M") == "09:30"  # WIT = UTC+9
    assert duration_text(125 * 60) == "2 jam 5 mnt"
    assert duration_text(90, "en") == "1 min"


def test_list_rows_translate_and_carry_no_personal_data() -> None:
    f = frame([{"call_type": "genuine", "category": "fire", "kode_kec": "53.03.06", "kode_desa": "53.03.06.2001",
                "agency": "Damkar TTU"}])
    rows = list_rows(f, {"53.03.06": "Kota Kefamenanu", "53.03.06.2001": "Desa A"}, "Asia/Makassar", "id")
    assert rows[0]["call_type"] == "Darurat" and rows[0]["category"] == "Kebakaran"
    assert rows[0]["kecamatan"] == "Kota Kefamenanu" and rows[0]["desa"] == "Desa A"
    text = repr(rows)
    assert "987" not in text and "RAHASIA" not in text and "x" * 64 not in text


def test_headline_from_store_equals_headline_of_the_rows(store) -> None:
    from ntpd_map.store.model import IncidentQuery
    from ntpd_map.views import active_incidents, headline_from_store
    from tests.store.fixtures import T0
    from tests.store.fixtures import frame as contract_frame

    store.write_incidents(contract_frame(40, outcome="open"))
    now = T0 + 3600
    for query in (IncidentQuery(start=T0, end=now), IncidentQuery(call_types=("prank",)),
                  IncidentQuery(outcomes=("resolved",)), IncidentQuery(kode_kec=("53.03.06",))):
        assert headline_from_store(store, query, now) == headline(store.incidents(query), now)
        # a refresh that read the open emergencies already hands them over: the same counters
        assert headline_from_store(store, query, now, active_incidents(store, query)) == headline(
            store.incidents(query), now)


def test_the_open_emergencies_are_the_genuine_calls_not_yet_closed_oldest_first(store) -> None:
    from ntpd_map.store.model import IncidentQuery
    from ntpd_map.views import active_incidents, active_rows, age_level
    from tests.store.fixtures import T0
    from tests.store.fixtures import frame as contract_frame

    # every 4th row is genuine (fixtures.frame); give them every outcome in turn
    rows = contract_frame(32)
    outcomes = ["open", "dispatched", "on_scene", "resolved", "not_followed_up"]
    rows.loc[rows["call_type"] == "genuine", "outcome"] = [outcomes[i % 5] for i in range(8)]
    store.write_incidents(rows)
    now = T0 + 3600
    got = active_incidents(store, IncidentQuery(start=T0, end=now))
    stored = store.incidents(IncidentQuery(start=T0, end=now))
    expected = stored[(stored["call_type"] == "genuine") & stored["outcome"].isin(outcomes[:3])]
    assert sorted(got["id"]) == sorted(expected["id"]) and len(got) == 6
    assert list(got["received_at"]) == sorted(got["received_at"])  # the oldest, waiting longest, first
    # the view's filters hold: prank calls only, or resolved only, leave none open
    assert active_incidents(store, IncidentQuery(call_types=("prank",))).empty
    assert active_incidents(store, IncidentQuery(outcomes=("resolved",))).empty
    assert len(active_incidents(store, IncidentQuery(outcomes=("open",)))) == 2

    shown = active_rows(got, {"53.03.06": "Kota Kefamenanu"}, "id", now, amber_s=15 * 60, red_s=30 * 60)
    assert [r["minutes"] for r in shown] == [(now - int(t)) // 60 for t in got["received_at"]]
    assert shown[0]["category"] == "Medis" and "RAHASIA" not in repr(shown) and "h" * 64 not in repr(shown)
    assert [age_level(s, 900, 1800) for s in (0, 899, 900, 1799, 1800)] == ["", "", "amber", "amber", "red"]
