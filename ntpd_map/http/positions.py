"""Responder endpoints (issue 6): positions in from phones and Traccar servers, units and positions out.

* ``GET|POST /api/positions/osmand``: the OsmAnd protocol as the Traccar Client app speaks it. Phones cannot
  send a key, so, as on a Traccar server, the device id is the credential: only ids registered to a unit
  (``.venv/bin/python -m ntpd_map units add``) are accepted; others are refused (403) and counted for the admin.
* ``POST /api/positions/traccar``: what a Traccar server forwards (``forward.type=json``), with an ingest key
  (``forward.header = Authorization: Bearer KEY``).
* ``GET /api/responders``, ``GET /api/responders/<device>/track``, ``POST /api/units/<device>/status``,
  ``GET /api/responders/unknown``: read, ingest and admin keys respectively.

Answers follow what Traccar clients expect: 200 and an empty body when stored (a repeated report is stored once
and still answered 200, so the phone drops it from its queue), 400 with the reason for a bad report, 503 with
Retry-After when the store is down (the phone keeps the fix and retries).
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl

from flask import Response, jsonify, request

from ntpd_map import audit
from ntpd_map.access.roles import KEY_ADMIN, KEY_INGEST, KEY_READ
from ntpd_map.geo.responders import Staleness, responder_features
from ntpd_map.http.openapi import ERROR, PLAIN, answer
from ntpd_map.http.routes import DEVICE, KEY, RETRY_AFTER_S, Call, Route, fail
from ntpd_map.ingest.positions import BadReport, parse_osmand_json, parse_osmand_query, parse_traccar_forward
from ntpd_map.store.model import StoreUnavailable

if TYPE_CHECKING:
    from ntpd_map.ingest.positions import Report
    from ntpd_map.runtime import Runtime

log = logging.getLogger(__name__)

TRACK_MINUTES = 30


def responders_geojson(runtime: Runtime, now: int) -> dict[str, Any]:
    """Every unit at its latest position as a FeatureCollection; units that never reported are listed apart."""
    store = runtime.store
    units = store.units()
    features = responder_features(store.latest_positions(), units, now, Staleness.from_settings(runtime.settings))
    placed = {f["properties"]["device"] for f in features}
    return {
        "type": "FeatureCollection",
        "generated_at": now,
        "simulated": bool(units["simulated"].any()) if len(units) else False,
        "units_without_position": sorted(set(units["device_id"]) - placed),
        "features": features,
    }


def accept(runtime: Runtime, report: Report, source: str) -> tuple[int, str]:
    """Store a parsed report from a registered device: (status, reason); 200 with no reason when stored."""
    now = time.time()
    try:
        store = runtime.store  # raises StoreUnavailable too when the store was down at start
        if not store.has_unit(report.device_id):
            store.note_unknown_device(report.device_id, source, int(now))
            log.info("refused a %s report from unregistered device %r", source, report.device_id[:40])
            return 403, (f"device {report.device_id!r} is not registered to a unit: an admin adds it with "
                         ".venv/bin/python -m ntpd_map units add --device ID ...")
        store.write_positions(report.fixes)
    except StoreUnavailable:
        log.warning("store unavailable: answered 503 to a %s report", source)
        return 503, "store unavailable: keep the position and retry later"
    runtime.retention.tick(now)
    return 200, ""


class OsmAndEndpoint:
    """``/api/positions/osmand`` as WSGI middleware in front of Flask and Dash.

    Phones report every few seconds, so this path is the hot one (bench/README.md): it parses the query string
    or body itself and answers in plain text without Flask's routing, request objects and Dash's hooks, which
    cost more than parsing and storing the fix. Everything else goes on to the wrapped app.
    """

    PATH = "/api/positions/osmand"
    MAX_BODY = 1 << 20
    REASONS: ClassVar[dict[int, str]] = {
        200: "200 OK", 400: "400 Bad Request", 403: "403 Forbidden", 405: "405 Method Not Allowed",
        413: "413 Content Too Large", 503: "503 Service Unavailable"}

    def __init__(self, app: Any, call: Call) -> None:
        self.app = app
        self.runtime = call.runtime

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != self.PATH:
            return self.app(environ, start_response)
        status, reason = self.handle(environ)
        body = reason.encode()
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
        if status == 503:
            headers.append(("Retry-After", str(RETRY_AFTER_S)))
        if status == 405:
            headers.append(("Allow", "GET, POST"))
        start_response(self.REASONS[status], headers)
        return [body]

    def handle(self, environ: dict[str, Any]) -> tuple[int, str]:
        if environ.get("REQUEST_METHOD") not in ("GET", "POST"):
            return 405, "use GET or POST"
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return 400, "bad Content-Length"
        if length > self.MAX_BODY:
            return 413, f"a position report is at most {self.MAX_BODY // 1024} KB"
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        tz = self.runtime.settings.tz
        try:
            if environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower() == "application/json":
                try:
                    data = json.loads(body or b"null")
                except ValueError:
                    return 400, "the body is not valid JSON"
                report = parse_osmand_json(data, time.time(), tz)
            else:
                # the query string, or (old clients) the same fields as a form body
                query = environ.get("QUERY_STRING", "") or body.decode("latin-1")
                report = parse_osmand_query(dict(parse_qsl(query)), time.time(), tz)
        except BadReport as exc:
            return 400, str(exc)
        return accept(self.runtime, report, "osmand")


def traccar(call: Call) -> Response:
    body = request.get_json(silent=True)
    try:
        report = parse_traccar_forward(body, time.time(), call.runtime.settings.tz)
    except BadReport as exc:
        return fail(400, str(exc))
    status, reason = accept(call.runtime, report, "traccar")
    if status != 200:
        return fail(status, reason)
    return jsonify({"stored": len(report.fixes), "ignored": report.ignored})


def responders(call: Call) -> Response:
    try:
        data = responders_geojson(call.runtime, int(time.time()))
    except StoreUnavailable:
        return fail(503, "store unavailable, retry later")
    return Response(json.dumps(data, separators=(",", ":")), mimetype="application/geo+json")


def track(call: Call, device: str) -> Response:
    try:
        minutes = int(request.args.get("minutes", TRACK_MINUTES))
        if not 1 <= minutes <= 24 * 60:
            raise ValueError
    except ValueError:
        return fail(400, "minutes must be a whole number from 1 to 1440")
    now = int(time.time())
    store = call.runtime.store
    try:
        if not store.has_unit(device):
            return fail(404, "no unit has this device id")
        fixes = store.track(device, now - 60 * minutes)
    except StoreUnavailable:
        return fail(503, "store unavailable, retry later")
    line = [[float(x), float(y)] for x, y in zip(fixes["lon"], fixes["lat"], strict=True)]
    return jsonify({
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": line},
        "properties": {"device": device, "minutes": minutes, "times": [int(t) for t in fixes["recorded_at"]]},
    })


def unit_status(call: Call, device: str) -> Response:
    assert call.key is not None
    body = request.get_json(silent=True)
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, str):
        return fail(400, 'send {"status": "available|dispatched|on_scene|returning|off_duty"}')
    store = call.runtime.store
    try:
        found = store.set_unit_status(device, status)
    except ValueError as exc:
        return fail(400, str(exc))
    except StoreUnavailable:
        return fail(503, "store unavailable: the status was not changed, retry later")
    if not found:
        return fail(404, "no unit has this device id")
    log.info("unit %s status set to %s by key %s", device[:40], status, call.key["name"])
    audit.record(store, call.actor, "unit.status", device, status=status)
    return jsonify({"device": device, "status": status})


def unknown(call: Call) -> Response:
    try:
        rows = call.runtime.store.unknown_devices()
    except StoreUnavailable:
        return fail(503, "store unavailable, retry later")
    return jsonify({"devices": json.loads(rows.to_json(orient="records"))})


OSMAND_FIELDS = [
    {"name": n, "in": "query", "schema": {"type": "string"}, "description": d} for n, d in (
        ("id", "device id registered to a unit"), ("timestamp", "Unix s or ms, or ISO 8601 (no offset: local)"),
        ("lat", "latitude"), ("lon", "longitude"), ("speed", "knots"), ("bearing", "degrees"),
        ("altitude", "m"), ("accuracy", "m"), ("batt", "battery %"), ("charge", "true when charging"))
]


def osmand_operation(method: str) -> dict[str, Any]:
    return {
        "summary": "A position as the Traccar Client app sends it (OsmAnd protocol; the device id is the "
                   "credential, no key)",
        "parameters": OSMAND_FIELDS,
        **({"requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"device_id": {"type": "string"}, "location": {"type": "object"}}}}}}}
           if method == "POST" else {}),
        "responses": {"200": {"description": "stored (or already stored)", **PLAIN},
                      "400": {"description": "bad coordinates or time: the reason", **PLAIN},
                      "403": {"description": "device not registered to a unit (counted)", **PLAIN},
                      "503": {"description": "store unavailable, retry later", **PLAIN}},
    }


DEVICE_PATH = {"name": "device", "in": "path", "required": True, "schema": {"type": "string"}}
ROUTES = (
    *(Route(method, OsmAndEndpoint.PATH, None, DEVICE, doc=osmand_operation(method), wsgi=OsmAndEndpoint)
      for method in ("GET", "POST")),
    Route("POST", "/api/positions/traccar", traccar, KEY, KEY_INGEST, doc={
        "summary": "A position as a Traccar server forwards it (forward.type=json; ingest key)",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["position", "device"],
            "properties": {"position": {"type": "object"}, "device": {"type": "object"}}}}}},
        "responses": {"200": answer("stored, or ignored when Traccar marks it without a fix", {"type": "object"}),
                      "400": answer("bad coordinates or time", ERROR),
                      "403": answer("device not registered to a unit, or the key's role", ERROR)}}),
    Route("GET", "/api/responders", responders, KEY, KEY_READ, doc={
        "summary": "Every unit at its latest position: a GeoJSON FeatureCollection",
        "responses": {"200": {"description": "properties device, unit, agency, kind, status, age_s, stale, offline, "
                                             "source, ...", "content": {"application/geo+json": {"schema": {
                                                 "type": "object", "required": ["type", "features"]}}}}}}),
    Route("GET", "/api/responders/<device>/track", track, KEY, KEY_READ, doc={
        "summary": "A unit's track over the last minutes (LineString, oldest first)",
        "parameters": [DEVICE_PATH, {"name": "minutes", "in": "query",
                                     "schema": {"type": "integer", "minimum": 1, "maximum": 1440}}],
        "responses": {"200": answer("a GeoJSON Feature", {"type": "object"}), "400": answer("bad minutes", ERROR),
                      "404": answer("no such unit", ERROR)}}),
    Route("POST", "/api/units/<device>/status", unit_status, KEY, KEY_INGEST, doc={
        "summary": "Set a unit's status (ingest key)",
        "parameters": [DEVICE_PATH],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["status"], "properties": {"status": {
                "type": "string", "enum": ["available", "dispatched", "on_scene", "returning", "off_duty"]}}}}}},
        "responses": {"200": answer("changed", {"type": "object"}), "400": answer("bad status", ERROR),
                      "404": answer("no such unit", ERROR)}}),
    Route("GET", "/api/responders/unknown", unknown, KEY, KEY_ADMIN, doc={
        "summary": "Devices that reported without being registered, with counts (admin key)",
        "responses": {"200": answer("devices", {"type": "object"})}}),
)
