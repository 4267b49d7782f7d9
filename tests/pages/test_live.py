"""The live refresh written once (pages/live.py), on a real store: nothing when nothing changed, a Patch of new
rows, the whole window when a drawn row changed, the view changed or the window slid, and the last good view
for a page opened while the store is down."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from flask_caching import Cache

from ntpd_map.domain import INCIDENT_COLUMNS
from ntpd_map.pages.live import FULL_REFRESH_S, LiveLayer, last_good_key, recall, remember
from ntpd_map.store import open_store
from ntpd_map.store.model import IncidentQuery

NOW = int(time.time())
DAY = IncidentQuery(start=NOW - 86400, end=NOW + 1)


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(f"sqlite:///{tmp_path / 'live.sqlite'}")
    s.migrate()
    yield s
    s.close()


def write(store: Any, numbers: Any, outcome: str = "open") -> None:
    rows = []
    for i in numbers:
        row: dict[str, Any] = dict.fromkeys(INCIDENT_COLUMNS)
        row.update(source="live-test", external_id=f"L-{i}", received_at=NOW - 600 + i, call_type="genuine",
                   category="fire", outcome=outcome, lat=-9.4 - 0.01 * i, lon=124.4 + 0.01 * i, flags=0,
                   location_source="gps",
                   simulated=False, attrs={})
        rows.append(row)
    store.write_incidents(pd.DataFrame(rows, columns=list(INCIDENT_COLUMNS)))


def ids(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["id"].astype(int).tolist())


def test_whole_then_nothing_then_a_patch_then_the_whole_again(store) -> None:
    live = LiveLayer("test")
    write(store, range(3))
    first = live.read(store, {}, DAY, "k", NOW)
    assert first is not None and first.whole is not None and first.new is None
    assert first.whole.max_id == 3 and first.whole.bounds == [[pytest.approx(-9.43), pytest.approx(124.39)],
                                                             [pytest.approx(-9.39), pytest.approx(124.43)]]
    sync = live.sent({}, first, "k", NOW)
    assert live.read(store, sync, DAY, "k", NOW + 5) is None, "an idle page was sent something"

    write(store, [3, 4])
    patch = live.read(store, sync, DAY, "k", NOW + 10)
    assert patch is not None and patch.whole is None and len(patch.new) == 2
    sync = live.sent(sync, patch, "k", NOW + 10)
    assert sync["max_id"] == 5 and live.read(store, sync, DAY, "k", NOW + 15) is None

    write(store, [0], outcome="resolved")  # a drawn row restyled: the whole goes out
    updated = live.read(store, sync, DAY, "k", NOW + 20)
    assert updated is not None and updated.whole is not None and updated.version > sync["version"]
    sync = live.sent(sync, updated, "k", NOW + 20)
    # a new view (filters), a forced redraw, a sliding window, and a page that was down each get the whole
    for changed, kwargs in (({}, {"key": "other"}), ({}, {"force": True}),
                            ({"full_at": sync["full_at"] - FULL_REFRESH_S}, {}), ({"down": True}, {})):
        delta = live.read(store, {**sync, **changed}, DAY, kwargs.pop("key", "k"), NOW + 25, **kwargs)
        assert delta is not None and delta.whole is not None, changed


def test_a_shared_whole_serves_views_redrawing_together_but_never_an_older_one(store, monkeypatch) -> None:
    live = LiveLayer("walls", share_s=30, spread=True)
    write(store, range(2))
    reads: list[Any] = []
    batches = store.incident_batches
    monkeypatch.setattr(store, "incident_batches", lambda q, *a: reads.append(q) or batches(q, *a))
    a = live.read(store, {}, DAY, "wall", NOW)
    b = live.read(store, {}, DAY, "wall", NOW + 1)
    assert len(reads) == 1 and a is not None and b is not None and a.whole is b.whole
    sync = live.sent({}, a, "wall", NOW)
    assert NOW - FULL_REFRESH_S // 5 < sync["full_at"] <= NOW  # spread: up to a fifth sooner
    write(store, [2])
    opened = live.read(store, {}, DAY, "wall", NOW + 2)  # a view opening after a change reads again
    assert len(reads) == 2 and opened is not None and opened.whole is not None and opened.whole.max_id == 3


def test_a_page_opened_while_the_store_is_down_gets_the_last_good_view(tmp_path: Path) -> None:
    cache = Cache(Flask(__name__), config={"CACHE_TYPE": "SimpleCache"})
    live = LiveLayer("test")
    key = last_good_key("test", "53.03", "id")
    remember(cache, key, {"at": NOW - 60, "bulk": "data"})
    sync: dict[str, Any] = {}
    last = live.down(sync, cache, key)
    assert last == recall(cache, key) and sync == {"down": True, "cached_at": NOW - 60}
    assert live.down({"ok_at": NOW}, cache, key) is None  # a page that has drawn data keeps it
    assert live.down({}, cache, key, may_recall=False) is None  # a view other than the default one
    assert live.down({}, cache, last_good_key("test", "53.03", "en")) is None  # nothing kept for it
