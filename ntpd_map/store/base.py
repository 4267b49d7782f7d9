"""The Store protocol: everything the app keeps, behind one interface with two backends.

SQLite (``sqlite.py``) is the embedded default; PostgreSQL/PostGIS (``postgis.py``) is production. Both pass
``tests/store/test_contract.py``. Batches travel as pandas frames with the columns of
``ntpd_map.domain.INCIDENT_COLUMNS``; times are int64 Unix seconds (UTC) so both backends and numpy agree.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.domain import CoverageMark, PopulationFigure, ResponderPosition, SignalSample, Tower, Unit


class StoreUnavailable(RuntimeError):
    """The database cannot be reached. Pages show a banner; ingest answers 503 (never a 200 that loses data)."""


class UnknownChange(LookupError):
    """No change in the coverage audit trail has this id (the API answers 404)."""


class StaleChange(ValueError):
    """A coverage change that is no longer the current state of its desa or cell: the later change must be
    undone first (the API answers 409)."""


@dataclass(frozen=True)
class WriteResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: WriteResult) -> WriteResult:
        return WriteResult(
            self.inserted + other.inserted, self.updated + other.updated, self.unchanged + other.unchanged
        )


@dataclass(frozen=True)
class IncidentQuery:
    """A filter on incidents. Empty tuples mean "any"; times are Unix seconds, start inclusive, end exclusive."""

    start: int | None = None
    end: int | None = None
    call_types: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    agency_kinds: tuple[str, ...] = ()
    kode_kec: tuple[str, ...] = ()
    since_rev: int | None = None
    ids: tuple[int, ...] = ()
    limit: int | None = None
    columns: tuple[str, ...] = ()  # read only these (of "id", "rev" and INCIDENT_COLUMNS); empty: all


#: Columns a query may group by. A whitelist, so a filter value never becomes SQL.
GROUPABLE = ("kode_kec", "kode_desa", "kode_kab", "call_type", "category", "outcome", "agency", "agency_kind")

#: Roles of user accounts (issue 8): wall (a display, read-only), operator (call-takers and dispatchers),
#: planner (marks coverage, proposes BTS), admin (everything). API keys have their own roles (auth.ROLES).
USER_ROLES = ("wall", "operator", "planner", "admin")

#: What a map layer needs: reading 6 columns instead of 28 makes a 100k-incident window three times faster.
POINT_COLUMNS = ("id", "lat", "lon", "call_type", "category", "outcome")


class Store(Protocol):
    backend: str

    def migrate(self) -> int:
        """Apply pending schema migrations; return the schema version."""

    def schema_version(self) -> int: ...

    def ping(self) -> None:
        """Raise StoreUnavailable when the database cannot answer."""

    def close(self) -> None: ...

    # incidents
    def write_incidents(self, frame: pd.DataFrame) -> WriteResult:
        """Insert or update by (source, external_id); an identical row changes nothing."""

    def incidents(self, query: IncidentQuery) -> pd.DataFrame:
        """Matching incidents, newest first."""

    def incident_batches(self, query: IncidentQuery, size: int = 1000) -> Iterator[pd.DataFrame]:
        """The rows of ``incidents(query)``, in its order, as frames of at most ``size`` rows: a reader of a
        large window holds one batch at a time (the wall's whole redraw, ntpd_map/callbacks/wall.py)."""

    def count_incidents(self, query: IncidentQuery = IncidentQuery()) -> int: ...

    def count_by(self, column: str, query: IncidentQuery = IncidentQuery()) -> dict[str, int]:
        """Counts grouped by one of GROUPABLE; incidents with no value are counted under ''."""

    def data_version(self) -> int:
        """A number that grows whenever an incident is written: pages poll it to fetch only what changed."""

    # responders
    def upsert_units(self, units: Sequence[Unit]) -> int: ...

    def units(self) -> pd.DataFrame: ...

    def has_unit(self, device_id: str) -> bool:
        """Whether a unit is registered to this device (reports from any other device are refused)."""

    def set_unit_status(self, device_id: str, status: str) -> bool:
        """Set a unit's status (a UnitStatus value, else ValueError); False when no unit has this device."""

    def remove_unit(self, device_id: str) -> bool:
        """Unregister a device (its positions stay until pruned); False when it was not registered."""

    def write_positions(self, positions: Sequence[ResponderPosition]) -> int:
        """Store fixes; a fix already stored (same device and recorded_at) is not stored again. The newest fix
        of each device is also kept apart (latest_positions). Returns how many fixes were new."""

    def latest_positions(self) -> pd.DataFrame:
        """One row per device: its newest position (columns of POSITION_COLUMNS), by device_id."""

    def track(self, device_id: str, since: int) -> pd.DataFrame:
        """A device's fixes recorded at or after ``since`` (Unix s), oldest first: recorded_at, lat, lon,
        speed_kmh, bearing, source."""

    def prune_positions(self, before: int, batch: int = 10_000) -> int:
        """Delete fixes recorded before ``before`` (Unix s), ``batch`` rows per transaction so writers are
        never held up for long; the latest position of each device is kept. Returns how many were deleted."""

    def note_unknown_device(self, device_id: str, source: str, at: int) -> None:
        """Count a report from a device no unit is registered to."""

    def unknown_devices(self) -> pd.DataFrame:
        """device_id, source, first_seen, last_seen, reports; the most recently seen first."""

    # coverage (issue 7): an append-only audit trail of marks per target, a desa or an H3 cell in it
    def add_coverage_marks(self, marks: Sequence[CoverageMark], *, skip_unchanged: bool = False) -> int:
        """Append marks, each a change after its target's current one; history is kept, the newest change of a
        target (kode_desa, h3) is its current state. With ``skip_unchanged`` a mark equal to its target's
        current state (status, survey date, operators, evidence, simulated) is not appended. Returns how many
        were appended."""

    def mark_coverage(self, mark: CoverageMark) -> int:
        """Append one mark (a change, with who and when; the state before it is kept as previous_id); its id."""

    def undo_coverage_change(self, change_id: int, author: str) -> int:
        """Append a change restoring the state before ``change_id`` (no mark when that was the target's first
        change); the new change's id. UnknownChange for an unknown id; StaleChange when a later change of the
        same target exists (undo that first)."""

    def coverage_marks(self, current_only: bool = True) -> pd.DataFrame:
        """Columns MARK_COLUMNS (id, kode_desa, h3, status, surveyed_on, operators, evidence, author, simulated,
        created_at), by id. current_only: the current mark of every target that has one (a target whose
        current state is "no mark" is left out); else every change (status None for "no mark")."""

    def coverage_history(self, kode_desa: str | None = None, *, limit: int | None = None) -> pd.DataFrame:
        """The audit trail, newest first: id, kode_desa, h3, action (mark|undo), author, created_at, the new
        state (status, surveyed_on, operators, evidence, simulated), previous_id, undoes and the old state
        (old_status, old_surveyed_on, old_operators, old_evidence; None when there was no mark)."""

    def add_signal_samples(self, samples: Sequence[SignalSample]) -> WriteResult:
        """Insert or update field-survey samples on (source, recorded_at, lat, lon, operator); an identical
        sample changes nothing."""

    def signal_samples(self, kode_desa: str | None = None) -> pd.DataFrame:
        """Columns id, source, recorded_at, lat, lon, operator, dbm, bars, network, kode_desa, h3, simulated,
        created_at, by id."""

    # population and towers (issue 5: socialisation and BTS priority)
    def set_population(self, rows: Sequence[PopulationFigure]) -> WriteResult:
        """Insert or update by kode; a figure equal to the stored one (level, population, year, source) changes
        nothing. updated_at is when a row last changed."""

    def population(self) -> pd.DataFrame:
        """Columns kode, level, population (int64), year (Int64), source, updated_at (int64), by kode."""

    def add_towers(self, towers: Sequence[Tower]) -> WriteResult:
        """Insert or update on (source, radio, mcc, net, area, cell); a tower missing part of that key is matched
        on (source, lat, lon) among such towers. An identical tower changes nothing."""

    def towers(self) -> pd.DataFrame:
        """Columns id, source, radio, mcc, net, area, cell (Int64), lat, lon, range_m (float64), samples,
        updated_at (Int64), simulated (bool), by id."""

    # ingest bookkeeping and metadata
    def add_rejects(self, batch: str, rows: Sequence[dict[str, Any]]) -> int:
        """Keep rejected input rows (row number, reason, original values) for review."""

    def rejects(self, batch: str | None = None) -> pd.DataFrame: ...

    # API keys (only a hash is stored)
    def add_api_key(self, name: str, role: str, key_hash: str) -> int: ...

    def find_api_key(self, key_hash: str) -> dict[str, Any] | None:
        """{"id", "name", "role"} of an unrevoked key, else None."""

    def revoke_api_key(self, key_id: int) -> bool: ...

    def api_keys(self) -> pd.DataFrame: ...

    # user accounts (issue 8): usernames are case-insensitive (stored lower-cased); only a password hash is kept
    def add_user(self, username: str, role: str, password_hash: str) -> int:
        """A new user's id. ValueError when the name exists (in any case) or the role is not one of USER_ROLES."""

    def find_user(self, username: str) -> dict[str, Any] | None:
        """{"id", "username", "role", "password_hash", "disabled" (bool), "session_version"} of the user with
        this name in any case, disabled users included; None when there is none."""

    def get_user(self, user_id: int) -> dict[str, Any] | None:
        """The same dict as find_user, by id."""

    def set_user_password(self, username: str, password_hash: str) -> bool:
        """Replace the hash and bump session_version (every session of the user ends); False: no such user."""

    def set_user_role(self, username: str, role: str) -> bool:
        """Set the role (ValueError when not one of USER_ROLES) and bump session_version; False: no such user."""

    def set_user_disabled(self, username: str, disabled: bool) -> bool:
        """Set disabled_at (kept when already disabled) or clear it, and bump session_version; False: no such
        user."""

    def users(self) -> pd.DataFrame:
        """id, username, role, created_at, disabled_at (Int64), session_version, by id: never the hash."""

    # wall display tokens (issue 8): only a SHA-256 (hex) of the token is kept
    def add_display_token(self, name: str, token_hash: str) -> int: ...

    def find_display_token(self, token_hash: str) -> dict[str, Any] | None:
        """{"id", "name"} of an unrevoked token, else None."""

    def display_token_active(self, token_id: int) -> bool:
        """Whether the token exists and is not revoked."""

    def touch_display_token(self, token_id: int, at: int) -> None:
        """Note the token was seen at ``at`` (Unix s); last_seen_at never moves back."""

    def revoke_display_token(self, token_id: int) -> bool:
        """False when there is no such token or it was already revoked."""

    def display_tokens(self) -> pd.DataFrame:
        """id, name, created_at, revoked_at, last_seen_at (Int64 where missing), by id: never the hash."""

    # the audit log (issue 8): append-only; write through ntpd_map.audit.record, which checks the action
    def audit(self, actor: str, action: str, target: str | None, detail: dict[str, Any] | None) -> int:
        """Append an entry at the current time (Unix s); detail is stored as JSON with sorted keys. Its id."""

    def audit_log(self, *, since: int | None = None, action: str | None = None, actor: str | None = None,
                  limit: int = 500) -> pd.DataFrame:
        """Entries at or after ``since`` (Unix s), of one action and/or one actor, newest first (by id), at most
        ``limit``: id, at, actor, action, target, detail (the JSON text)."""

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


def migrations(backend: str) -> list[tuple[int, str]]:
    """The versioned migrations of a backend, as (version, sql) sorted by version."""
    folder = resources.files("ntpd_map.store") / "migrations" / backend
    out = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            out.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(out)


def open_store(url: str, *, pool_max: int = 10) -> Store:
    """Open the store a URL names: sqlite:///path or postgresql://..."""
    if url.startswith("sqlite:"):
        from ntpd_map.store.sqlite import SQLiteStore

        # sqlite:///relative.sqlite or sqlite:////absolute/path.sqlite, as SQLAlchemy spells them
        return SQLiteStore(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql:", "postgres:")):
        from ntpd_map.store.postgis import PostGISStore

        return PostGISStore(url, pool_max=pool_max)
    msg = f"unsupported NTPD_DATABASE_URL {url.split('@')[-1]!r}: use sqlite:///path or postgresql://host/db"
    raise ValueError(msg)
