"""The life of every backend: migrations, a database that is down, writers in several processes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from ntpd_map.domain import (
    ResponderPosition,
)
from tests.store.fixtures import T0


def test_migrate_is_versioned_and_idempotent(store) -> None:
    version = store.schema_version()
    assert version >= 1
    assert store.migrate() == version

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

@pytest.mark.parametrize("kind", ["sqlite", "postgis"])
def test_account_and_audit_calls_raise_store_unavailable(kind, tmp_path) -> None:
    import sqlite3

    from ntpd_map.store import open_store
    from ntpd_map.store.model import StoreUnavailable

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


def protocol_methods(protocol: type) -> set[str]:
    return {name for name, value in vars(protocol).items() if callable(value) and not name.startswith("_")}


@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_each_backend_implements_every_concern_and_the_store_is_all_of_them(backend: str) -> None:
    from ntpd_map.store import PostGISStore, SQLiteStore
    from ntpd_map.store.base import CONCERNS, Store

    cls = {"sqlite": SQLiteStore, "postgis": PostGISStore}[backend]
    every = set()
    for concern in CONCERNS:
        methods = protocol_methods(concern)
        assert methods, f"{concern.__name__} declares no method"
        assert not every & methods, f"{concern.__name__} repeats {every & methods}: one concern per method"
        every |= methods
        missing = [m for m in methods if not callable(getattr(cls, m, None))]
        assert not missing, f"{cls.__name__} lacks {concern.__name__}.{missing}"
    # the Store adds only its own life (schema, connection) to the concerns
    assert protocol_methods(Store) == {"migrate", "schema_version", "ping", "close"}
    assert every >= {"write_incidents", "write_positions", "mark_coverage", "towers", "add_user", "audit",
                     "set_meta"}


def sql_literals(path: Path) -> set[str]:
    """Every SQL statement written as a string in a module, spaces folded and the placeholder written as ?."""
    import ast
    import re

    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        parts = [node.value] if isinstance(node, ast.Constant) and isinstance(node.value, str) else (
            ["".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)]
            if isinstance(node, ast.JoinedStr) else [])
        for text in parts:
            folded = " ".join(text.replace("%s", "?").split())
            if re.match(r"(SELECT|INSERT|UPDATE|DELETE|WITH)\b", folded) and len(folded) > 20:
                out.add(folded)
    return out


def test_no_statement_is_written_in_both_backends() -> None:
    """A query the two backends share lives once, in its concern's module, written with the placeholder."""
    store = Path(__file__).resolve().parents[2] / "ntpd_map" / "store"
    both = sql_literals(store / "sqlite.py") & sql_literals(store / "postgis.py")
    assert not both, f"written twice, only the placeholder between them: {sorted(both)}"


def test_the_duplicate_finder_sees_a_repeated_statement(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('Q = "SELECT value FROM meta WHERE key = ?"\n')
    (tmp_path / "b.py").write_text('Q = f"SELECT value FROM meta WHERE   key = %s"\n')
    assert sql_literals(tmp_path / "a.py") & sql_literals(tmp_path / "b.py")
