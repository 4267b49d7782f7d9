"""What the PostGIS backend adds or must survive, plus the in-batch duplicate rule both backends share."""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pandas as pd
import pytest

from ntpd_map.store.model import IncidentQuery, StoreUnavailable
from tests.conftest import ROOT, missing, postgres_url
from tests.store.fixtures import frame


def test_duplicate_keys_in_one_batch_keep_the_last(store) -> None:
    """One batch may carry the same (source, external_id) twice (an export re-listing an edited call).

    The last occurrence wins; earlier ones count as unchanged, so the counts describe what the stored data
    became, and a batch whose last word equals what is stored changes nothing, data_version included.
    """
    base = frame(3)
    batch = pd.concat([base, frame(2, notes="second").iloc[[1]], frame(2, notes="third").iloc[[1]]],
                      ignore_index=True)
    result = store.write_incidents(batch)
    assert (result.inserted, result.updated, result.unchanged) == (3, 0, 2)
    assert store.count_incidents() == 3
    stored = store.incidents(IncidentQuery()).set_index("external_id")
    assert stored.loc["E1", "notes"] == "third"

    # stored A, batch [B, A]: the data ends as it was, so nothing changed and the version stays
    version = store.data_version()
    back_and_forth = pd.concat([frame(1, notes="edited"), frame(1)], ignore_index=True)
    result = store.write_incidents(back_and_forth)
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 2)
    assert store.data_version() == version

    # stored A, batch [B, C]: one update (to C), B superseded
    result = store.write_incidents(pd.concat([frame(1, notes="B"), frame(1, notes="C")], ignore_index=True))
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    assert store.data_version() > version
    stored = store.incidents(IncidentQuery()).set_index("external_id")
    assert stored.loc["E0", "notes"] == "C"
    assert len(store.incidents(IncidentQuery(since_rev=version))) == 1


def test_rev_is_one_per_batch(store) -> None:
    store.write_incidents(frame(5))
    first = store.incidents(IncidentQuery())
    assert first["rev"].nunique() == 1
    store.write_incidents(frame(3, source="other"))
    revs = store.incidents(IncidentQuery()).groupby("source")["rev"].unique()
    assert len(revs["other"]) == 1
    assert revs["other"][0] > revs["test"][0]


def test_geom_follows_lon_lat_and_st_dwithin_finds_it(pg_store) -> None:
    store = pg_store
    import psycopg

    batch = frame(3)
    batch.loc[2, ["lat", "lon"]] = [None, None]
    store.write_incidents(batch)
    with psycopg.connect(store.url) as conn:
        rows = conn.execute(
            "SELECT external_id, ST_X(geom), ST_Y(geom), ST_SRID(geom) FROM incidents ORDER BY external_id"
        ).fetchall()
        assert rows[0] == ("E0", pytest.approx(124.48), pytest.approx(-9.45), 4326)
        assert rows[2][1:] == (None, None, None), "no coordinates, no point"
        # rows are 1e-4 degrees (about 11 m) apart: 5 m around E0 finds E0 alone
        near = "ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(124.48, -9.45), 4326)::geography, 5)"
        assert conn.execute(f"SELECT external_id FROM incidents WHERE {near}").fetchall() == [("E0",)]
        # the bounding-box form is what the GiST index serves
        conn.execute("SET enable_seqscan = off")
        box = "ST_DWithin(geom, ST_SetSRID(ST_MakePoint(124.48, -9.4499), 4326), 0.00005)"
        assert conn.execute(f"SELECT external_id FROM incidents WHERE {box}").fetchall() == [("E1",)]
        plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN SELECT 1 FROM incidents WHERE {box}").fetchall())
        assert "incidents_geom" in plan

    # moving the point moves geom: it is generated, never written separately
    moved = frame(1, lat=-9.0, lon=124.0)
    assert store.write_incidents(moved).updated == 1
    with psycopg.connect(store.url) as conn:
        assert conn.execute("SELECT ST_AsText(geom) FROM incidents WHERE external_id = 'E0'").fetchone() == (
            "POINT(124 -9)",
        )


def test_closed_port_is_store_unavailable_without_the_password() -> None:
    pytest.importorskip("psycopg_pool")
    from ntpd_map.store.postgis import PostGISStore

    store = PostGISStore("postgresql://ntpd:s3cret-pw@127.0.0.1:1/ntpd_test", timeout=1)  # constructing never connects
    try:
        with pytest.raises(StoreUnavailable) as caught:
            store.ping()
        message = str(caught.value)
        assert "127.0.0.1:1/ntpd_test" in message
        assert "unavailable" in message
        assert "refused" in message.lower() or "failed" in message.lower()
        assert "s3cret-pw" not in message
        with pytest.raises(StoreUnavailable):
            store.count_incidents()
    finally:
        store.close()
    assert "s3cret-pw" not in repr(store)


def test_bad_url_is_a_value_error_without_the_password() -> None:
    pytest.importorskip("psycopg")
    from ntpd_map.store.postgis import PostGISStore

    with pytest.raises(ValueError, match="not a valid PostgreSQL URL") as caught:
        PostGISStore("postgresql://ntpd:s3cret-pw@127.0.0.1:notaport/ntpd_test?bogus_option=1")
    assert "s3cret-pw" not in str(caught.value)


@pytest.fixture
def fresh_schema_url() -> Iterator[str]:
    """A URL whose search_path starts at an empty schema (nothing migrated yet)."""
    import psycopg

    base = postgres_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema},public')}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_workers_migrating_at_once_do_not_clash(fresh_schema_url: str) -> None:
    from ntpd_map.store.postgis import PostGISStore

    stores = [PostGISStore(fresh_schema_url, pool_max=1) for _ in range(4)]
    versions: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def work(s: PostGISStore) -> None:
        try:
            start.wait()
            versions.append(s.migrate())
        except BaseException as exc:  # surfaced below with the thread's error
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert not errors, errors
        assert len(set(versions)) == 1 and versions[0] >= 1
        rows = stores[0]._query("SELECT version, count(*) FROM schema_migrations GROUP BY version")
        assert all(n == 1 for _, n in rows)
    finally:
        for s in stores:
            s.close()


def test_pool_reconnects_after_a_server_restart(pg_store) -> None:
    store = pg_store
    cluster = os.environ.get("NTPD_TEST_PG_DIR", "")
    if not cluster:
        missing("NTPD_TEST_PG_DIR is not set: the reconnect test restarts the cluster scripts/pg_cluster.sh started")
    store.write_incidents(frame(3))
    before = store._query("SELECT pg_backend_pid()")[0][0]
    subprocess.run(["bash", str(ROOT / "scripts" / "pg_cluster.sh"), "restart", cluster], check=True,
                   capture_output=True, timeout=120)
    # the pooled connection died with the old server; the pool's check replaces it on the next borrow
    assert store.count_incidents() == 3
    assert store._query("SELECT pg_backend_pid()")[0][0] != before


def test_tower_geometry_follows_lon_lat(pg_store) -> None:
    from ntpd_map.domain import Tower

    pg_store.add_towers([Tower(-9.45, 124.48, "survey"), Tower(-9.50, 124.60, "opencellid", "LTE", 510, 10, 1, 2)])
    rows = pg_store._query("SELECT ST_X(geom), ST_Y(geom), ST_SRID(geom) FROM towers ORDER BY id")
    assert rows == [(124.48, -9.45, 4326), (124.60, -9.50, 4326)]
