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

from flask import Response, jsonify, request

from ntpd_map import audit
from ntpd_map.access.roles import KEY_PLANNER, KEY_READ
from ntpd_map.geo.codes import normalise_code
from ntpd_map.geo.signal import mark_from_fields
from ntpd_map.http.openapi import ERROR, answer
from ntpd_map.http.routes import KEY, Call, Route, fail
from ntpd_map.store.model import StaleChange, StoreUnavailable, UnknownChange

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.store.base import Store

log = logging.getLogger(__name__)

MAX_AUTHOR = 100
HISTORY_LIMIT = 200


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


def author_of(call: Call, body: dict[str, Any]) -> str:
    who = body.get("author")
    if who is not None and not isinstance(who, str):
        raise ValueError("author must be text (the person's user name)")
    who = " ".join((who or "").split())[:MAX_AUTHOR]
    return f"{who} ({call.actor})" if who else call.actor


def change_answer(call: Call, action: str, change_id: int, kode_desa: str | None = None, **detail: Any) -> Response:
    """Record the change in the audit log and answer 201 with it (old -> new)."""
    store = call.runtime.store
    row = change_row(store, change_id, kode_desa)
    assert row is not None  # just appended, and the trail is append-only
    audit.record(store, call.actor, action, row["kode_desa"], change=change_id, h3=row["h3"], status=row["status"],
                 author=row["author"], **detail)
    response = jsonify({"id": change_id, "change": row})
    response.status_code = 201
    return response


def post_mark(call: Call) -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return fail(400, "send a JSON object: {kode_desa or h3, status, operators, surveyed_on, evidence}")
    try:
        mark = mark_from_fields(call.runtime.region, body, author_of(call, body))
    except ValueError as exc:
        return fail(400, str(exc))
    try:
        change = call.runtime.store.mark_coverage(mark)
        log.info("coverage change %s: %s%s -> %s by %s", change, mark.kode_desa,
                 f" cell {mark.h3}" if mark.h3 else "", mark.status, mark.author)
        return change_answer(call, "coverage.mark", change, mark.kode_desa)
    except StoreUnavailable:
        return fail(503, "store unavailable: nothing was written, retry later")


def undo_mark(call: Call, id: int) -> Response:
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    try:
        change = call.runtime.store.undo_coverage_change(id, author_of(call, body))
        log.info("coverage change %s undoes %s", change, id)
        return change_answer(call, "coverage.undo", change, undoes=id)
    except UnknownChange as exc:
        return fail(404, str(exc))
    except StaleChange as exc:
        return fail(409, str(exc))
    except ValueError as exc:
        return fail(400, str(exc))
    except StoreUnavailable:
        return fail(503, "store unavailable: nothing was written, retry later")


def history(call: Call) -> Response:
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
        trail = call.runtime.store.coverage_history(kode, limit=limit)
    except StoreUnavailable:
        return fail(503, "store unavailable, retry later")
    return jsonify({"kode_desa": kode, "changes": change_records(trail)})


MARK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "kode_desa": {"type": "string", "description": "Kemendagri code of a desa of the region (53.03.06.2001); "
                                                      "with h3, the desa the cell is kept with"},
        "h3": {"type": "string", "description": "an H3 cell (resolution 7-9) to mark instead of the whole desa; "
                                               "without kode_desa it is kept with the desa at its centre"},
        "status": {"type": "string", "enum": ["none", "weak", "2g_only", "good"],
                   "description": "tidak ada sinyal / lemah / 2G saja / baik (the Indonesian words are accepted)"},
        "operators": {"type": "string", "description": "operators seen, e.g. 'Telkomsel, XL'"},
        "surveyed_on": {"type": "string", "format": "date"},
        "evidence": {"type": "string", "maxLength": 2000},
        "author": {"type": "string", "description": "the person acting; kept as 'author (api:<key name>)'"},
    },
}
CHANGE = {"type": "object", "required": ["id", "change"], "properties": {
    "id": {"type": "integer"},
    "change": {"type": "object", "description": "id, kode_desa, h3, action (mark|undo), author, created_at, status, "
                                                "surveyed_on, operators, evidence, previous_id, undoes, old {status, "
                                                "surveyed_on, operators, evidence}"}}}


ROUTES = (
    Route("POST", "/api/coverage/marks", post_mark, KEY, KEY_PLANNER, doc={
        "summary": "Mark a desa's (or an H3 cell's) signal status (planner or admin key); kept in the audit trail "
                   "with who, when, old -> new",
        "requestBody": {"required": True, "content": {"application/json": {"schema": MARK_SCHEMA}}},
        "responses": {"201": answer("the change", CHANGE), "400": answer("a bad field: the reason", ERROR)}}),
    Route("POST", "/api/coverage/marks/<int:id>/undo", undo_mark, KEY, KEY_PLANNER, doc={
        "summary": "Undo a change: appends a change restoring the state before it (planner or admin key)",
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"author": {"type": "string"}}}}}},
        "responses": {"201": answer("the undoing change", CHANGE), "404": answer("no such change", ERROR),
                      "409": answer("a later change of the same desa or cell exists", ERROR)}}),
    Route("GET", "/api/coverage/history", history, KEY, KEY_READ, doc={
        "summary": "The coverage audit trail, newest first (read, planner or admin key)",
        "parameters": [{"name": "kode_desa", "in": "query", "schema": {"type": "string"}},
                       {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 5000}}],
        "responses": {"200": answer("changes", {"type": "object", "required": ["changes"]}),
                      "400": answer("bad parameters", ERROR)}}),
)
