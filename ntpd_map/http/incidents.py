"""The HTTP API (issue 4): incidents in, the recap out, an OpenAPI document describing both.

Every endpoint checks an API key (``Authorization: Bearer KEY``). Bad rows get field-level reasons and are
kept in the reject table; good rows of the same request still land; a repeated submission changes nothing;
a store that cannot be reached answers 503 with Retry-After, never a 200 that loses data.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date
from typing import TYPE_CHECKING, Any

from ntpd_map.access.keys import allowed, key_from_header

if TYPE_CHECKING:
    from collections.abc import Callable

    from flask import Flask, Response

    from ntpd_map.ingest.records import ParsedBatch
    from ntpd_map.runtime import Runtime

log = logging.getLogger(__name__)

MAX_RECORDS = 5000
RETRY_AFTER_S = 30

INCIDENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "waktu", "jenis_panggilan"],
    "properties": {
        "id": {"type": "string", "description": "The call's id in the sending system (external_id)."},
        "waktu": {"type": "string", "description": "Received at: ISO 8601, YYYY-MM-DD HH:MM or DD/MM/YYYY HH:MM; "
                                                  "without an offset, the center's local time."},
        "jenis_panggilan": {"type": "string", "description": "Call type: darurat, iseng, diam, terputus, ..."},
        "kategori": {"type": "string"},
        "instansi": {"type": "string"},
        "status": {"type": "string"},
        "lat": {"type": ["number", "string"]},
        "lon": {"type": ["number", "string"]},
        "desa": {"type": "string"},
        "kecamatan": {"type": "string"},
        "kode_wilayah": {"type": "string"},
        "lokasi_sumber": {"type": "string", "enum": ["gps", "cell", "address", "unknown"]},
        "waktu_dispatch": {"type": "string"},
        "waktu_tiba": {"type": "string"},
        "waktu_selesai": {"type": "string"},
        "nomor_penelepon": {"type": "string", "description": "Stored only as a keyed hash and its last 3 digits."},
        "keterangan": {"type": "string"},
    },
    "additionalProperties": True,
}

PERIOD: list[dict[str, Any]] = [
        {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
         "description": "first local date (default: 29 days before to)"},
        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"},
         "description": "last local date, inclusive (default: today)"},
    ]
ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
RESULT = {
    "type": "object",
    "required": ["accepted", "inserted", "updated", "duplicates", "rejected", "errors"],
    "properties": {
        "accepted": {"type": "integer"}, "inserted": {"type": "integer"}, "updated": {"type": "integer"},
        "duplicates": {"type": "integer"}, "rejected": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "row": {"type": "integer"}, "reason": {"type": "string"}}}},
    },
}


OSMAND_FIELDS = [
    {"name": n, "in": "query", "schema": {"type": "string"}, "description": d} for n, d in (
        ("id", "device id registered to a unit"), ("timestamp", "Unix s or ms, or ISO 8601 (no offset: local)"),
        ("lat", "latitude"), ("lon", "longitude"), ("speed", "knots"), ("bearing", "degrees"),
        ("altitude", "m"), ("accuracy", "m"), ("batt", "battery %"), ("charge", "true when charging"))
]
PLAIN = {"content": {"text/plain": {"schema": {"type": "string"}}}}
RESPONDER_PATHS: dict[str, Any] = {
    "/api/positions/osmand": {
        method: {
            "summary": "A position as the Traccar Client app sends it (OsmAnd protocol; the device id is the "
                       "credential, no key)",
            "security": [],
            "parameters": OSMAND_FIELDS,
            **({"requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"device_id": {"type": "string"}, "location": {"type": "object"}}}}}}}
               if method == "post" else {}),
            "responses": {"200": {"description": "stored (or already stored)", **PLAIN},
                          "400": {"description": "bad coordinates or time: the reason", **PLAIN},
                          "403": {"description": "device not registered to a unit (counted)", **PLAIN},
                          "503": {"description": "store unavailable, retry later", **PLAIN}},
        } for method in ("get", "post")
    },
}


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
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def openapi_document() -> dict[str, Any]:
    def answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    auth_errors = {"401": answer("missing or unknown key", ERROR), "403": answer("the key's role may not", ERROR),
                   "503": answer("store unavailable, retry after the Retry-After seconds", ERROR)}
    return {
        "openapi": "3.0.3",
        "info": {"title": "ntpd-map API", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/api/incidents": {"post": {
                "summary": "Submit incidents (one object or a list); upsert by the key's source and the id",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                    INCIDENT_SCHEMA, {"type": "array", "items": INCIDENT_SCHEMA, "maxItems": MAX_RECORDS}]}}}},
                "responses": {"200": answer("accepted (some rows may be rejected, see errors)", RESULT),
                              "400": answer("not JSON, or not an object or a list", ERROR),
                              "413": answer("too large", ERROR),
                              "422": answer("every row rejected", RESULT), **auth_errors},
            }},
            "/api/recap": {"get": {
                "summary": "The recap of a period (local dates of the center, inclusive)",
                "parameters": [
                    {"name": "from", "in": "query", "required": True, "schema": {"type": "string", "format": "date"}},
                    {"name": "to", "in": "query", "required": True, "schema": {"type": "string", "format": "date"}},
                ],
                "responses": {"200": answer("the recap", {"type": "object"}),
                              "400": answer("bad dates", ERROR), **auth_errors},
            }},
            "/api/priorities": {"get": {
                "summary": "Socialisation or BTS priority per kecamatan (or desa), every component of each score",
                "parameters": [*PERIOD, {"name": "metric", "in": "query",
                                         "schema": {"type": "string", "enum": ["socialisation", "bts"]}},
                               {"name": "level", "in": "query",
                                "schema": {"type": "string", "enum": ["kecamatan", "desa"]}}],
                "responses": {"200": answer("one row per kecamatan: kode, nama, score, rank, components",
                                            {"type": "object", "required": ["metric", "from", "to", "rows"]}),
                              "400": answer("bad parameters", ERROR), **auth_errors},
            }},
            **RESPONDER_PATHS,
            "/api/positions/traccar": {"post": {
                "summary": "A position as a Traccar server forwards it (forward.type=json; ingest key)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["position", "device"],
                    "properties": {"position": {"type": "object"}, "device": {"type": "object"}}}}}},
                "responses": {"200": answer("stored, or ignored when Traccar marks it without a fix",
                                            {"type": "object"}),
                              "400": answer("bad coordinates or time", ERROR),
                              "403": answer("device not registered to a unit, or the key's role", ERROR),
                              **auth_errors},
            }},
            "/api/responders": {"get": {
                "summary": "Every unit at its latest position: a GeoJSON FeatureCollection",
                "responses": {"200": {"description": "properties device, unit, agency, kind, status, age_s, "
                                                     "stale, offline, source, ...", "content": {
                    "application/geo+json": {"schema": {"type": "object", "required": ["type", "features"]}}}},
                              **auth_errors},
            }},
            "/api/responders/{device}/track": {"get": {
                "summary": "A unit's track over the last minutes (LineString, oldest first)",
                "parameters": [{"name": "device", "in": "path", "required": True, "schema": {"type": "string"}},
                               {"name": "minutes", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                            "maximum": 1440}}],
                "responses": {"200": answer("a GeoJSON Feature", {"type": "object"}),
                              "400": answer("bad minutes", ERROR), "404": answer("no such unit", ERROR),
                              **auth_errors},
            }},
            "/api/units/{device}/status": {"post": {
                "summary": "Set a unit's status (ingest key)",
                "parameters": [{"name": "device", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["status"], "properties": {"status": {
                        "type": "string",
                        "enum": ["available", "dispatched", "on_scene", "returning", "off_duty"]}}}}}},
                "responses": {"200": answer("changed", {"type": "object"}), "400": answer("bad status", ERROR),
                              "404": answer("no such unit", ERROR), **auth_errors},
            }},
            "/api/responders/unknown": {"get": {
                "summary": "Devices that reported without being registered, with counts (admin key)",
                "responses": {"200": answer("devices", {"type": "object"}), **auth_errors},
            }},
            "/api/coverage/marks": {"post": {
                "summary": "Mark a desa's (or an H3 cell's) signal status (planner or admin key); kept in the audit "
                           "trail with who, when, old -> new",
                "requestBody": {"required": True, "content": {"application/json": {"schema": MARK_SCHEMA}}},
                "responses": {"201": answer("the change", CHANGE), "400": answer("a bad field: the reason", ERROR),
                              **auth_errors},
            }},
            "/api/coverage/marks/{id}/undo": {"post": {
                "summary": "Undo a change: appends a change restoring the state before it (planner or admin key)",
                "parameters": [{"name": "id", "in": "path", "required": True,
                                "schema": {"type": "integer", "minimum": 1}}],
                "requestBody": {"required": False, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"author": {"type": "string"}}}}}},
                "responses": {"201": answer("the undoing change", CHANGE), "404": answer("no such change", ERROR),
                              "409": answer("a later change of the same desa or cell exists", ERROR),
                              **auth_errors},
            }},
            "/api/coverage/history": {"get": {
                "summary": "The coverage audit trail, newest first (read, planner or admin key)",
                "parameters": [{"name": "kode_desa", "in": "query", "schema": {"type": "string"}},
                               {"name": "limit", "in": "query",
                                "schema": {"type": "integer", "minimum": 1, "maximum": 5000}}],
                "responses": {"200": answer("changes", {"type": "object", "required": ["changes"]}),
                              "400": answer("bad parameters", ERROR), **auth_errors},
            }},
            **{f"/api/bts-proposal.{fmt}": {"get": {
                "summary": f"The BTS proposal for Komdigi as {fmt.upper()}: one row per blank-spot desa, sorted by "
                           "the desa-level BTS index, with its evidence (read key)",
                "parameters": PERIOD,
                "responses": {"200": {"description": "the file (named ..._SIMULASI when the data is simulated)",
                                      "content": {mime: {"schema": {"type": "string", "format": "binary"}}}},
                              "400": answer("bad dates", ERROR), **auth_errors},
            }} for fmt, mime in (("xlsx", XLSX), ("csv", "text/csv"))},
            "/api/hexes": {"get": {
                "summary": "H3 hexagons clipped to kecamatan with a count per call type (GeoJSON)",
                "parameters": [*PERIOD, {"name": "res", "in": "query",
                                         "schema": {"type": "integer", "minimum": 7, "maximum": 9}},
                               {"name": "empty", "in": "query", "schema": {"type": "boolean"},
                                "description": "include pieces without calls"}],
                "responses": {"200": {"description": "a FeatureCollection", "content": {
                    "application/geo+json": {"schema": {"type": "object", "required": ["type", "features"]}}}},
                              "400": answer("bad parameters", ERROR), **auth_errors},
            }},
        },
    }


def fail(status: int, message: str) -> Response:
    """A JSON error; 503 carries Retry-After."""
    from flask import jsonify

    response = jsonify({"error": message})
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def check_key(runtime: Runtime, needed: str,
              may: Callable[[str | None], bool] | None = None) -> tuple[dict[str, Any] | None, Response | None]:
    """The request's API key, or the error to answer: 401 unknown, 403 wrong role, 503 store down. The role
    must be ``needed`` or admin, or pass ``may`` when given (``needed`` then names the roles it allows)."""
    from flask import request

    from ntpd_map.store.base import StoreUnavailable

    try:
        key = key_from_header(runtime.store, request.headers.get("Authorization"))
    except StoreUnavailable:
        return None, fail(503, "store unavailable: cannot check the API key, retry later")
    if key is None:
        return None, fail(401, "send a valid API key as 'Authorization: Bearer KEY'")
    if not (may(key["role"]) if may else allowed(key["role"], needed)):
        wanted = needed if may else f"{needed} or admin"
        return None, fail(403, f"this key's role ({key['role']}) may not do this; it needs {wanted}")
    return key, None


def register_api(server: Flask, runtime: Runtime) -> None:
    from flask import jsonify, request

    from ntpd_map import audit
    from ntpd_map.store.base import StoreUnavailable

    server.config["MAX_CONTENT_LENGTH"] = runtime.settings.int("NTPD_MAX_UPLOAD_MB") * 2**20

    def authorise(needed: str) -> tuple[dict[str, Any] | None, Response | None]:
        return check_key(runtime, needed)

    @server.errorhandler(413)
    def too_large(_exc: Exception) -> Response:
        return fail(413, f"request larger than {runtime.settings.int('NTPD_MAX_UPLOAD_MB')} MB")

    @server.get("/api/openapi.json")
    def openapi() -> Response:
        return jsonify(openapi_document())

    @server.post("/api/incidents")
    def post_incidents() -> Response:
        key, denied = authorise("ingest")
        if denied or key is None:
            return denied or fail(401, "no key")
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            records = [body]
        elif isinstance(body, list) and all(isinstance(r, dict) for r in body):
            records = body
        else:
            return fail(400, "send a JSON object or a list of objects (Content-Type: application/json)")
        if not records:
            return fail(400, "the list is empty")
        if len(records) > MAX_RECORDS:
            return fail(413, f"at most {MAX_RECORDS} records per request; split the list")
        try:
            # each integration has its own key, so its name is the source: ids from two systems never collide
            result = ingest_records(runtime, records, source=f"api:{key['name']}")
        except StoreUnavailable:
            log.warning("store unavailable: answered 503 to %d incident records", len(records))
            return fail(503, "store unavailable: nothing was written, retry after the Retry-After seconds")
        # counts only: never a caller's number or the notes of a call
        audit.record(runtime.store, f"api:{key['name']}", "api.incidents", result["batch"], records=len(records),
                     inserted=result["inserted"], updated=result["updated"], duplicates=result["duplicates"],
                     rejected=result["rejected"])
        response = jsonify(result)
        response.status_code = 422 if result["accepted"] == 0 and result["duplicates"] == 0 else 200
        return response

    @server.get("/api/recap")
    def get_recap() -> Response:
        from ntpd_map.analytics.recap import recap

        _key, denied = authorise("read")
        if denied:
            return denied
        try:
            date_from = date.fromisoformat(request.args.get("from", ""))
            date_to = date.fromisoformat(request.args.get("to", ""))
            if date_to < date_from:
                raise ValueError
        except ValueError:
            return fail(400, "give from and to as local dates YYYY-MM-DD, from <= to")
        try:
            return jsonify(recap(runtime.store, date_from, date_to, runtime.settings.tz))
        except StoreUnavailable:
            return fail(503, "store unavailable, retry later")


def ingest_records(runtime: Runtime, records: list[dict[str, Any]], *, source: str) -> dict[str, Any]:
    """Validate, locate and write API records; keep the rejects."""
    from ntpd_map.ingest.records import incidents_from_records

    batch = incidents_from_records(records, source=source, tz=runtime.settings.tz, region=runtime.region,
                                   caller_key=runtime.secret_key)
    return write_batch(runtime, batch, source=source)


def write_batch(runtime: Runtime, batch: ParsedBatch, *, source: str) -> dict[str, Any]:
    """Write a parsed batch (API or file) and keep its rejects; the summary both report."""
    from ntpd_map.ingest.write import write_incidents

    frame = batch.frame.drop(columns=["row_number"], errors="ignore")
    written = write_incidents(runtime.store, runtime.locator, frame)
    batch_id = f"{source}:{uuid.uuid4().hex[:12]}"
    if batch.rejects:
        runtime.store.add_rejects(batch_id, batch.rejects)
    return {
        "batch": batch_id,
        "accepted": written.inserted + written.updated,
        "inserted": written.inserted,
        "updated": written.updated,
        "duplicates": written.unchanged + batch.in_batch_duplicates,
        "rejected": len(batch.rejects),
        "errors": [{"row": r["row_number"], "reason": r["reason"]} for r in batch.rejects[:200]],
    }
