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
    check_groupable,
    frame_from_rows,
    last_per_key,
    now_s,
    rows_from_frame,
    select_incidents,
    typed_frame,
    undo_change,
    where_from_query,
    whole_seconds,
    write_marks,
    write_population,
    write_samples,
    write_towers,
)
from ntpd_map.store.base import IncidentQuery, StoreUnavailable, WriteResult, migrations

if TYPE_CHECKING:
    import pandas as pd
    import psycopg
    from psycopg_pool import ConnectionPool

    from ntpd_map.domain import CoverageMark, PopulationFigure, SignalSample, Tower

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
_COVERAGE = CoverageSQL("%s")
#: seconds the pool keeps retrying one failed connect (doubling delays) before it starts afresh on demand
RECONNECT_S = 5.0
#: seconds a request waits for a connection while the server is known to be down (else the pool's timeout)
DOWN_WAIT_S = 1.0
#: seconds a "server down" probe is trusted before the next request probes again
PROBE_EVERY_S = 2.0
# Several workers may start at once and all call migrate(); the lock is per schema so test schemas stay independent.
_MIGRATION_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtextextended('ntpd_map.migrate.' || coalesce(current_schema(), ''), 0))"
)


class PostGISStore(SharedMethods):
    _SQL = ResponderSQL("%s")
    _COVERAGE = _COVERAGE
    _ACCOUNTS = AccountSQL("%s")
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

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._transaction() as conn:
            conn.execute(sql, params)

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
                conn.execute("INSERT INTO schema_migrations VALUES (%s, %s)", (version, now_s()))
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

    def incidents(self, query: IncidentQuery) -> pd.DataFrame:
        sql, params, columns = select_incidents(query, "%s")
        return frame_from_rows(self._query(sql, params), columns)

    def incident_batches(self, query: IncidentQuery, size: int = 1000) -> Iterator[pd.DataFrame]:
        sql, params, columns = select_incidents(query, "%s")
        # a server-side cursor: the rows come over in batches, never all at once
        with self._transaction() as conn, conn.cursor(name="ntpd_incident_batches") as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(size):
                yield frame_from_rows(rows, columns)

    def count_incidents(self, query: IncidentQuery = IncidentQuery()) -> int:
        where, params = where_from_query(query, "%s")
        return int(self._query(f"SELECT count(*) FROM incidents{where}", params)[0][0])

    def count_by(self, column: str, query: IncidentQuery = IncidentQuery()) -> dict[str, int]:
        column = check_groupable(column)
        where, params = where_from_query(query, "%s")
        rows = self._query(f"SELECT coalesce({column}, ''), count(*) FROM incidents{where} GROUP BY 1", params)
        return {k: int(n) for k, n in rows}

    def data_version(self) -> int:
        # max(rev) over rows, not the sequence: a batch that changed nothing leaves the version alone
        return int(self._query("SELECT coalesce(max(rev), 0) FROM incidents")[0][0])

    # responders -------------------------------------------------------------------------------------------
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

    # coverage ---------------------------------------------------------------------------------------------
    # A change records the target's current change as its previous_id, and an undo checks it is undoing the
    # current one: writers go one at a time (SHARE ROW EXCLUSIVE blocks other writers, not readers).
    @contextmanager
    def _coverage_write(self) -> Iterator[psycopg.Cursor[Any]]:
        with self._transaction() as conn, conn.cursor() as cur:
            cur.execute("LOCK TABLE coverage_marks IN SHARE ROW EXCLUSIVE MODE")
            yield cur

    def add_coverage_marks(self, marks: Sequence[CoverageMark], *, skip_unchanged: bool = False) -> int:
        with self._coverage_write() as cur:
            ids = write_marks(cur, _COVERAGE, marks, skip_unchanged=skip_unchanged)
        return sum(1 for i in ids if i is not None)

    def mark_coverage(self, mark: CoverageMark) -> int:
        with self._coverage_write() as cur:
            (change,) = write_marks(cur, _COVERAGE, [mark])
        assert change is not None
        return change

    def undo_coverage_change(self, change_id: int, author: str) -> int:
        with self._coverage_write() as cur:
            return undo_change(cur, _COVERAGE, change_id, author)

    def add_signal_samples(self, samples: Sequence[SignalSample]) -> WriteResult:
        with self._transaction() as conn, conn.cursor() as cur:
            cur.execute("LOCK TABLE signal_samples IN SHARE ROW EXCLUSIVE MODE")
            return write_samples(cur, samples, "%s")

    def signal_samples(self, kode_desa: str | None = None) -> pd.DataFrame:
        sql, params = (_COVERAGE.samples, []) if kode_desa is None else (_COVERAGE.samples_desa, [kode_desa])
        return typed_frame(self._query(sql + " ORDER BY id", params), SAMPLE_DTYPES)

    # population and towers ---------------------------------------------------------------------------------
    # The compare-then-write of write_population/write_towers needs writers one at a time (two concurrent
    # imports would both insert the same new tower); SHARE ROW EXCLUSIVE blocks other writers, not readers.
    def set_population(self, rows: Sequence[PopulationFigure]) -> WriteResult:
        with self._transaction() as conn, conn.cursor() as cur:
            cur.execute("LOCK TABLE population IN SHARE ROW EXCLUSIVE MODE")
            return write_population(cur, rows, "%s")

    def population(self) -> pd.DataFrame:
        rows = self._query(f"SELECT {', '.join(POPULATION_COLUMNS)} FROM population ORDER BY kode")
        return typed_frame(rows, POPULATION_DTYPES)

    def add_towers(self, towers: Sequence[Tower]) -> WriteResult:
        with self._transaction() as conn, conn.cursor() as cur:
            cur.execute("LOCK TABLE towers IN SHARE ROW EXCLUSIVE MODE")
            return write_towers(cur, towers, "%s")

    def towers(self) -> pd.DataFrame:
        return typed_frame(self._query(f"SELECT {', '.join(TOWER_COLUMNS)} FROM towers ORDER BY id"), TOWER_DTYPES)

    # bookkeeping ------------------------------------------------------------------------------------------
    def add_rejects(self, batch: str, rows: Sequence[dict[str, Any]]) -> int:
        import json

        now = now_s()
        with self._transaction() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO rejects (batch, row_number, reason, original, created_at) VALUES (%s, %s, %s, %s, %s)",
                [(batch, r.get("row_number"), r["reason"],
                  json.dumps(r.get("original", {}), ensure_ascii=False, default=str), now) for r in rows],
            )
        return len(rows)

    def rejects(self, batch: str | None = None) -> pd.DataFrame:
        cols = ("id", "batch", "row_number", "reason", "original", "created_at")
        sql = f"SELECT {', '.join(cols)} FROM rejects"
        params: list[Any] = []
        if batch is not None:
            sql += " WHERE batch = %s"
            params.append(batch)
        return frame_from_rows(self._query(sql + " ORDER BY id", params), cols)  # psycopg parses json already

    # API keys ---------------------------------------------------------------------------------------------
    def add_api_key(self, name: str, role: str, key_hash: str) -> int:
        rows = self._query(
            "INSERT INTO api_keys (name, role, key_hash, created_at) VALUES (%s, %s, %s, %s) RETURNING id",
            (name, role, key_hash, now_s()),
        )
        return int(rows[0][0])

    def find_api_key(self, key_hash: str) -> dict[str, Any] | None:
        rows = self._query(
            "SELECT id, name, role FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL", (key_hash,)
        )
        return {"id": int(rows[0][0]), "name": str(rows[0][1]), "role": str(rows[0][2])} if rows else None

    def revoke_api_key(self, key_id: int) -> bool:
        rows = self._query(
            "UPDATE api_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL RETURNING id", (now_s(), key_id)
        )
        return len(rows) == 1

    def api_keys(self) -> pd.DataFrame:
        cols = ("id", "name", "role", "created_at", "revoked_at")
        return frame_from_rows(self._query(f"SELECT {', '.join(cols)} FROM api_keys ORDER BY id"), cols)

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = %s", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._execute(
            "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Session settings for every pooled connection; must leave the connection idle (the pool checks)."""
    # JIT compiles a plan in 50-150 ms: more than the whole 30-day count_by it would speed up (bench target 200 ms).
    conn.execute("SET jit = off")
    conn.commit()
