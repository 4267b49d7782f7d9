"""The embedded store: one SQLite file in WAL mode, a connection per thread, a busy timeout for writers."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ntpd_map.domain import INCIDENT_COLUMNS
from ntpd_map.store._common import (
    POPULATION_COLUMNS,
    POPULATION_DTYPES,
    SAMPLE_DTYPES,
    TOWER_COLUMNS,
    TOWER_DTYPES,
    UPDATABLE,
    AccountSQL,
    CoverageSQL,
    ResponderSQL,
    SharedMethods,
    arrow_from_frame,
    check_groupable,
    frame_from_rows,
    last_per_key,
    now_s,
    rows_from_frame,
    select_incidents,
    typed_frame,
    undo_change,
    where_from_query,
    write_marks,
    write_population,
    write_samples,
    write_towers,
)
from ntpd_map.store.base import IncidentQuery, StoreUnavailable, WriteResult, migrations

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.domain import CoverageMark, PopulationFigure, SignalSample, Tower

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
_COVERAGE = CoverageSQL("?")


#: SQLite's page cache per connection (one per thread), KiB
CACHE_KIB = 512


class SQLiteStore(SharedMethods):
    _SQL = ResponderSQL("?")
    _COVERAGE = _COVERAGE
    _ACCOUNTS = AccountSQL("?")
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
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, now_s()))
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

    def incidents(self, query: IncidentQuery) -> pd.DataFrame:
        sql, params, columns = self._select(query)
        return frame_from_rows(self._query(sql, params), columns)

    def incident_batches(self, query: IncidentQuery, size: int = 1000) -> Iterator[pd.DataFrame]:
        sql, params, columns = self._select(query)
        try:
            cursor = self._conn().execute(sql, params)
            while rows := cursor.fetchmany(size):
                yield frame_from_rows(rows, columns)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc

    @staticmethod
    def _select(query: IncidentQuery) -> tuple[str, list[Any], tuple[str, ...]]:
        # new rows since a version: the rev index finds them in under a millisecond; left to itself the planner
        # takes the time index and scans the window (40-60 ms on a 100k window)
        return select_incidents(query, hint=" INDEXED BY incidents_rev" if query.since_rev is not None else "")

    def count_incidents(self, query: IncidentQuery = IncidentQuery()) -> int:
        where, params = where_from_query(query)
        return int(self._query(f"SELECT count(*) FROM incidents{where}", params)[0][0])

    def count_by(self, column: str, query: IncidentQuery = IncidentQuery()) -> dict[str, int]:
        column = check_groupable(column)
        where, params = where_from_query(query)
        rows = self._query(f"SELECT coalesce({column}, ''), count(*) FROM incidents{where} GROUP BY 1", params)
        return {k: int(n) for k, n in rows}

    def data_version(self) -> int:
        # max(rev) over rows, not the counter: a batch that changed nothing leaves the version alone
        return int(self._query("SELECT coalesce(max(rev), 0) FROM incidents")[0][0])

    # responders -------------------------------------------------------------------------------------------
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

    # coverage ---------------------------------------------------------------------------------------------
    def add_coverage_marks(self, marks: Sequence[CoverageMark], *, skip_unchanged: bool = False) -> int:
        with self._write() as cur:
            ids = write_marks(cur, _COVERAGE, marks, skip_unchanged=skip_unchanged, boolean=int)
        return sum(1 for i in ids if i is not None)

    def mark_coverage(self, mark: CoverageMark) -> int:
        with self._write() as cur:
            (change,) = write_marks(cur, _COVERAGE, [mark], boolean=int)
        assert change is not None
        return change

    def undo_coverage_change(self, change_id: int, author: str) -> int:
        with self._write() as cur:
            return undo_change(cur, _COVERAGE, change_id, author, boolean=int)

    def add_signal_samples(self, samples: Sequence[SignalSample]) -> WriteResult:
        with self._write() as cur:
            return write_samples(cur, samples, "?", int)

    def signal_samples(self, kode_desa: str | None = None) -> pd.DataFrame:
        sql, params = (_COVERAGE.samples, []) if kode_desa is None else (_COVERAGE.samples_desa, [kode_desa])
        return typed_frame(self._query(sql + " ORDER BY id", params), SAMPLE_DTYPES)

    # population and towers ---------------------------------------------------------------------------------
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

    def set_population(self, rows: Sequence[PopulationFigure]) -> WriteResult:
        with self._write() as cur:
            return write_population(cur, rows, "?")

    def population(self) -> pd.DataFrame:
        rows = self._query(f"SELECT {', '.join(POPULATION_COLUMNS)} FROM population ORDER BY kode")
        return typed_frame(rows, POPULATION_DTYPES)

    def add_towers(self, towers: Sequence[Tower]) -> WriteResult:
        with self._write() as cur:
            return write_towers(cur, towers, "?")

    def towers(self) -> pd.DataFrame:
        return typed_frame(self._query(f"SELECT {', '.join(TOWER_COLUMNS)} FROM towers ORDER BY id"), TOWER_DTYPES)

    # bookkeeping ------------------------------------------------------------------------------------------
    def add_rejects(self, batch: str, rows: Sequence[dict[str, Any]]) -> int:
        now = now_s()
        with self._write() as cur:
            cur.executemany(
                "INSERT INTO rejects (batch, row_number, reason, original, created_at) VALUES (?, ?, ?, ?, ?)",
                [(batch, r.get("row_number"), r["reason"], json.dumps(r.get("original", {}), ensure_ascii=False,
                                                                       default=str), now) for r in rows],
            )
        return len(rows)

    def rejects(self, batch: str | None = None) -> pd.DataFrame:
        cols = ("id", "batch", "row_number", "reason", "original", "created_at")
        sql = f"SELECT {', '.join(cols)} FROM rejects"
        params: list[Any] = []
        if batch is not None:
            sql += " WHERE batch = ?"
            params.append(batch)
        frame = frame_from_rows(self._query(sql + " ORDER BY id", params), cols)
        frame["original"] = [json.loads(v) for v in frame["original"]]
        return frame

    def add_api_key(self, name: str, role: str, key_hash: str) -> int:
        with self._write() as cur:
            cur.execute("INSERT INTO api_keys (name, role, key_hash, created_at) VALUES (?, ?, ?, ?)",
                        (name, role, key_hash, now_s()))
            return int(cur.lastrowid or 0)

    def find_api_key(self, key_hash: str) -> dict[str, Any] | None:
        rows = self._query("SELECT id, name, role FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
                           (key_hash,))
        return {"id": int(rows[0][0]), "name": str(rows[0][1]), "role": str(rows[0][2])} if rows else None

    def revoke_api_key(self, key_id: int) -> bool:
        with self._write() as cur:
            cur.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now_s(), key_id))
            return cur.rowcount == 1

    def api_keys(self) -> pd.DataFrame:
        cols = ("id", "name", "role", "created_at", "revoked_at")
        return frame_from_rows(self._query(f"SELECT {', '.join(cols)} FROM api_keys ORDER BY id"), cols)

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as cur:
            cur.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


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
