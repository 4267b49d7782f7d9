"""Responder endpoints (issue 6): positions in from phones and Traccar servers, units and positions out.

* ``GET|POST /api/positions/osmand``: the OsmAnd protocol as the Traccar Client app speaks it. Phones cannot
  send a key, so, as on a Traccar server, the device id is the credential: only ids registered to a unit
  (``python -m ntpd_map units add``) are accepted; others are refused (403) and counted for the admin.
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
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar

from ntpd_map.http.incidents import check_key, fail

if TYPE_CHECKING:
    from flask import Flask, Response

    from ntpd_map.ingest.positions import Report
    from ntpd_map.runtime import Runtime

log = logging.getLogger(__name__)

#: How often one process prunes positions past NTPD_POSITION_RETENTION_DAYS (in a background thread).
PRUNE_EVERY_S = 600
TRACK_MINUTES = 30


class Retention:
    """Prunes old positions at most every PRUNE_EVERY_S, off the request thread, one prune at a time."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.next_at = 0.0
        self._lock = threading.Lock()

    def cutoff(self, now: float) -> int:
        return int(now) - self.runtime.settings.int("NTPD_POSITION_RETENTION_DAYS") * 86_400

    def tick(self, now: float) -> None:
        if now < self.next_at or not self._lock.acquire(blocking=False):
            return
        self.next_at = now + PRUNE_EVERY_S
        threading.Thread(target=self._run, args=(now,), name="ntpd-prune", daemon=True).start()

    def _run(self, now: float) -> None:
        from ntpd_map.store.base import StoreUnavailable

        try:
            deleted = self.runtime.store.prune_positions(self.cutoff(now))
            if deleted:
                log.info("pruned %d responder positions older than %d days", deleted,
                         self.runtime.settings.int("NTPD_POSITION_RETENTION_DAYS"))
        except StoreUnavailable as exc:
            log.warning("position pruning postponed: %s", exc)
            self.next_at = 0.0
        finally:
            self._lock.release()


def responders_geojson(runtime: Runtime, now: int) -> dict[str, Any]:
    """Every unit at its latest position as a FeatureCollection; units that never reported are listed apart."""
    from ntpd_map.geo.responders import Staleness, responder_features

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


def accept(runtime: Runtime, retention: Retention, report: Report, source: str) -> tuple[int, str]:
    """Store a parsed report from a registered device: (status, reason); 200 with no reason when stored."""
    from ntpd_map.store.base import StoreUnavailable

    now = time.time()
    try:
        store = runtime.store  # raises StoreUnavailable too when the store was down at start
        if not store.has_unit(report.device_id):
            store.note_unknown_device(report.device_id, source, int(now))
            log.info("refused a %s report from unregistered device %r", source, report.device_id[:40])
            return 403, (f"device {report.device_id!r} is not registered to a unit: an admin adds it with "
                         "python -m ntpd_map units add --device ID ...")
        store.write_positions(report.fixes)
    except StoreUnavailable:
        log.warning("store unavailable: answered 503 to a %s report", source)
        return 503, "store unavailable: keep the position and retry later"
    retention.tick(now)
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

    def __init__(self, app: Any, runtime: Runtime, retention: Retention) -> None:
        self.app = app
        self.runtime = runtime
        self.retention = retention

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != self.PATH:
            return self.app(environ, start_response)
        status, reason = self.handle(environ)
        body = reason.encode()
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
        if status == 503:
            headers.append(("Retry-After", "30"))
        if status == 405:
            headers.append(("Allow", "GET, POST"))
        start_response(self.REASONS[status], headers)
        return [body]

    def handle(self, environ: dict[str, Any]) -> tuple[int, str]:
        from urllib.parse import parse_qsl

        from ntpd_map.ingest.positions import BadReport, parse_osmand_json, parse_osmand_query

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
        return accept(self.runtime, self.retention, report, "osmand")


def register_positions_api(server: Flask, runtime: Runtime) -> None:
    from flask import Response, jsonify, request

    from ntpd_map import audit
    from ntpd_map.ingest.positions import BadReport, parse_traccar_forward
    from ntpd_map.store.base import StoreUnavailable

    retention = Retention(runtime)
    server.wsgi_app = OsmAndEndpoint(server.wsgi_app, runtime, retention)  # type: ignore[method-assign]

    @server.post("/api/positions/traccar")
    def traccar() -> Response:
        _key, denied = check_key(runtime, "ingest")
        if denied:
            return denied
        body = request.get_json(silent=True)
        try:
            report = parse_traccar_forward(body, time.time(), runtime.settings.tz)
        except BadReport as exc:
            return fail(400, str(exc))
        status, reason = accept(runtime, retention, report, "traccar")
        if status != 200:
            return fail(status, reason)
        return jsonify({"stored": len(report.fixes), "ignored": report.ignored})

    @server.get("/api/responders")
    def responders() -> Response:
        _key, denied = check_key(runtime, "read")
        if denied:
            return denied
        try:
            data = responders_geojson(runtime, int(time.time()))
        except StoreUnavailable:
            return fail(503, "store unavailable, retry later")
        return Response(json.dumps(data, separators=(",", ":")), mimetype="application/geo+json")

    @server.get("/api/responders/<device>/track")
    def track(device: str) -> Response:
        _key, denied = check_key(runtime, "read")
        if denied:
            return denied
        try:
            minutes = int(request.args.get("minutes", TRACK_MINUTES))
            if not 1 <= minutes <= 24 * 60:
                raise ValueError
        except ValueError:
            return fail(400, "minutes must be a whole number from 1 to 1440")
        now = int(time.time())
        try:
            if not runtime.store.has_unit(device):
                return fail(404, "no unit has this device id")
            fixes = runtime.store.track(device, now - 60 * minutes)
        except StoreUnavailable:
            return fail(503, "store unavailable, retry later")
        line = [[float(x), float(y)] for x, y in zip(fixes["lon"], fixes["lat"], strict=True)]
        return jsonify({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": line},
            "properties": {"device": device, "minutes": minutes,
                           "times": [int(t) for t in fixes["recorded_at"]]},
        })

    @server.post("/api/units/<device>/status")
    def unit_status(device: str) -> Response:
        key, denied = check_key(runtime, "ingest")
        if denied or key is None:
            return denied or fail(401, "no key")
        body = request.get_json(silent=True)
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(status, str):
            return fail(400, 'send {"status": "available|dispatched|on_scene|returning|off_duty"}')
        try:
            found = runtime.store.set_unit_status(device, status)
        except ValueError as exc:
            return fail(400, str(exc))
        except StoreUnavailable:
            return fail(503, "store unavailable: the status was not changed, retry later")
        if not found:
            return fail(404, "no unit has this device id")
        log.info("unit %s status set to %s by key %s", device[:40], status, key["name"])
        audit.record(runtime.store, f"api:{key['name']}", "unit.status", device, status=status)
        return jsonify({"device": device, "status": status})

    @server.get("/api/responders/unknown")
    def unknown() -> Response:
        _key, denied = check_key(runtime, "admin")
        if denied:
            return denied
        try:
            rows = runtime.store.unknown_devices()
        except StoreUnavailable:
            return fail(503, "store unavailable, retry later")
        return jsonify({"devices": json.loads(rows.to_json(orient="records"))})
