"""Marking and undoing on the coverage page (issue 7), through the page's own functions: only a session signed in
with a valid planner or admin key writes, the author is the key's name, a bad field is named, a store that is
down writes nothing and says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from ntpd_map.auth import create_api_key
from ntpd_map.domain import CoverageMark, SignalStatus
from ntpd_map.signin import SESSION_KEY
from ntpd_map.store.base import StoreUnavailable


def session_of(key_id: int, name: str, role: str | None) -> dict:
    return {SESSION_KEY: {"id": key_id, "name": name, "role": role}}


@pytest.fixture
def rt(runtime, tmp_path: Path):
    from ntpd_map.config import Settings
    from ntpd_map.runtime import Runtime

    fresh = Runtime(Settings.from_env(NTPD_DATA_DIR=str(tmp_path), NTPD_REGION="53.03", NTPD_SIMULATE="off",
                                      NTPD_DATABASE_URL=f"sqlite:///{tmp_path / 'm.sqlite'}", NTPD_TILE_URL=""))
    fresh.__dict__["region"] = runtime.region
    return fresh


FORM = {"status": "tidak ada sinyal", "operators": " Telkomsel,  XL ", "surveyed_on": "2025-06-01T00:00:00",
        "evidence": "0 bar di dusun 2"}


def test_only_a_valid_planner_or_admin_session_marks_and_the_author_is_the_key_name(rt) -> None:
    from ntpd_map.callbacks.coverage import save_mark

    store = rt.store
    kode = str(rt.region.desa["kode"].iloc[0])
    planner_id, _ = create_api_key(store, "budi", "planner")
    read_id, _ = create_api_key(store, "dashboard", "read")

    ok, message = save_mark(rt, {}, kode, FORM, "id")
    assert not ok and message.startswith("Tidak tersimpan: masuk dulu")
    ok, message = save_mark(rt, session_of(read_id, "dashboard", "read"), kode, FORM, "en")
    assert not ok and "role read" in message
    assert store.coverage_history().empty  # nothing was written

    ok, message = save_mark(rt, session_of(planner_id, "budi", "planner"), kode, FORM, "id")
    assert ok and "Belum ditandai → Tidak ada sinyal" in message, message
    change = store.coverage_history(kode).iloc[0]
    assert (change["author"], change["status"], change["operators"], change["surveyed_on"], change["evidence"]) == (
        "budi", "none", "Telkomsel, XL", "2025-06-01", "0 bar di dusun 2")
    # the same again changes nothing, and says so
    ok, message = save_mark(rt, session_of(planner_id, "budi", "planner"), kode, FORM, "id")
    assert not ok and message.startswith("Tidak ada perubahan") and len(store.coverage_history(kode)) == 1
    # a bad field is named, nothing written
    ok, message = save_mark(rt, session_of(planner_id, "budi", "planner"), kode, {**FORM, "status": "ramai"}, "id")
    assert not ok and "status" in message and len(store.coverage_history(kode)) == 1
    ok, message = save_mark(rt, session_of(planner_id, "budi", "planner"), kode, {**FORM, "status": None}, "id")
    assert not ok and "pilih status sinyal" in message
    ok, message = save_mark(rt, session_of(planner_id, "budi", "planner"), None, FORM, "id")
    assert not ok and message == "Pilih desa dulu."
    # revoked since signing in: refused at the next click
    store.revoke_api_key(planner_id)
    ok, message = save_mark(rt, session_of(planner_id, "budi", "planner"), kode, {**FORM, "status": "baik"}, "id")
    assert not ok and "dicabut" in message and len(store.coverage_history(kode)) == 1


def test_undo_is_checked_the_same_way_and_refuses_a_change_that_is_no_longer_the_latest(rt) -> None:
    from ntpd_map.callbacks.coverage import undo_latest

    store = rt.store
    kode = str(rt.region.desa["kode"].iloc[0])
    admin_id, _ = create_api_key(store, "kabid", "admin")
    first = store.mark_coverage(CoverageMark(kode, SignalStatus.WEAK, author="ani"))
    ok, message = undo_latest(rt, {}, first, "id")
    assert not ok and "masuk dulu" in message and len(store.coverage_history(kode)) == 1
    second = store.mark_coverage(CoverageMark(kode, SignalStatus.NONE, author="ani"))
    ok, message = undo_latest(rt, session_of(admin_id, "kabid", "admin"), first, "id")
    assert not ok and f"change {second}" in message  # the later change must be undone first
    ok, message = undo_latest(rt, session_of(admin_id, "kabid", "admin"), second, "id")
    assert ok and message.startswith(f"Dibatalkan: perubahan #{second}")
    latest = store.coverage_history(kode).iloc[0]
    assert (latest["action"], latest["author"], latest["status"], int(latest["undoes"])) == (
        "undo", "kabid", "weak", second)
    assert not undo_latest(rt, session_of(admin_id, "kabid", "admin"), None, "id")[0]


def test_a_store_that_is_down_writes_nothing_and_says_so(rt) -> None:
    from ntpd_map.callbacks.coverage import save_mark, undo_latest

    planner_id, _ = create_api_key(rt.store, "budi", "planner")
    kode = str(rt.region.desa["kode"].iloc[0])

    def down(*_args: object, **_kw: object) -> None:
        raise StoreUnavailable("test")

    rt.store.mark_coverage = down
    ok, message = save_mark(rt, session_of(planner_id, "budi", "planner"), kode, FORM, "id")
    assert not ok and message.startswith("Basis data tidak terjangkau - BELUM tersimpan")
    rt.store.api_keys = down
    ok, message = undo_latest(rt, session_of(planner_id, "budi", "planner"), 1, "en")
    assert not ok and message.startswith("Database unreachable - NOT saved")
