"""The Store: everything the app keeps, as small protocols by concern (issue 17), with two backends.

Each concern is one module holding its protocol and the SQL both backends share, written once with the backend's
placeholder: ``incidents``, ``responders``, ``coverage``, ``reference`` (population, towers), ``accounts`` (API
keys, users, display tokens), ``audit`` and ``bookkeeping`` (rejects, metadata); ``model`` holds the value types.
SQLite (``sqlite.py``) is the embedded default; PostgreSQL/PostGIS (``postgis.py``) is production. Both pass the
contract suite in ``tests/store/`` (a file per concern). Code that needs one concern takes that protocol; the app
holds a ``Store``, all of them. Batches travel as pandas frames with the columns of
``ntpd_map.domain.INCIDENT_COLUMNS``; times are int64 Unix seconds (UTC) so both backends and numpy agree.
"""

from __future__ import annotations

from importlib import resources
from typing import Protocol

from ntpd_map.store.accounts import AccountStore
from ntpd_map.store.audit import AuditStore
from ntpd_map.store.bookkeeping import BookkeepingStore
from ntpd_map.store.coverage import CoverageStore
from ntpd_map.store.incidents import IncidentStore
from ntpd_map.store.reference import ReferenceStore
from ntpd_map.store.responders import ResponderStore

#: the concern protocols, in the order of the contract suite's files
CONCERNS: tuple[type, ...] = (IncidentStore, ResponderStore, CoverageStore, ReferenceStore, AccountStore, AuditStore,
                              BookkeepingStore)


class Store(IncidentStore, ResponderStore, CoverageStore, ReferenceStore, AccountStore, AuditStore, BookkeepingStore,
            Protocol):
    """Every concern, and the store's own life: its schema, its connection."""

    backend: str

    def migrate(self) -> int:
        """Apply pending schema migrations; return the schema version."""

    def schema_version(self) -> int: ...

    def ping(self) -> None:
        """Raise StoreUnavailable when the database cannot answer."""

    def close(self) -> None: ...


def record_migration(ph: str) -> str:
    """The statement noting a migration as applied (version, applied_at), with a backend's placeholder."""
    return f"INSERT INTO schema_migrations (version, applied_at) VALUES ({ph}, {ph})"


def migrations(backend: str) -> list[tuple[int, str]]:
    """The versioned migrations of a backend, as (version, sql) sorted by version."""
    folder = resources.files("ntpd_map.store") / "migrations" / backend
    out = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            out.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(out)
