"""Responders (issue 6): units, their positions and tracks, unknown devices; one SQL for both backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ntpd_map.domain import UnitStatus
from ntpd_map.store import model
from ntpd_map.store.backend import SQLBackend
from ntpd_map.store.model import (
    Rows,
    frame_from_rows,
)

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.domain import ResponderPosition, Unit


# responders (issue 6): the same SQL on both backends, only the placeholder differs ---------------------------
POSITION_COLUMNS = (
    "device_id", "recorded_at", "lat", "lon", "source", "speed_kmh", "bearing", "accuracy_m", "battery", "simulated",
)

UNIT_COLUMNS = ("device_id", "name", "agency", "kind", "status", "simulated", "updated_at", "status_at")

TRACK_COLUMNS = ("recorded_at", "lat", "lon", "speed_kmh", "bearing", "source")

UNKNOWN_DEVICE_COLUMNS = ("device_id", "source", "first_seen", "last_seen", "reports")

class ResponderSQL:
    """Statements for units and positions with a backend's placeholder (``?`` or ``%s``)."""

    def __init__(self, ph: str) -> None:
        values = ", ".join([ph] * len(POSITION_COLUMNS))
        cols = ", ".join(POSITION_COLUMNS)
        self.insert_position = (f"INSERT INTO positions ({cols}) VALUES ({values}) "
                                "ON CONFLICT (device_id, recorded_at) DO NOTHING")
        # a fix older than the one kept (a phone sending its backlog after a dead zone) leaves it alone
        self.upsert_latest = (
            f"INSERT INTO latest_positions ({cols}) VALUES ({values}) ON CONFLICT (device_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in POSITION_COLUMNS[1:])
            + " WHERE excluded.recorded_at > latest_positions.recorded_at"
        )
        self.upsert_unit = (
            f"INSERT INTO units ({', '.join(UNIT_COLUMNS)}) VALUES ({', '.join([ph] * len(UNIT_COLUMNS))}) "
            "ON CONFLICT (device_id) DO UPDATE SET name = excluded.name, agency = excluded.agency, "
            "kind = excluded.kind, status = excluded.status, simulated = excluded.simulated, "
            "updated_at = excluded.updated_at, status_at = CASE WHEN units.status = excluded.status "
            "THEN units.status_at ELSE excluded.status_at END"
        )
        self.units = f"SELECT {', '.join(UNIT_COLUMNS)} FROM units ORDER BY device_id"
        self.unit_exists = f"SELECT 1 FROM units WHERE device_id = {ph}"
        self.set_status = f"UPDATE units SET status = {ph}, status_at = {ph}, updated_at = {ph} WHERE device_id = {ph}"
        self.remove_unit = f"DELETE FROM units WHERE device_id = {ph}"
        self.latest = f"SELECT {cols} FROM latest_positions ORDER BY device_id"
        self.track = (f"SELECT {', '.join(TRACK_COLUMNS)} FROM positions WHERE device_id = {ph} "
                      f"AND recorded_at >= {ph} ORDER BY recorded_at")
        self.prune = (f"DELETE FROM positions WHERE id IN (SELECT id FROM positions WHERE recorded_at < {ph} "
                      f"LIMIT {ph})")
        self.prune_unknown = f"DELETE FROM unknown_devices WHERE last_seen < {ph}"
        self.note_unknown = (
            f"INSERT INTO unknown_devices ({', '.join(UNKNOWN_DEVICE_COLUMNS)}) VALUES ({ph}, {ph}, {ph}, {ph}, 1) "
            "ON CONFLICT (device_id, source) DO UPDATE SET reports = unknown_devices.reports + 1, last_seen = "
            "CASE WHEN excluded.last_seen > unknown_devices.last_seen THEN excluded.last_seen "
            "ELSE unknown_devices.last_seen END"
        )
        self.unknown = (f"SELECT {', '.join(UNKNOWN_DEVICE_COLUMNS)} FROM unknown_devices "
                        "ORDER BY last_seen DESC, device_id")

def position_rows(positions: Sequence[Any], boolean: type = bool) -> tuple[Rows, Rows]:
    """(every fix, the newest fix of each device) as rows of POSITION_COLUMNS; ``boolean`` converts
    ``simulated`` for the backend (int for SQLite)."""
    rows = [
        (p.device_id, int(p.recorded_at.timestamp()), float(p.lat), float(p.lon), p.source, p.speed_kmh, p.bearing,
         p.accuracy_m, p.battery, boolean(p.simulated))
        for p in positions
    ]
    newest: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        if row[0] not in newest or row[1] > newest[row[0]][1]:
            newest[row[0]] = row
    return rows, list(newest.values())

def unit_rows(units: Sequence[Any], now: int, boolean: type = bool) -> list[tuple[Any, ...]]:
    return [(u.device_id, u.name, u.agency, str(u.kind), str(u.status), boolean(u.simulated), now, now)
            for u in units]

def check_status(status: str) -> str:
    allowed = [str(s) for s in UnitStatus]
    if str(status) not in allowed:
        raise ValueError(f"unit status {status!r} is not one of {', '.join(allowed)}")
    return str(status)


class ResponderStore(Protocol):
    """Registered units and the positions their devices report."""

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


class ResponderMethods(SQLBackend):
    """ResponderStore on any SQL backend."""

    _SQL: ResponderSQL

    def upsert_units(self, units: Sequence[Any]) -> int:
        self._run([(self._SQL.upsert_unit, unit_rows(units, model.now_s(), self._BOOLEAN))])
        return len(units)

    def units(self) -> pd.DataFrame:
        return frame_from_rows(self._query(self._SQL.units), UNIT_COLUMNS)

    def has_unit(self, device_id: str) -> bool:
        return bool(self._query(self._SQL.unit_exists, (device_id,)))

    def set_unit_status(self, device_id: str, status: str) -> bool:
        now = model.now_s()
        return self._run([(self._SQL.set_status, [(check_status(status), now, now, device_id)])])[0] > 0

    def remove_unit(self, device_id: str) -> bool:
        return self._run([(self._SQL.remove_unit, [(device_id,)])])[0] > 0

    def write_positions(self, positions: Sequence[Any]) -> int:
        if not positions:
            return 0
        rows, newest = position_rows(positions, self._BOOLEAN)
        return self._run([(self._SQL.insert_position, rows), (self._SQL.upsert_latest, newest)])[0]

    def latest_positions(self) -> pd.DataFrame:
        return frame_from_rows(self._query(self._SQL.latest), POSITION_COLUMNS)

    def track(self, device_id: str, since: int) -> pd.DataFrame:
        return frame_from_rows(self._query(self._SQL.track, (device_id, int(since))), TRACK_COLUMNS)

    def prune_positions(self, before: int, batch: int = 10_000) -> int:
        deleted = 0
        while True:  # short transactions: a phone's report waits at most one batch
            n = self._run([(self._SQL.prune, [(int(before), int(batch))])])[0]
            deleted += n
            if n < batch:
                break
        self._run([(self._SQL.prune_unknown, [(int(before),)])])
        return deleted

    def note_unknown_device(self, device_id: str, source: str, at: int) -> None:
        self._run([(self._SQL.note_unknown, [(device_id, source, int(at), int(at))])])

    def unknown_devices(self) -> pd.DataFrame:
        return frame_from_rows(self._query(self._SQL.unknown), UNKNOWN_DEVICE_COLUMNS)
