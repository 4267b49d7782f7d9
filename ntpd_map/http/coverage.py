"""Signal marks over HTTP (issue 7): mark a desa or an H3 cell, undo a change, read the audit trail.

- ``POST /api/coverage/marks`` (planner or admin key): ``{"kode_desa" and/or "h3", "status", "operators",
  "surveyed_on", "evidence", "author"}``; 201 with the change (old -> new), 400 naming the bad field.
- ``POST /api/coverage/marks/<id>/undo`` (planner or admin key): appends a change restoring the state before
  change ``id``; 404 unknown id, 409 when a later change of the same desa or cell exists (undo that first).
- ``GET /api/coverage/history?kode_desa=&limit=`` (read, planner or admin key): the trail, newest first.

The author kept with a change is the key's integration name (``api:<name>``), with the person the body names in
front of it when it names one: a key is shared by a tool, the person is who the tool says acted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ntpd_map.access.roles import can_edit_coverage

if TYPE_CHECKING:
    import pandas as pd
    from flask import Flask, Response

    from ntpd_map.runtime import Runtime
    from ntpd_map.store.base import Store

log = logging.getLogger(__name__)

MAX_AUTHOR = 100
HISTORY_LIMIT = 200


def _can_read(role: str | None) -> bool:
    return role in ("read", "planner", "admin")


def change_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """History rows as JSON-ready dicts: missing values as null, numbers as plain ints/bools."""
    out = []
    for rec in frame.to_dict("records"):
        row: dict[str, Any] = {}
        for key, value in rec.items():
            if value is None or (isinstance(value, float) and value != value) or str(value) in ("<NA>", "nan"):
                row[key] = None
            elif hasattr(value, "item"):
                row[key] = value.item()
            else:
                row[key] = value
        row["old"] = {k: row.pop(f"old_{k}") for k in ("status", "surveyed_on", "operators", "evidence")}
        out.append(row)
    return out


def change_row(store: Store, change_id: int, kode_desa: str | None = None) -> dict[str, Any] | None:
    """One change of the trail as change_records makes it (None when there is no such change). A change just
    made is among the newest 50; only when more arrived meanwhile is the whole trail read."""
    trail = store.coverage_history(kode_desa, limit=None if kode_desa else 50)
    row = trail[trail["id"] == change_id]
    if not len(row):  # more than 50 changes arrived meanwhile
        trail = store.coverage_history()
        row = trail[trail["id"] == change_id]
    return change_records(row)[0] if len(row) else None


def register_coverage_api(server: Flask, runtime: Runtime) -> None:
    from flask import jsonify, request

    from ntpd_map import audit
    from ntpd_map.geo.signal import mark_from_fields
    from ntpd_map.http.incidents import check_key, fail
    from ntpd_map.store.base import StaleChange, StoreUnavailable, UnknownChange

    def author_of(key: dict[str, Any], body: dict[str, Any]) -> str:
        who = body.get("author")
        if who is not None and not isinstance(who, str):
            raise ValueError("author must be text (the person's user name)")
        who = " ".join((who or "").split())[:MAX_AUTHOR]
        return f"{who} (api:{key['name']})" if who else f"api:{key['name']}"

    def change_answer(key: dict[str, Any], action: str, change_id: int, kode_desa: str | None = None,
                      **detail: Any) -> Response:
        """Record the change in the audit log and answer 201 with it (old -> new)."""
        row = change_row(runtime.store, change_id, kode_desa)
        assert row is not None  # just appended, and the trail is append-only
        audit.record(runtime.store, f"api:{key['name']}", action, row["kode_desa"], change=change_id, h3=row["h3"],
                     status=row["status"], author=row["author"], **detail)
        response = jsonify({"id": change_id, "change": row})
        response.status_code = 201
        return response

    @server.post("/api/coverage/marks")
    def post_coverage_mark() -> Response:
        key, denied = check_key(runtime, "planner or admin", can_edit_coverage)
        if denied or key is None:
            return denied or fail(401, "no key")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return fail(400, "send a JSON object: {kode_desa or h3, status, operators, surveyed_on, evidence}")
        try:
            mark = mark_from_fields(runtime.region, body, author_of(key, body))
        except ValueError as exc:
            return fail(400, str(exc))
        try:
            change = runtime.store.mark_coverage(mark)
            log.info("coverage change %s: %s%s -> %s by %s", change, mark.kode_desa,
                     f" cell {mark.h3}" if mark.h3 else "", mark.status, mark.author)
            return change_answer(key, "coverage.mark", change, mark.kode_desa)
        except StoreUnavailable:
            return fail(503, "store unavailable: nothing was written, retry later")

    @server.post("/api/coverage/marks/<int:change_id>/undo")
    def undo_coverage_mark(change_id: int) -> Response:
        key, denied = check_key(runtime, "planner or admin", can_edit_coverage)
        if denied or key is None:
            return denied or fail(401, "no key")
        body = request.get_json(silent=True)
        body = body if isinstance(body, dict) else {}
        try:
            change = runtime.store.undo_coverage_change(change_id, author_of(key, body))
            log.info("coverage change %s undoes %s", change, change_id)
            return change_answer(key, "coverage.undo", change, undoes=change_id)
        except UnknownChange as exc:
            return fail(404, str(exc))
        except StaleChange as exc:
            return fail(409, str(exc))
        except ValueError as exc:
            return fail(400, str(exc))
        except StoreUnavailable:
            return fail(503, "store unavailable: nothing was written, retry later")

    @server.get("/api/coverage/history")
    def coverage_history() -> Response:
        from ntpd_map.geo.boundaries import normalise_code

        _key, denied = check_key(runtime, "read, planner or admin", _can_read)
        if denied:
            return denied
        kode = request.args.get("kode_desa") or None
        try:
            limit = int(request.args.get("limit") or HISTORY_LIMIT)
            if not 1 <= limit <= 5000:
                raise ValueError
        except ValueError:
            return fail(400, "limit is a whole number 1-5000")
        if kode is not None:
            try:
                kode = normalise_code(kode)
            except ValueError:
                return fail(400, "kode_desa is a Kemendagri desa code like 53.03.06.2001")
        try:
            trail = runtime.store.coverage_history(kode, limit=limit)
        except StoreUnavailable:
            return fail(503, "store unavailable, retry later")
        return jsonify({"kode_desa": kode, "changes": change_records(trail)})
