"""The production store: PostgreSQL + PostGIS through a psycopg 3 connection pool.

Each public method borrows one pooled connection for one transaction. The pool opens on first use (nothing
connects at import or construction) and checks a connection before lending it, so the store heals by itself
after a server restart. Every operational failure surfaces as StoreUnavailable naming host and database,
never the password.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
    last_per_key,
    rows_from_frame,
    whole_seconds,
)
from ntpd_map.store.model import IncidentQuery, StoreUnavailable, WriteResult, frame_from_rows
from ntpd_map.store.reference import ReferenceMethods
from ntpd_map.store.responders import ResponderMethods, ResponderSQL

if TYPE_CHECKING:
    import pandas as pd
    import psycopg
    from psycopg_pool import ConnectionPool


_COLS = ", ".join(INCIDENT_COLUMNS)

# A batch lands in a temp table by COPY, then reaches incidents in one statement. The temp table takes its column
# types from incidents itself, so the two cannot drift; ON COMMIT DROP cleans up after success and failure alike.
_CREATE_BATCH = f"CREATE TEMP TABLE ntpd_batch ON COMMIT DROP AS SELECT {_COLS} FROM incidents WITH NO DATA"
_COPY_BATCH = f"COPY ntpd_batch ({_COLS}) FROM STDIN"
# xmax = 0 tells a fresh insert from an update; rows the WHERE leaves alone return nothing (they are unchanged).
_UPSERT = (
    f"WITH written AS (INSERT INTO incidents AS i ({_COLS}, rev) SELECT {_COLS}, %(rev)s FROM ntpd_batch "
    f"ON CONFLICT (source, external_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*UPDATABLE, "rev"))
    + f" WHERE ({', '.join('i.' + c for c in UPDATABLE)}) IS DISTINCT FROM "
    f"({', '.join('excluded.' + c for c in UPDATABLE)}) "
    "RETURNING (i.xmax = 0) AS fresh) "
    "SELECT count(*) FILTER (WHERE fresh), count(*) FILTER (WHERE NOT fresh) FROM written"
)
#: seconds the pool keeps retrying one failed connect (doubling delays) before it starts afresh on demand
RECONNECT_S = 5.0
#: seconds a request waits for a connection while the server is known to be down (else the pool's timeout)
DOWN_WAIT_S = 1.0
#: seconds a "server down" probe is trusted before the next request probes again
PROBE_EVERY_S = 2.0
# Several workers may start at once and all call migrate(); the lock is per schema so test schemas stay independent.
#: tables whose writers take turns (compare, then write): ``_locked``
LOCKABLE = ("coverage_marks", "signal_samples", "population", "towers")
_MIGRATION_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtextextended('ntpd_map.migrate.' || coalesce(current_schema(), ''), 0))"
)


class PostGISStore(IncidentMethods, ResponderMethods, CoverageMethods, ReferenceMethods, AccountMethods, AuditMethods,
                  BookkeepingMethods):
    _PH = '%s'
    _SQL = ResponderSQL("%s")
    _COVERAGE = CoverageSQL("%s")
    _ACCOUNTS = AccountSQL("%s")
    _AUDIT = AuditSQL("%s")
    _BOOLEAN = bool
    backend = "postgis"

    def __init__(self, url: str, *, pool_max: int = 10, timeout: float = 5.0) -> None:
        """``timeout``: seconds to wait for a pooled connection before StoreUnavailable."""
        from psycopg.conninfo import conninfo_to_dict

        try:
            params = conninfo_to_dict(url)
        except Exception:  # psycopg.ProgrammingError, whose text may quote the URL and so the password
            msg = "NTPD_DATABASE_URL is not a valid PostgreSQL URL: use postgresql://user@host:port/dbname"
            raise ValueError(msg) from None
        self.url = url
        self._password = str(params.get("password") or "")
        host = params.get("host") or params.get("hostaddr") or "local socket"
        self.where = f"{host}:{params.get('port') or 5432}/{params.get('dbname') or params.get('user') or '?'}"
        self._pool_max = max(1, int(pool_max))
        self._timeout = float(timeout)
        self._kwargs: dict[str, Any] = {}
        if "connect_timeout" not in params:
            self._kwargs["connect_timeout"] = max(2, round(timeout))  # libpq ignores values below 2
        if "application_name" not in params:
            self._kwargs["application_name"] = "ntpd-map"
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        # (monotonic time, error) of the last direct probe that found the server down; None while it answers
        self._down: tuple[float, StoreUnavailable] | None = None

    def __repr__(self) -> str:
        return f"PostGISStore({self.where!r})"

    # connections ----------------------------------------------------------------------------------------
    def _get_pool(self) -> ConnectionPool:
        pool = self._pool
        if pool is None:
            from psycopg_pool import ConnectionPool

            with self._lock:
                if self._pool is None:
                    self._pool = ConnectionPool(
                        self.url,
                        kwargs=self._kwargs,
                        min_size=1,
                        max_size=self._pool_max,
                        open=False,
                        configure=_configure,
                        check=ConnectionPool.check_connection,  # a connection killed by a restart is replaced
                        timeout=self._timeout,
                        # The pool retries a failed connect with doubling delays (1, 2, 4 ... s) until this
                        # many seconds, then gives up and tries again at once on the next request. Its default
                        # (300 s) left a 30 s outage unnoticed for 28 s after the server was back (issue 8);
                        # with 5 s the gap between tries stays under 3 s.
                        reconnect_timeout=RECONNECT_S,
                        name=f"ntpd-map {self.where}",
                    )
                    self._pool.open(wait=False)  # do not block here: a down server becomes StoreUnavailable below
                pool = self._pool
        return pool

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """One pooled connection for one transaction: committed when the block ends, rolled back on error."""
        import psycopg
        from psycopg_pool import PoolTimeout

        # While the server is known to be down, wait briefly: a server that is back is reached within it (the
        # pool connects at once when it holds no connection), and a worker thread is not held for the whole
        # timeout by each request that can only fail.
        timeout = min(self._timeout, DOWN_WAIT_S) if self._down else self._timeout
        try:
            with self._get_pool().connection(timeout=timeout) as conn:
                self._down = None
                yield conn
        except PoolTimeout as exc:
            raise self._diagnose() from exc
        except psycopg.OperationalError as exc:
            raise self._unavailable(exc) from exc

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._transaction() as conn:
            return conn.execute(sql, params).fetchall()

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        if self._password:
            detail = detail.replace(self._password, "***")
        return StoreUnavailable(f"PostgreSQL store {self.where} is unavailable: {detail}")

    def _diagnose(self) -> StoreUnavailable:
        """The pool timed out: connect once directly to tell "server down" from "every connection busy". A
        server found down is not probed again for PROBE_EVERY_S (an unreachable host costs connect_timeout)."""
        import time

        import psycopg

        now = time.monotonic()
        down = self._down
        if down is not None and now - down[0] < PROBE_EVERY_S:
            return down[1]
        try:
            with psycopg.connect(self.url, autocommit=True, **self._kwargs) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            error = self._unavailable(exc)
            self._down = (now, error)
            return error
        self._down = None
        pool = self._pool
        if pool is not None and pool.get_stats().get("pool_size", 0) < self._pool_max:
            # room to grow, yet no connection: the pool is between two reconnect tries (RECONNECT_S)
            return StoreUnavailable(f"PostgreSQL store {self.where} is unavailable: the server answers again, "
                                    "the connection pool is reconnecting; retry in a few seconds")
        return StoreUnavailable(
            f"PostgreSQL store {self.where} is unavailable: no free connection within {self._timeout:g} s "
            f"(all {self._pool_max} pooled connections busy; raise NTPD_PG_POOL_MAX or find the slow query)"
        )

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def ping(self) -> None:
        self._query("SELECT 1")

    # schema -----------------------------------------------------------------------------------------------
    def migrate(self) -> int:
        current = self.schema_version()  # a quick look without the lock: workers that start later skip it all
        pending = [(v, sql) for v, sql in migrations("postgis") if v > current]
        for version, sql in pending:
            with self._transaction() as conn:
                conn.execute(_MIGRATION_LOCK)
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint)"
                )
                # another worker may have applied it while we waited for the lock
                if conn.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (version,)).fetchone():
                    continue
                conn.execute(sql)  # several statements, no parameters: sent as one simple query
                conn.execute(record_migration(self._PH), (version, model.now_s()))
        return self.schema_version()

    def schema_version(self) -> int:
        with self._transaction() as conn:
            if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,):
                return 0
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        return int(row[0]) if row else 0

    # incidents --------------------------------------------------------------------------------------------
    def write_incidents(self, frame: pd.DataFrame) -> WriteResult:
        if frame.empty:
            return WriteResult()
        frame, superseded = last_per_key(frame)
        rows = rows_from_frame(whole_seconds(frame))
        with self._transaction() as conn, conn.cursor() as cur:
            cur.execute(_CREATE_BATCH)
            with cur.copy(_COPY_BATCH) as copy:
                for row in rows:
                    copy.write_row(row)
            # Writers take rev in commit order: a reader polling since_rev=v can never miss a batch that got
            # a smaller rev but committed later. Readers are not blocked (they take ACCESS SHARE).
            cur.execute("LOCK TABLE incidents IN SHARE ROW EXCLUSIVE MODE")
            rev = cur.execute("SELECT nextval('incidents_rev_seq')").fetchone()[0]  # type: ignore[index]
            inserted, updated = cur.execute(_UPSERT, {"rev": rev}).fetchone()  # type: ignore[misc]
        return WriteResult(inserted=inserted, updated=updated, unchanged=len(rows) + superseded - inserted - updated)

    def incident_batches(self, query: IncidentQuery, size: int = 1000) -> Iterator[pd.DataFrame]:
        sql, params, columns = self._select(query)
        # a server-side cursor: the rows come over in batches, never all at once
        with self._transaction() as conn, conn.cursor(name="ntpd_incident_batches") as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(size):
                yield frame_from_rows(rows, columns)

    # writing: the hooks of the shared concern methods ---------------------------------------------------------
    def _run(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """Run (sql, rows) pairs with executemany in one transaction; rows changed by each."""
        changed = []
        with self._transaction() as conn, conn.cursor() as cur:
            for sql, rows in statements:
                cur.executemany(sql, rows)
                changed.append(max(cur.rowcount, 0))
        return changed

    def _write_rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement in one transaction (committed when it ends); the rows it returns (RETURNING)."""
        return self._query(sql, params)

    @contextmanager
    def _locked(self, table: str) -> Iterator[psycopg.Cursor[Any]]:
        """A transaction holding SHARE ROW EXCLUSIVE on ``table``: other writers of it wait, readers do not."""
        if table not in LOCKABLE:
            raise ValueError(f"no write lock for table {table!r}")
        with self._transaction() as conn, conn.cursor() as cur:
            cur.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
            yield cur

def _configure(conn: psycopg.Connection[Any]) -> None:
    """Session settings for every pooled connection; must leave the connection idle (the pool checks)."""
    # JIT compiles a plan in 50-150 ms: more than the whole 30-day count_by it would speed up (bench target 200 ms).
    conn.execute("SET jit = off")
    conn.commit()
