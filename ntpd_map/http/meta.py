"""The service itself: the health check, the OpenAPI document, and a JSON 404 for an unknown /api path."""

from __future__ import annotations

from flask import Response, jsonify

from ntpd_map.http.openapi import ERROR, answer, openapi_document
from ntpd_map.http.routes import PUBLIC, Call, Route
from ntpd_map.store.model import StoreUnavailable


def health(call: Call) -> Response | tuple[Response, int]:
    runtime = call.runtime
    try:
        runtime.store.ping()
        version = runtime.store.data_version()
    except StoreUnavailable as exc:
        return jsonify({"status": "store_unavailable", "detail": str(exc)}), 503
    return jsonify({"status": "ok", "backend": runtime.store.backend, "data_version": version,
                    "region": runtime.region.code, "simulated": runtime.is_simulated()})


def openapi(call: Call) -> Response:
    return jsonify(openapi_document(call.routes))


def no_such_endpoint(_call: Call, _rest: str) -> tuple[Response, int]:
    """Never Dash's page shell under /api/."""
    return jsonify({"error": "no such API endpoint (see /api/openapi.json)"}), 404


HEALTH = {"type": "object", "required": ["status"], "properties": {
    "status": {"type": "string", "enum": ["ok", "store_unavailable"]}, "backend": {"type": "string"},
    "data_version": {"type": "integer"}, "region": {"type": "string"}, "simulated": {"type": "boolean"},
    "detail": {"type": "string"}}}

ROUTES = (
    Route("GET", "/api/health", health, PUBLIC, doc={
        "summary": "Whether the store answers: backend, data version, region, simulated data or not (no key)",
        "responses": {"200": answer("the store answers", HEALTH), "503": answer("the store is down", HEALTH)}}),
    Route("GET", "/api/openapi.json", openapi, PUBLIC, doc={
        "summary": "This document (no key)", "responses": {"200": answer("the OpenAPI document", {"type": "object"})}}),
    *(Route(method, "/api/<path:_rest>", no_such_endpoint, PUBLIC, name=f"no_such_endpoint_{method.lower()}",
            doc={"responses": {"404": answer("no such endpoint", ERROR)}})
      for method in ("GET", "POST", "PUT", "PATCH", "DELETE")),
)
