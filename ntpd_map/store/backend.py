"""What a SQL backend gives the concern methods they share (``incidents.IncidentMethods`` and the others): the
statements are written once with the backend's placeholder, and these few hooks run them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any


class SQLBackend:
    """``_PH``: the placeholder (``?`` SQLite, ``%s`` psycopg); ``_BOOLEAN``: how ``simulated`` is bound (int for
    SQLite, bool for PostgreSQL)."""

    _PH = "?"
    _BOOLEAN: type = bool

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read."""
        raise NotImplementedError

    def _run(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """(sql, rows) pairs through executemany in one write transaction; the rows each changed."""
        raise NotImplementedError

    def _write_rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement in one write transaction; the rows it returns (RETURNING)."""
        raise NotImplementedError

    def _locked(self, table: str) -> AbstractContextManager[Any]:
        """A cursor in a write transaction no other writer of ``table`` runs beside (compare, then write)."""
        raise NotImplementedError
