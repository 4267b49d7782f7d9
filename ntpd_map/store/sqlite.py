"""The embedded store: one SQLite file in WAL mode, a connection per thread, a busy timeout for writers."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ntpd_map.domain import INCIDENT_COLUMNS
from ntpd_map.store import model
from ntpd_map.store.accounts import AccountMethods, AccountSQL
from ntpd_map.store.audit import AuditMethods, AuditSQL
from ntpd_map.store.base import migrations, record_migration
from ntpd_map.store.bookkeeping import BookkeepingMethods
from ntpd_map.store.coverage import CoverageMethods, CoverageSQL
from ntpd_map.store.incidents import (
    UPDATABLE,
    IncidentMethods,
    arrow_from_frame,
    last_per_key,
    rows_from_frame,
    select_incidents,
)
from ntpd_map.store.model import IncidentQuery, StoreUnavailable, WriteResult, frame_from_rows
from ntpd_map.store.reference import ReferenceMethods
from ntpd_map.store.responders import ResponderMethods, ResponderSQL

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger(__name__)

_UPSERT = (
    f"INSERT INTO incidents ({', '.join(INCIDENT_COLUMNS)}, rev) "
    f"VALUES ({', '.join('?' * (len(INCIDENT_COLUMNS) + 1))}) "
    "ON CONFLICT (source, external_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*UPDATABLE, "rev"))
    + f" WHERE ({', '.join('incidents.' + c for c in UPDATABLE)}) IS NOT "
    f"({', '.join('excluded.' + c for c in UPDATABLE)})"
)
#: From this many rows a batch goes through an ADBC-written scratch database (see write_incidents).
BULK_ROWS = 20_000
_UPSERT_FROM_STAGE = (
    f"INSERT INTO incidents ({', '.join(INCIDENT_COLUMNS)}, rev) "
    f"SELECT {', '.join(INCIDENT_COLUMNS)}, ? FROM stage.batch WHERE true ORDER BY received_at "
    + _UPSERT[_UPSERT.index("ON CONFLICT"):]
)


#: SQLite's page cache per connection (one per thread), KiB
CACHE_KIB = 512


class SQLiteStore(IncidentMethods, ResponderMethods, CoverageMethods, ReferenceMethods, AccountMethods, AuditMethods,
                  BookkeepingMethods):
    _PH = '?'
    _SQL = ResponderSQL("?")
    _COVERAGE = CoverageSQL("?")
    _ACCOUNTS = AccountSQL("?")
    _AUDIT = AuditSQL("?")
    _BOOLEAN = int
    backend = "sqlite"

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._lock_fd: tuple[int, int] | None = None  # (pid, fd) of <db>.write-lock, opened once per process

    # connections ----------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # Every connection (one per thread, reading and writing alike) gets the same settings: WAL, so
            # readers never wait for a writer, and a busy timeout, so a writer waits for another process's
            # write instead of failing at once (tests/test_faults.py writes from two processes at once).
            try:
                conn = sqlite3.connect(self.path, timeout=self._busy_timeout_ms / 1000, isolation_level=None)
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes
                conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
                conn.execute("PRAGMA foreign_keys=ON")
                # each thread's connection keeps its own page cache of the same file, which the OS already
                # caches: 512 KiB each (SQLite's default is 2 MiB) keeps a worker's memory flat as the data
                # grows (bench/README.md, "Load"); 100k inserts take 10% longer, reads no longer
                conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            except sqlite3.Error as exc:
                if conn is not None:
                    conn.close()
                raise StoreUnavailable(f"cannot open the SQLite store {self.path}: {exc}") from exc
            if str(mode).lower() != "wal" and self.path != ":memory:":
                # e.g. a network filesystem without shared memory: readers and writers then block each other
                log.warning("SQLite store %s runs in %s journal mode, not WAL: readers will wait for writers",
                            self.path, mode)
            self._local.conn = conn
        return conn

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        with self._write_lock:
            if self._lock_fd is not None and self._lock_fd[0] == os.getpid():
                os.close(self._lock_fd[1])
            self._lock_fd = None

    def ping(self) -> None:
        self._query("SELECT 1")

    # schema -----------------------------------------------------------------------------------------------
    def migrate(self) -> int:
        conn = self._conn()
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)")
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, sql in migrations("sqlite"):
            if version in done:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in sql.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(record_migration(self._PH), (version, model.now_s()))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return self.schema_version()

    def schema_version(self) -> int:
        try:
            rows = self._query("SELECT max(version) FROM schema_migrations")
        except StoreUnavailable:
            return 0
        return int(rows[0][0] or 0)

    # incidents --------------------------------------------------------------------------------------------
    def write_incidents(self, frame: pd.DataFrame) -> WriteResult:
        if frame.empty:
            return WriteResult()
        frame, superseded = last_per_key(frame)
        n = len(frame)
        # Large batches skip per-row binding in Python (26 parameters a row caps it near 110k rows/s here):
        # ADBC writes the Arrow columns into a scratch database in C, and one INSERT ... SELECT upserts them.
        staged = _stage_with_adbc(frame) if n >= BULK_ROWS else None
        rows = None if staged else rows_from_frame(frame)
        conn = self._conn()
        try:
            if staged:  # attach and detach outside the transaction: SQLite refuses both inside one
                conn.execute("ATTACH DATABASE ? AS stage", (str(staged),))
            conn.execute("BEGIN IMMEDIATE")
            try:
                rev = self._next_rev(conn)
                before_max = conn.execute("SELECT coalesce(max(id), 0) FROM incidents").fetchone()[0]
                changes_before = conn.total_changes
                if staged:
                    conn.execute(_UPSERT_FROM_STAGE, (rev,))
                else:
                    conn.executemany(_UPSERT, [(*r, rev) for r in rows or []])
                changed = conn.total_changes - changes_before
                inserted = conn.execute("SELECT count(*) FROM incidents WHERE id > ?", (before_max,)).fetchone()[0]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc
        finally:
            if staged:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("DETACH DATABASE stage")
                staged.unlink(missing_ok=True)
        return WriteResult(inserted=inserted, updated=changed - inserted, unchanged=n + superseded - changed)

    @staticmethod
    def _next_rev(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO meta (key, value) VALUES ('rev', '1') "
                     "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
        return int(conn.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()[0])

    def incident_batches(self, query: IncidentQuery, size: int = 1000) -> Iterator[pd.DataFrame]:
        sql, params, columns = self._select(query)
        try:
            cursor = self._conn().execute(sql, params)
            while rows := cursor.fetchmany(size):
                yield frame_from_rows(rows, columns)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc

    def _select(self, query: IncidentQuery) -> tuple[str, list[Any], tuple[str, ...]]:
        # new rows since a version: the rev index finds them in under a millisecond; left to itself the planner
        # takes the time index and scans the window (40-60 ms on a 100k window)
        return select_incidents(query, hint=" INDEXED BY incidents_rev" if query.since_rev is not None else "")

    # writing: the hooks of the shared concern methods ---------------------------------------------------------
    def _run(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """(sql, rows) pairs through executemany in one write transaction; the rows each changed."""
        with self._write() as cur:
            changed = []
            for sql, rows in statements:
                cur.executemany(sql, rows)
                changed.append(cur.rowcount)
            return changed

    def _write_rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement in one write transaction, writers taking turns; the rows it returns (RETURNING)."""
        with self._write() as cur:
            return cur.execute(sql, params).fetchall()

    def _locked(self, table: str) -> contextlib.AbstractContextManager[sqlite3.Cursor]:
        """Every write of the file goes one at a time already (``_write``), whatever the table."""
        return self._write()

    @contextlib.contextmanager
    def _writers_in_turn(self) -> Iterator[None]:
        """Writers of this file take turns: threads on a lock, processes (gunicorn workers) on an flock of
        ``<db>.write-lock``. A waiting writer wakes the moment the lock is free; SQLite's own busy handler would
        sleep 1, 2, 5 ms and more between tries (bench/README.md: ~2 ms sleeps under 2,000 position reports/s).
        busy_timeout still guards against writers that do not take this lock (another program, the CLI)."""
        import fcntl

        with self._write_lock:
            if self.path == ":memory:":
                yield
                return
            if self._lock_fd is None or self._lock_fd[0] != os.getpid():  # a forked worker opens its own
                self._lock_fd = (os.getpid(), os.open(f"{self.path}.write-lock", os.O_RDWR | os.O_CREAT, 0o600))
            fd = self._lock_fd[1]
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        """A cursor in one write transaction (BEGIN IMMEDIATE: the compare-then-write below sees no other
        writer), committed when the block ends, rolled back on error."""
        with self._writers_in_turn():
            yield from self._write_unlocked()

    def _write_unlocked(self) -> Iterator[sqlite3.Cursor]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn.cursor()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc

def _stage_with_adbc(frame: pd.DataFrame) -> Path | None:
    """Write the batch into a scratch SQLite file with ADBC; None when ADBC is not installed."""
    try:
        import adbc_driver_sqlite.dbapi as adbc
    except ImportError:
        return None
    import tempfile

    fd, name = tempfile.mkstemp(prefix="ntpd-batch-", suffix=".sqlite")
    os.close(fd)
    path = Path(name)
    try:
        with adbc.connect(str(path)) as conn, conn.cursor() as cur:
            cur.adbc_ingest("batch", arrow_from_frame(frame), mode="create")
            conn.commit()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
