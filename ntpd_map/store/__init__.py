"""Stores: small protocols by concern (``base.Store`` joins them), an embedded SQLite backend and a PostGIS
backend; ``open_store`` opens the one a URL names."""

from __future__ import annotations

from ntpd_map.store.base import Store
from ntpd_map.store.postgis import PostGISStore
from ntpd_map.store.sqlite import SQLiteStore


def open_store(url: str, *, pool_max: int = 10) -> Store:
    """Open the store a URL names: sqlite:///path or postgresql://..."""
    if url.startswith("sqlite:"):
        # sqlite:///relative.sqlite or sqlite:////absolute/path.sqlite, as SQLAlchemy spells them
        return SQLiteStore(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql:", "postgres:")):
        return PostGISStore(url, pool_max=pool_max)
    msg = f"unsupported NTPD_DATABASE_URL {url.split('@')[-1]!r}: use sqlite:///path or postgresql://host/db"
    raise ValueError(msg)

