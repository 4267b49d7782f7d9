"""Shared fixtures: store backends for the contract suite, the real boundary mirror, tiny frames."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """Skip loudly on a developer machine; fail in CI, where every component must be present."""
    if IN_CI:
        pytest.fail(f"CI must not skip: {reason}")
    pytest.skip(f"SKIPPED (not in CI): {reason}")


def postgres_url() -> str:
    url = os.environ.get("NTPD_TEST_DATABASE_URL", "")
    if not url:
        missing("NTPD_TEST_DATABASE_URL is not set; `make test` starts a PostGIS cluster and sets it")
    return url


def _open_store(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from ntpd_map.store import open_store

    if kind == "sqlite-bulk":
        monkeypatch.setattr("ntpd_map.store.sqlite.BULK_ROWS", 1)
    if kind.startswith("sqlite"):
        s = open_store(f"sqlite:///{tmp_path / 'ntpd.sqlite'}")
        s.migrate()
        yield s
        s.close()
        return
    import psycopg

    base = postgres_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    s = open_store(f"{base}{sep}options={quote(f'-csearch_path={schema},public')}")
    try:
        s.migrate()
        yield s
    finally:
        s.close()
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "sqlite-bulk", "postgis"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A fresh, migrated store on each backend. PostGIS tests each get their own schema; "sqlite-bulk" sends
    every batch through the ADBC bulk path that large batches take."""
    yield from _open_store(request.param, tmp_path, monkeypatch)


@pytest.fixture
def pg_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A fresh PostGIS store, for what only PostGIS has (geometry, the pool)."""
    yield from _open_store("postgis", tmp_path, monkeypatch)


@pytest.fixture(scope="session")
def mirror_dirs() -> list[Path]:
    """Folders that may hold the upstream boundary dumps, as the app searches them."""
    dirs = [Path(p) for p in [os.environ.get("NTPD_MIRROR_DIR", "")] if p]
    dirs += [ROOT / "data" / "mirror", ROOT.parent / "shared" / "data"]
    if not any((d / "wilayah_boundaries").is_dir() for d in dirs):
        missing(f"no boundary mirror in {', '.join(map(str, dirs))}")
    return dirs


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data dir per test session: boundaries and locator indexes are built once and shared."""
    return tmp_path_factory.mktemp("ntpd-data")


@pytest.fixture(scope="session")
def runtime(mirror_dirs: list[Path], data_dir: Path):
    """A Runtime for TTU (53.03) on a session SQLite store in a temporary data dir."""
    from ntpd_map.config import Settings
    from ntpd_map.runtime import Runtime

    return Runtime(Settings.from_env(NTPD_DATA_DIR=str(data_dir), NTPD_REGION="53.03", NTPD_TILE_URL=""))


@pytest.fixture(scope="session")
def ttu(runtime):
    return runtime.region


@pytest.fixture(scope="session")
def ttu_locator(runtime):
    return runtime.locator


TEST_PASSWORD = "kata-sandi-uji-112"


def sign_in(client: object, store: object, role: str, name: str | None = None) -> str:
    """Sign a Flask test client in through the real form as a user of ``role`` (created when missing, named
    ``<role>-t`` unless given); returns the CSRF token its Dash callbacks must send (``X-CSRFToken``)."""
    import re

    from ntpd_map.access import users

    name = name or f"{role}-t"
    if store.find_user(name) is None:  # type: ignore[attr-defined]
        users.add_user(store, name, role, TEST_PASSWORD, actor="test")  # type: ignore[arg-type]
    page = client.get("/login")  # type: ignore[attr-defined]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login", data={"username": name, "password": TEST_PASSWORD,  # type: ignore[attr-defined]
                                         "csrf_token": token})
    assert answer.status_code == 303, f"signing in as {name} failed: {answer.status_code}"
    client.get("/")  # type: ignore[attr-defined]  # the page sets the CSRF cookie dash-renderer reads
    cookie = client.get_cookie("_csrf_token")  # type: ignore[attr-defined]
    if cookie is None:  # a role that may not open "/" gets it from its own page
        from ntpd_map.access.roles import home

        client.get(home(role))  # type: ignore[attr-defined]
        cookie = client.get_cookie("_csrf_token")  # type: ignore[attr-defined]
    return str(cookie.value)
