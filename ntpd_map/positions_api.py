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
from typing import TYPE_CHECKING, Any

from ntpd_map.api import check_key, fail

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
    from ntpd_map.responders import Staleness, responder_features

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


def register_positions_api(server: Flask, runtime: Runtime) -> None:
    from flask import Response, jsonify, request

    from ntpd_map.ingest.positions import (
        BadReport,
        parse_osmand_json,
        parse_osmand_query,
        parse_traccar_forward,
    )
    from ntpd_map.store.base import StoreUnavailable

    retention = Retention(runtime)

    def text(status: int, body: str = "") -> Response:
        response = Response(body, status=status, mimetype="text/plain")
        if status == 503:
            response.headers["Retry-After"] = "30"
        return response

    def store_report(report: Report, source: str) -> Response | None:
        """Write a parsed report; the error answer, or None when stored."""
        now = time.time()
        store = runtime.store
        try:
            if not store.has_unit(report.device_id):
                store.note_unknown_device(report.device_id, source, int(now))
                log.info("refused a %s report from unregistered device %r", source, report.device_id[:40])
                return text(403, f"device {report.device_id!r} is not registered to a unit: an admin adds it "
                                 "with python -m ntpd_map units add --device ID ...")
            store.write_positions(report.fixes)
        except StoreUnavailable:
            log.warning("store unavailable: answered 503 to a %s report", source)
            return text(503, "store unavailable: keep the position and retry later")
        retention.tick(now)
        return None

    @server.route("/api/positions/osmand", methods=["GET", "POST"])
    def osmand() -> Response:
        from urllib.parse import parse_qsl

        tz = runtime.settings.tz
        try:
            if request.mimetype == "application/json":
                try:
                    body = json.loads(request.get_data(cache=False) or b"null")
                except ValueError:
                    return text(400, "the body is not valid JSON")
                report = parse_osmand_json(body, time.time(), tz)
            else:
                params = request.args
                if not params:  # old clients POST the same fields as a form body
                    params = dict(parse_qsl(request.get_data(cache=False, as_text=True)))  # type: ignore[assignment]
                report = parse_osmand_query(params, time.time(), tz)
        except BadReport as exc:
            return text(400, str(exc))
        return store_report(report, "osmand") or text(200)

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
        denied = store_report(report, "traccar")
        if denied is not None:
            return fail(denied.status_code, denied.get_data(as_text=True))
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
