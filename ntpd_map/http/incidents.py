"""Incidents over HTTP (issue 4): incidents in, the recap out.

Bad rows get field-level reasons and are kept in the reject table; good rows of the same request still land;
a repeated submission changes nothing; a store that cannot be reached answers 503 with Retry-After, never a
200 that loses data.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from flask import Response, jsonify, request

from ntpd_map import audit
from ntpd_map.access.roles import KEY_INGEST, KEY_READ
from ntpd_map.analytics.recap import recap
from ntpd_map.http.openapi import ERROR, answer
from ntpd_map.http.routes import KEY, Call, Route, fail
from ntpd_map.ingest.write import ingest_records
from ntpd_map.store.model import StoreUnavailable

log = logging.getLogger(__name__)

MAX_RECORDS = 5000

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




def post_incidents(call: Call) -> Response:
    assert call.key is not None
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
        result = ingest_records(call.runtime, records, source=call.actor)
    except StoreUnavailable:
        log.warning("store unavailable: answered 503 to %d incident records", len(records))
        return fail(503, "store unavailable: nothing was written, retry after the Retry-After seconds")
    # counts only: never a caller's number or the notes of a call
    audit.record(call.runtime.store, call.actor, "api.incidents", result["batch"], records=len(records),
                 inserted=result["inserted"], updated=result["updated"], duplicates=result["duplicates"],
                 rejected=result["rejected"])
    response = jsonify(result)
    response.status_code = 422 if result["accepted"] == 0 and result["duplicates"] == 0 else 200
    return response


def get_recap(call: Call) -> Response:
    try:
        date_from = date.fromisoformat(request.args.get("from", ""))
        date_to = date.fromisoformat(request.args.get("to", ""))
        if date_to < date_from:
            raise ValueError
    except ValueError:
        return fail(400, "give from and to as local dates YYYY-MM-DD, from <= to")
    try:
        return jsonify(recap(call.runtime.store, date_from, date_to, call.runtime.settings.tz))
    except StoreUnavailable:
        return fail(503, "store unavailable, retry later")


ROUTES = (
    Route("POST", "/api/incidents", post_incidents, KEY, KEY_INGEST, doc={
        "summary": "Submit incidents (one object or a list); upsert by the key's source and the id",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
            INCIDENT_SCHEMA, {"type": "array", "items": INCIDENT_SCHEMA, "maxItems": MAX_RECORDS}]}}}},
        "responses": {"200": answer("accepted (some rows may be rejected, see errors)", RESULT),
                      "400": answer("not JSON, or not an object or a list", ERROR),
                      "413": answer("too large", ERROR),
                      "422": answer("every row rejected", RESULT)}}),
    Route("GET", "/api/recap", get_recap, KEY, KEY_READ, doc={
        "summary": "The recap of a period (local dates of the center, inclusive)",
        "parameters": [
            {"name": "from", "in": "query", "required": True, "schema": {"type": "string", "format": "date"}},
            {"name": "to", "in": "query", "required": True, "schema": {"type": "string", "format": "date"}},
        ],
        "responses": {"200": answer("the recap", {"type": "object"}), "400": answer("bad dates", ERROR)}}),
)
