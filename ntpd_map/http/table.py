"""The route table: every Flask route beside the Dash pages, in one place (issue 17). Who may call each and the
OpenAPI document come from here (``http/routes.py``, ``http/openapi.py``); adding an endpoint is one row in the
module of its concern."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dash.exceptions import DependencyException
from flask import jsonify

from ntpd_map.http import analytics, briefing, coverage, incidents, layers, meta, positions, routes, tiles
from ntpd_map.http.routes import Call, Route, fail
from ntpd_map.pages.login import callbacks as login

if TYPE_CHECKING:
    from flask import Flask, Response

ROUTES: tuple[Route, ...] = (
    *meta.ROUTES,  # the health check, the OpenAPI document, a JSON 404 under /api
    *incidents.ROUTES,  # incidents in, the recap out
    *positions.ROUTES,  # responders: OsmAnd phones, Traccar servers, units and tracks
    *coverage.ROUTES,  # signal marks and their audit trail
    *analytics.ROUTES,  # priorities, hexagons, the BTS proposal
    *layers.ROUTES,  # static map layers by URL
    *tiles.ROUTES,  # the basemap, from a local MBTiles file or the cached upstream
    *briefing.ROUTES,  # the briefing's PDF and XLSX
    *login.ROUTES,  # signing in and out
)


def serve(server: Flask, call: Call) -> None:
    """Register every route of the table on ``server``, with the answers the whole surface shares."""
    max_mb = call.runtime.settings.int("NTPD_MAX_UPLOAD_MB")
    server.config["MAX_CONTENT_LENGTH"] = max_mb * 2**20

    @server.errorhandler(413)
    def too_large(_exc: Exception) -> Response:
        return fail(413, f"request larger than {max_mb} MB")

    @server.errorhandler(DependencyException)
    def no_such_script(_error: Exception) -> Any:  # /_dash-component-suites/<unknown>: a 404, not a traceback
        return jsonify({"error": "not found"}), 404

    routes.register(server, ROUTES, call)
