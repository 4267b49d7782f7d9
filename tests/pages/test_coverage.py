"""Marking and undoing on the coverage page (issues 7 and 8), through the page's own functions: only a person
signed in as a planner or admin writes (the gate puts who it is in ``flask.g``), the author is their user name,
each change is in the audit log, a bad field is named, a store that is down writes nothing and says so."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ntpd_map.domain import CoverageMark, SignalStatus
from ntpd_map.store.model import StoreUnavailable


@contextmanager
def signed_in(kind: str | None, name: str = "", role: str = ""):
    """A request as the gate leaves it: ``g.ntpd_identity`` (None: anonymous)."""
    from flask import Flask, g

    from ntpd_map.access.identity import Identity

    with Flask(__name__).test_request_context("/_dash-update-component", method="POST"):
        if kind is not None:
            g.ntpd_identity = Identity(kind, 7, name, role)
            g.ntpd_actor = g.ntpd_identity.actor
        yield


def as_(kind: str | None, name: str, role: str, call: Callable[..., Any], *args: Any) -> Any:
    with signed_in(kind, name, role):
        return call(*args)


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


def test_only_a_planner_or_admin_marks_the_author_is_the_user_and_it_is_audited(rt) -> None:
    from ntpd_map.pages.coverage.callbacks import save_mark

    store = rt.store
    kode = str(rt.region.desa["kode"].iloc[0])

    ok, message = as_(None, "", "", save_mark, rt, kode, FORM, "id")
    assert not ok and message.startswith("Tidak tersimpan: masuk dulu")
    ok, message = as_("user", "ani", "operator", save_mark, rt, kode, FORM, "en")
    assert not ok and "role operator" in message
    ok, message = as_("display", "layar-1", "wall", save_mark, rt, kode, FORM, "en")
    assert not ok and "role wall" in message
    assert store.coverage_history().empty  # nothing was written

    ok, message = as_("user", "budi", "planner", save_mark, rt, kode, FORM, "id")
    assert ok and "Belum ditandai → Tidak ada sinyal" in message, message
    change = store.coverage_history(kode).iloc[0]
    assert (change["author"], change["status"], change["operators"], change["surveyed_on"], change["evidence"]) == (
        "budi", "none", "Telkomsel, XL", "2025-06-01", "0 bar di dusun 2")
    entry = store.audit_log(action="coverage.mark").iloc[0]
    assert (entry["actor"], entry["target"]) == ("user:budi", kode)
    # the same again changes nothing, and says so
    ok, message = as_("user", "budi", "planner", save_mark, rt, kode, FORM, "id")
    assert not ok and message.startswith("Tidak ada perubahan") and len(store.coverage_history(kode)) == 1
    # a bad field is named, nothing written
    ok, message = as_("user", "budi", "planner", save_mark, rt, kode, {**FORM, "status": "ramai"}, "id")
    assert not ok and "status" in message and len(store.coverage_history(kode)) == 1
    ok, message = as_("user", "budi", "planner", save_mark, rt, kode, {**FORM, "status": None}, "id")
    assert not ok and "pilih status sinyal" in message
    ok, message = as_("user", "budi", "planner", save_mark, rt, None, FORM, "id")
    assert not ok and message == "Pilih desa dulu."
    assert len(store.audit_log(action="coverage.mark")) == 1


def test_undo_is_checked_the_same_way_and_refuses_a_change_that_is_no_longer_the_latest(rt) -> None:
    from ntpd_map.pages.coverage.callbacks import undo_latest

    store = rt.store
    kode = str(rt.region.desa["kode"].iloc[0])
    first = store.mark_coverage(CoverageMark(kode, SignalStatus.WEAK, author="ani"))
    ok, message = as_(None, "", "", undo_latest, rt, first, "id")
    assert not ok and "masuk dulu" in message and len(store.coverage_history(kode)) == 1
    second = store.mark_coverage(CoverageMark(kode, SignalStatus.NONE, author="ani"))
    ok, message = as_("user", "kabid", "admin", undo_latest, rt, first, "id")
    assert not ok and f"change {second}" in message  # the later change must be undone first
    ok, message = as_("user", "kabid", "admin", undo_latest, rt, second, "id")
    assert ok and message.startswith(f"Dibatalkan: perubahan #{second}")
    latest = store.coverage_history(kode).iloc[0]
    assert (latest["action"], latest["author"], latest["status"], int(latest["undoes"])) == (
        "undo", "kabid", "weak", second)
    entry = store.audit_log(action="coverage.undo").iloc[0]
    assert (entry["actor"], entry["target"]) == ("user:kabid", str(second))
    assert not as_("user", "kabid", "admin", undo_latest, rt, None, "id")[0]


def test_a_store_that_is_down_writes_nothing_and_says_so(rt) -> None:
    from ntpd_map.pages.coverage.callbacks import save_mark, undo_latest

    kode = str(rt.region.desa["kode"].iloc[0])

    def down(*_args: object, **_kw: object) -> None:
        raise StoreUnavailable("test")

    rt.store.mark_coverage = down
    ok, message = as_("user", "budi", "planner", save_mark, rt, kode, FORM, "id")
    assert not ok and message.startswith("Basis data tidak terjangkau - BELUM tersimpan")
    rt.store.undo_coverage_change = down
    ok, message = as_("user", "budi", "planner", undo_latest, rt, 1, "en")
    assert not ok and message.startswith("Database unreachable - NOT saved")
