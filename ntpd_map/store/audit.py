"""The audit log (issue 8): append-only; write through ntpd_map.audit.record, which checks the action."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

from ntpd_map.store import model
from ntpd_map.store.backend import SQLBackend
from ntpd_map.store.model import (
    typed_frame,
)

if TYPE_CHECKING:
    import pandas as pd



#: Columns of Store.audit_log(), with their dtypes; detail is the JSON text as stored.
AUDIT_DTYPES = {"id": "int64", "at": "int64", "actor": "str", "action": "str", "target": "str", "detail": "str"}

def _plain(value: Any) -> Any:
    """JSON for what json cannot encode itself: numpy numbers as Python numbers, anything else as text."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)

def detail_json(detail: dict[str, Any] | None) -> str | None:
    if detail is None:
        return None
    return json.dumps(detail, sort_keys=True, ensure_ascii=False, default=_plain)


class AuditSQL:
    """The audit log's statements with a backend's placeholder."""

    def __init__(self, ph: str) -> None:
        self.ph = ph
        self.add = (f"INSERT INTO audit_log (at, actor, action, target, detail) VALUES ({ph}, {ph}, {ph}, {ph}, {ph}) "
                    "RETURNING id")
        self.read = f"SELECT {', '.join(AUDIT_DTYPES)} FROM audit_log"


class AuditStore(Protocol):
    """Who did what, which and when."""

    def audit(self, actor: str, action: str, target: str | None, detail: dict[str, Any] | None) -> int:
        """Append an entry at the current time (Unix s); detail is stored as JSON with sorted keys. Its id."""

    def audit_log(self, *, since: int | None = None, action: str | None = None, actor: str | None = None,
                  limit: int = 500) -> pd.DataFrame:
        """Entries at or after ``since`` (Unix s), of one action and/or one actor, newest first (by id), at most
        ``limit``: id, at, actor, action, target, detail (the JSON text)."""


class AuditMethods(SQLBackend):
    """AuditStore on any SQL backend."""

    _AUDIT: AuditSQL

    def audit(self, actor: str, action: str, target: str | None, detail: dict[str, Any] | None) -> int:
        if not str(actor or "").strip() or not str(action or "").strip():
            raise ValueError("an audit entry needs an actor and an action")
        values = (model.now_s(), str(actor), str(action), None if target is None else str(target), detail_json(detail))
        return int(self._write_rows(self._AUDIT.add, values)[0][0])

    def audit_log(self, *, since: int | None = None, action: str | None = None, actor: str | None = None,
                  limit: int = 500) -> pd.DataFrame:
        if int(limit) < 0:
            raise ValueError(f"limit {limit} is negative")
        ph = self._AUDIT.ph
        clauses: list[str] = []
        params: list[Any] = []
        filters = ((f"at >= {ph}", None if since is None else int(since)), (f"action = {ph}", action),
                   (f"actor = {ph}", actor))
        for clause, value in filters:
            if value is not None:
                clauses.append(clause)
                params.append(value)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        # newest first by id, the order entries were appended in: several share a second, and a clock set back
        # must not reorder the log
        sql = f"{self._AUDIT.read}{where} ORDER BY id DESC LIMIT {ph}"
        return typed_frame(self._query(sql, [*params, int(limit)]), AUDIT_DTYPES)
