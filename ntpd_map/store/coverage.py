"""Signal coverage (issue 7): the audit trail of marks per desa or cell, and field-survey samples."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ntpd_map.store import model
from ntpd_map.store.backend import SQLBackend
from ntpd_map.store.model import (
    StaleChange,
    UnknownChange,
    WriteResult,
    typed_frame,
)

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.domain import CoverageMark, SignalSample


# coverage marks and signal samples (issue 7): the same SQL on both backends --------------------------------------
#: Columns of Store.coverage_marks() (unchanged since v1, so the analytics read it as before).
MARK_DTYPES = {"id": "int64", "kode_desa": "str", "h3": "str", "status": "str", "surveyed_on": "str",
               "operators": "str", "evidence": "str", "author": "str", "simulated": "bool", "created_at": "int64"}

MARK_COLUMNS = tuple(MARK_DTYPES)

_MARK_STATE = ("status", "surveyed_on", "operators", "evidence", "simulated")

_MARK_WRITTEN = ("kode_desa", "h3", "status", "surveyed_on", "operators", "evidence", "author", "simulated",
                 "created_at", "action", "previous_id", "undoes")

#: Columns of Store.coverage_history(), with the dtypes both backends return; old_* is the state before the
#: change (all None when the target had no mark).
HISTORY_DTYPES = {"id": "int64", "kode_desa": "str", "h3": "str", "action": "str", "author": "str",
                  "created_at": "int64", "status": "str", "surveyed_on": "str", "operators": "str",
                  "evidence": "str", "simulated": "bool", "previous_id": "Int64", "undoes": "Int64",
                  "old_status": "str", "old_surveyed_on": "str", "old_operators": "str",
                  "old_evidence": "str"}

HISTORY_COLUMNS = tuple(HISTORY_DTYPES)

#: Columns of Store.signal_samples(), with their dtypes.
SAMPLE_DTYPES = {"id": "int64", "source": "str", "recorded_at": "int64", "lat": "float64", "lon": "float64",
                 "operator": "str", "dbm": "float64", "bars": "Int64", "network": "str",
                 "kode_desa": "str", "h3": "Int64", "simulated": "bool", "created_at": "int64"}

SAMPLE_COLUMNS = tuple(SAMPLE_DTYPES)

_SAMPLE_KEY = ("source", "recorded_at", "lat", "lon", "operator")

_SAMPLE_WRITTEN = ("source", "recorded_at", "lat", "lon", "operator", "dbm", "bars", "network", "kode_desa", "h3",
                   "simulated")

class CoverageSQL:
    """Statements for the coverage audit trail with a backend's placeholder (``?`` or ``%s``).

    A target is (kode_desa, h3) with h3 NULL for the whole desa; ``coalesce(h3, '')`` compares NULLs as equal on
    both backends (SQLite before 3.39 has no IS NOT DISTINCT FROM).
    """

    def __init__(self, ph: str) -> None:
        cols = ", ".join(MARK_COLUMNS)
        self.current = (f"SELECT {cols} FROM coverage_marks WHERE id IN "
                        "(SELECT max(id) FROM coverage_marks GROUP BY kode_desa, h3) AND status IS NOT NULL "
                        "ORDER BY id")
        self.all = f"SELECT {cols} FROM coverage_marks ORDER BY id"
        self.target_current = (f"SELECT id, author, created_at, {', '.join(_MARK_STATE)} FROM coverage_marks "
                               f"WHERE kode_desa = {ph} AND coalesce(h3, '') = {ph} ORDER BY id DESC LIMIT 1")
        self.insert = (f"INSERT INTO coverage_marks ({', '.join(_MARK_WRITTEN)}) "
                       f"VALUES ({', '.join([ph] * len(_MARK_WRITTEN))}) RETURNING id")
        self.change = f"SELECT id, kode_desa, h3, previous_id FROM coverage_marks WHERE id = {ph}"
        self.state = f"SELECT {', '.join(_MARK_STATE)} FROM coverage_marks WHERE id = {ph}"
        self.history = (
            "SELECT c.id, c.kode_desa, c.h3, c.action, c.author, c.created_at, c.status, c.surveyed_on, "
            "c.operators, c.evidence, c.simulated, c.previous_id, c.undoes, p.status, p.surveyed_on, p.operators, "
            "p.evidence FROM coverage_marks c LEFT JOIN coverage_marks p ON p.id = c.previous_id"
        )
        self.history_desa = f"{self.history} WHERE c.kode_desa = {ph}"
        self.samples = f"SELECT {', '.join(SAMPLE_COLUMNS)} FROM signal_samples"
        self.samples_desa = f"{self.samples} WHERE kode_desa = {ph}"

def _mark_state(mark: Any) -> tuple[Any, ...]:
    return (str(mark.status), mark.surveyed_on, mark.operators, mark.evidence, bool(mark.simulated))

def write_marks(cur: Any, sql: CoverageSQL, marks: Sequence[Any], *, skip_unchanged: bool = False,
                boolean: type = bool) -> list[int | None]:
    """Append each mark as a change of its target, after the target's current change (previous_id), in one
    transaction the caller holds with writers excluded. With ``skip_unchanged`` a mark whose status, survey date,
    operators, evidence and simulated flag equal its target's current state is not appended (None in the
    answer): re-importing a list changes nothing. Returns the new change ids, in order."""
    now = model.now_s()
    out: list[int | None] = []
    for m in marks:
        row = cur.execute(sql.target_current, (m.kode_desa, m.h3 or "")).fetchone()
        previous = None if row is None else int(row[0])
        if skip_unchanged and row is not None and (*row[3:-1], bool(row[-1])) == _mark_state(m):
            out.append(None)
            continue
        values = (m.kode_desa, m.h3, str(m.status), m.surveyed_on, m.operators, m.evidence, m.author.strip(),
                  boolean(m.simulated), now, "mark", previous, None)
        out.append(int(cur.execute(sql.insert, values).fetchone()[0]))
    return out

def undo_change(cur: Any, sql: CoverageSQL, change_id: int, author: str, *, boolean: type = bool) -> int:
    """Append a change that restores the state before ``change_id`` (no mark when it was the target's first);
    the id of the new change. Only the current change of a target can be undone (else StaleChange naming the
    later one): undoing an older one would silently drop what came after it."""
    if not str(author or "").strip():
        raise ValueError("an undo needs an author (who is undoing)")
    row = cur.execute(sql.change, (int(change_id),)).fetchone() if 0 < int(change_id) < 2**63 else None
    if row is None:
        raise UnknownChange(f"no coverage change has id {change_id}")
    _id, kode_desa, h3, previous = row
    current = cur.execute(sql.target_current, (kode_desa, h3 or "")).fetchone()
    if int(current[0]) != int(change_id):
        what = f"cell {h3} of desa {kode_desa}" if h3 else f"desa {kode_desa}"
        raise StaleChange(f"change {change_id} is no longer the current mark of {what}: change {current[0]} by "
                          f"{current[1]} came after it; undo that one first")
    state: tuple[Any, ...] = (None, None, None, None, False)
    if previous is not None:
        state = tuple(cur.execute(sql.state, (int(previous),)).fetchone())
    status, surveyed_on, operators, evidence, simulated = state
    values = (kode_desa, h3, status, surveyed_on, operators, evidence, author.strip(), boolean(bool(simulated)),
              model.now_s(), "undo", int(change_id), int(change_id))
    return int(cur.execute(sql.insert, values).fetchone()[0])

def history_frame(rows: Iterable[Sequence[Any]]) -> pd.DataFrame:
    return typed_frame(rows, HISTORY_DTYPES)

def _sample_values(s: Any) -> tuple[Any, ...]:
    """A sample as plain Python values in _SAMPLE_WRITTEN order."""
    return (str(s.source), int(s.recorded_at), float(s.lat), float(s.lon), str(s.operator or ""),
            None if s.dbm is None else float(s.dbm), None if s.bars is None else int(s.bars),
            None if s.network is None else str(s.network), s.kode_desa, None if s.h3 is None else int(s.h3),
            bool(s.simulated))

def write_samples(cur: Any, samples: Sequence[Any], placeholder: str, boolean: type = bool) -> WriteResult:
    """Upsert signal samples on (source, recorded_at, lat, lon, operator) through a DB-API cursor, comparing in
    Python like write_towers so both backends count inserted/updated/unchanged exactly; the caller holds the
    write lock. Of several samples with one key the last is written, the earlier count as unchanged."""
    latest = {}
    for s in samples:
        values = _sample_values(s)
        latest[values[: len(_SAMPLE_KEY)]] = values
    sources = sorted({k[0] for k in latest})
    stored: dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]] = {}
    p = placeholder
    if sources:
        rows = cur.execute(f"SELECT id, {', '.join(_SAMPLE_WRITTEN)} FROM signal_samples WHERE source IN "
                           f"({', '.join([p] * len(sources))})", sources).fetchall()
        for row in rows:
            values = (*row[1:-1], bool(row[-1]))
            stored[tuple(values[: len(_SAMPLE_KEY)])] = (int(row[0]), tuple(values))
    now = model.now_s()
    inserts = [(*v[:-1], boolean(v[-1]), now) for k, v in latest.items() if k not in stored]
    updates = [(*v[:-1], boolean(v[-1]), stored[k][0]) for k, v in latest.items()
               if k in stored and stored[k][1] != v]
    if inserts:
        cur.executemany(f"INSERT INTO signal_samples ({', '.join(_SAMPLE_WRITTEN)}, created_at) "
                        f"VALUES ({', '.join([p] * (len(_SAMPLE_WRITTEN) + 1))})", inserts)
    if updates:
        cur.executemany(f"UPDATE signal_samples SET {', '.join(f'{c} = {p}' for c in _SAMPLE_WRITTEN)} "
                        f"WHERE id = {p}", updates)
    return WriteResult(inserted=len(inserts), updated=len(updates),
                       unchanged=len(samples) - len(inserts) - len(updates))


class CoverageStore(Protocol):
    """Coverage marks (append-only, undoable) and signal samples."""

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


class CoverageMethods(SQLBackend):
    """CoverageStore on any SQL backend. A change records the target's current change as its previous_id and an
    undo checks it undoes the current one, so writers of the trail go one at a time (``_locked``)."""

    _COVERAGE: CoverageSQL

    def add_coverage_marks(self, marks: Sequence[CoverageMark], *, skip_unchanged: bool = False) -> int:
        with self._locked("coverage_marks") as cur:
            ids = write_marks(cur, self._COVERAGE, marks, skip_unchanged=skip_unchanged, boolean=self._BOOLEAN)
        return sum(1 for i in ids if i is not None)

    def mark_coverage(self, mark: CoverageMark) -> int:
        with self._locked("coverage_marks") as cur:
            (change,) = write_marks(cur, self._COVERAGE, [mark], boolean=self._BOOLEAN)
        assert change is not None
        return change

    def undo_coverage_change(self, change_id: int, author: str) -> int:
        with self._locked("coverage_marks") as cur:
            return undo_change(cur, self._COVERAGE, change_id, author, boolean=self._BOOLEAN)

    def add_signal_samples(self, samples: Sequence[SignalSample]) -> WriteResult:
        with self._locked("signal_samples") as cur:
            return write_samples(cur, samples, self._PH, self._BOOLEAN)

    def signal_samples(self, kode_desa: str | None = None) -> pd.DataFrame:
        c = self._COVERAGE
        sql, params = (c.samples, []) if kode_desa is None else (c.samples_desa, [kode_desa])
        return typed_frame(self._query(sql + " ORDER BY id", params), SAMPLE_DTYPES)

    def coverage_marks(self, current_only: bool = True) -> pd.DataFrame:
        return typed_frame(self._query(self._COVERAGE.current if current_only else self._COVERAGE.all), MARK_DTYPES)

    def coverage_history(self, kode_desa: str | None = None, *, limit: int | None = None) -> pd.DataFrame:
        c = self._COVERAGE
        sql, params = (c.history, []) if kode_desa is None else (c.history_desa, [kode_desa])
        sql += " ORDER BY c.id DESC" + ("" if limit is None else f" LIMIT {int(limit)}")
        return history_frame(self._query(sql, params))
