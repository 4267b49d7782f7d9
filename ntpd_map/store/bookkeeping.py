"""Ingest bookkeeping: rejected rows kept for review, and the store's metadata."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ntpd_map.store import model
from ntpd_map.store.backend import SQLBackend
from ntpd_map.store.model import (
    frame_from_rows,
)

if TYPE_CHECKING:
    import pandas as pd



class BookkeepingStore(Protocol):
    """Rejected input rows and key/value metadata."""

    def add_rejects(self, batch: str, rows: Sequence[dict[str, Any]]) -> int:
        """Keep rejected input rows (row number, reason, original values) for review."""

    def rejects(self, batch: str | None = None) -> pd.DataFrame: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


REJECT_COLUMNS = ("id", "batch", "row_number", "reason", "original", "created_at")


class BookkeepingMethods(SQLBackend):
    """BookkeepingStore on any SQL backend."""

    def add_rejects(self, batch: str, rows: Sequence[dict[str, Any]]) -> int:
        ph, now = self._PH, model.now_s()
        self._run([(f"INSERT INTO rejects ({', '.join(REJECT_COLUMNS[1:])}) VALUES ({', '.join([ph] * 5)})",
                    [(batch, r.get("row_number"), r["reason"],
                      json.dumps(r.get("original", {}), ensure_ascii=False, default=str), now) for r in rows])])
        return len(rows)

    def rejects(self, batch: str | None = None) -> pd.DataFrame:
        sql = f"SELECT {', '.join(REJECT_COLUMNS)} FROM rejects"
        params: list[Any] = []
        if batch is not None:
            sql += f" WHERE batch = {self._PH}"
            params.append(batch)
        frame = frame_from_rows(self._query(sql + " ORDER BY id", params), REJECT_COLUMNS)
        # SQLite keeps the JSON text; psycopg has parsed the jsonb already
        frame["original"] = [json.loads(v) if isinstance(v, str) else v for v in frame["original"]]
        return frame

    def get_meta(self, key: str) -> str | None:
        rows = self._query(f"SELECT value FROM meta WHERE key = {self._PH}", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        ph = self._PH
        self._run([(f"INSERT INTO meta (key, value) VALUES ({ph}, {ph}) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value", [(key, value)])])
